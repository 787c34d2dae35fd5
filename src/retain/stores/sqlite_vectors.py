"""The in-process vector cache of :class:`~retain.stores.SQLiteStore`.

Vectors live in the database as float32 BLOBs; searching them by re-reading and decoding
every BLOB per query costs far more than the arithmetic. The cache keeps them in memory as
one growable float32 matrix per namespace (rows L2-normalised, so a dot product is the
cosine), and answers exact top-k queries with numpy. The store keeps it in step with its
own writes; when another connection has committed (``PRAGMA data_version``) it re-reads the
items that connection changed, from the ``retain_vector_log`` table (migration 7).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from retain.stores.base import ns_text, ns_tuple

__all__ = ["VectorCache"]

Vector = npt.NDArray[np.float32]


class _Block:
    """The vectors of one namespace: rows ``[:n]`` of ``matrix``, their item ids in ``ids``."""

    __slots__ = ("ids", "matrix", "n", "rows")

    def __init__(self, dims: int, capacity: int = 16) -> None:
        self.matrix: Vector = np.empty((capacity, dims), dtype=np.float32)
        self.ids: npt.NDArray[np.int64] = np.empty(capacity, dtype=np.int64)
        self.n = 0
        self.rows: dict[int, list[int]] = {}  # item id -> its row numbers

    def add(self, item_id: int, vectors: Sequence[Vector]) -> None:
        need = self.n + len(vectors)
        if need > len(self.ids):
            capacity = max(need, 2 * len(self.ids))
            matrix = np.empty((capacity, self.matrix.shape[1]), dtype=np.float32)
            matrix[: self.n] = self.matrix[: self.n]
            ids = np.empty(capacity, dtype=np.int64)
            ids[: self.n] = self.ids[: self.n]
            self.matrix, self.ids = matrix, ids
        rows = self.rows.setdefault(item_id, [])
        for vec in vectors:
            self.matrix[self.n] = vec
            self.ids[self.n] = item_id
            rows.append(self.n)
            self.n += 1

    def remove(self, item_id: int) -> None:
        # Highest rows first: the last row is then never one of this item's own.
        for row in sorted(self.rows.pop(item_id, ()), reverse=True):
            last = self.n - 1
            if row != last:
                moved = int(self.ids[last])
                self.matrix[row] = self.matrix[last]
                self.ids[row] = moved
                moved_rows = self.rows[moved]
                moved_rows[moved_rows.index(last)] = row
            self.n -= 1


class VectorCache:
    """Exact vector search over namespaces, in memory.

    Example:
        >>> import numpy as np
        >>> cache = VectorCache(2)
        >>> cache.put("users.u1", 1, [np.array([1.0, 0.0], dtype=np.float32)])
        >>> cache.put("users.u2", 2, [np.array([0.0, 1.0], dtype=np.float32)])
        >>> cache.search(("users",), np.array([0.6, 0.8], dtype=np.float32), 2)
        [(2, 0.8...), (1, 0.6...)]
        >>> cache.search(("users", "u1"), np.array([0.6, 0.8], dtype=np.float32), 2)
        [(1, 0.6...)]
    """

    def __init__(self, dims: int) -> None:
        self.dims = dims
        self._blocks: dict[str, _Block] = {}
        self._order: list[tuple[str, ...]] = []  # block namespaces, sorted: subtrees contiguous
        self._where: dict[int, str] = {}  # item id -> its namespace
        # All blocks in namespace order, one matrix: a search across many namespaces is
        # then one matrix-vector product over a contiguous slice. Built after a few such
        # searches in a row, dropped by any change.
        self._merged: tuple[Vector, npt.NDArray[np.int64], dict[str, int]] | None = None
        self._wide_searches = 0

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._where

    def load(self, rows: Iterable[tuple[int, str, bytes]]) -> None:
        """Replace the contents with ``(item id, namespace, float32 blob)`` rows."""
        grouped: dict[str, tuple[list[int], list[bytes]]] = {}
        for item_id, prefix, blob in rows:
            ids, blobs = grouped.setdefault(prefix, ([], []))
            ids.append(item_id)
            blobs.append(blob)
        self._blocks = {}
        self._where = {}
        for prefix, (ids, blobs) in grouped.items():
            block = _Block(self.dims, capacity=max(16, len(ids) + len(ids) // 4))
            matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), -1)
            block.matrix[: len(ids)] = matrix
            block.ids[: len(ids)] = ids
            block.n = len(ids)
            for row, item_id in enumerate(ids):
                block.rows.setdefault(item_id, []).append(row)
                self._where[item_id] = prefix
            self._blocks[prefix] = block
        self._order = sorted(ns_tuple(p) for p in self._blocks)
        self._changed()

    def _changed(self) -> None:
        self._merged = None
        self._wide_searches = 0

    def put(self, prefix: str, item_id: int, vectors: Sequence[Vector]) -> None:
        """Set the vectors of one item (none: the item has no vectors)."""
        self.remove(item_id)
        self._changed()
        if not vectors:
            return
        block = self._blocks.get(prefix)
        if block is None:
            block = self._blocks[prefix] = _Block(self.dims)
            bisect.insort(self._order, ns_tuple(prefix))
        block.add(item_id, vectors)
        self._where[item_id] = prefix

    def remove(self, item_id: int) -> None:
        """Forget one item's vectors (nothing happens if it has none)."""
        prefix = self._where.pop(item_id, None)
        if prefix is not None:
            self._blocks[prefix].remove(item_id)
            self._changed()

    def drop_under(self, prefix: tuple[str, ...]) -> None:
        """Forget every namespace equal to or under ``prefix``."""
        for ns in self._namespaces_under(prefix):
            block = self._blocks.pop(ns_text(ns))
            for item_id in block.rows:
                self._where.pop(item_id, None)
        self._order = sorted(ns_tuple(p) for p in self._blocks)
        self._changed()

    def _namespaces_under(self, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        start = bisect.bisect_left(self._order, prefix)
        out = []
        for ns in self._order[start:]:
            if ns[: len(prefix)] != prefix:
                break
            out.append(ns)
        return out

    def search(
        self,
        prefix: tuple[str, ...],
        query: Vector,
        k: int,
        *,
        allowed: set[int] | None = None,
        excluded: set[int] | None = None,
    ) -> list[tuple[int, float]]:
        """The ``k`` items under ``prefix`` most similar to ``query`` (normalised), as
        ``(item id, cosine)`` best first; an item with several vectors counts once, with
        its best score. Ties go to the lower item id."""
        names = [ns_text(ns) for ns in self._namespaces_under(prefix)]
        blocks = [self._blocks[name] for name in names]
        if not any(b.n for b in blocks) or k < 1:
            return []
        if len(blocks) == 1:
            scores = blocks[0].matrix[: blocks[0].n] @ query
            ids = blocks[0].ids[: blocks[0].n]
        else:
            self._wide_searches += 1
            if self._merged is None and self._wide_searches >= 3:
                self._merge()
            if self._merged is not None:
                matrix, all_ids, starts = self._merged
                lo, hi = starts[names[0]], starts[names[-1]] + blocks[-1].n
                scores, ids = matrix[lo:hi] @ query, all_ids[lo:hi]
            else:
                scores = np.concatenate([b.matrix[: b.n] @ query for b in blocks])
                ids = np.concatenate([b.ids[: b.n] for b in blocks])
        if allowed is not None or excluded:
            keep = np.ones(len(ids), dtype=bool)
            if allowed is not None:
                keep &= np.isin(ids, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
            if excluded:
                keep &= ~np.isin(ids, np.fromiter(excluded, dtype=np.int64, count=len(excluded)))
            scores, ids = scores[keep], ids[keep]
        return _top_unique(scores, ids, k)

    def _merge(self) -> None:
        names = [ns_text(ns) for ns in self._order]
        starts, offset = {}, 0
        for name in names:
            starts[name] = offset
            offset += self._blocks[name].n
        matrix = np.concatenate([self._blocks[n].matrix[: self._blocks[n].n] for n in names])
        ids = np.concatenate([self._blocks[n].ids[: self._blocks[n].n] for n in names])
        self._merged = (matrix, ids, starts)


def _top_unique(
    scores: npt.NDArray[np.float32], ids: npt.NDArray[np.int64], k: int
) -> list[tuple[int, float]]:
    n = len(scores)
    want = k
    while True:
        take = min(n, want)
        idx = np.argpartition(-scores, take - 1)[:take] if take < n else np.arange(n)
        idx = idx[np.lexsort((ids[idx], -scores[idx]))]
        best: dict[int, float] = {}
        for j in idx:
            item_id = int(ids[j])
            if item_id not in best:
                best[item_id] = float(scores[j])
                if len(best) == k:
                    return list(best.items())
        if take == n:
            return list(best.items())
        want *= 2
