"""How retain ranks recalled memories: one pure algorithm that every store drives.

A store answers a few questions (:func:`recall_flow` asks them: the nearest vectors, the
best keyword matches, keyword counts in the namespace, rows by id, neighbours in the
namespace); this module turns the answers into one ranking. Nothing here does I/O, so the
SQLite and PostgreSQL stores rank identically and the ranking is tested without a database.

The score of a recalled memory (``SearchItem.score``) is built from:

* **Score fusion**: the cosine similarity, min-max normalised over the candidates, and
  BM25 keyword relevance over Porter stems (stopwords dropped; term weights from the
  memories of the namespace asked about, never from another tenant's), divided by its
  best value; mixed with :attr:`Ranking.vector_weight`. Unlike reciprocal-rank fusion, a
  memory that matches strongly on one side keeps its lead.
* **Neighbours**: memories written next to each other in one namespace (turns of one
  conversation, facts from one exchange) explain each other; each memory gains
  :attr:`Ranking.neighbour_weight` times the relevance of the best match among the
  :attr:`Ranking.neighbour_window` memories written before and after it.
* **Names and dates**: memories that mention a name the question uses gain
  :attr:`Ranking.name_weight`; a date named in the question ("in May 2023", "on 7 May")
  favours memories from that time (:attr:`Ranking.date_weight`; dates read from the text
  and from ``valid_from``/``said_at``/``date``/``at`` fields).
* **Questions**: a memory that ends in a question ("What's her name?") shares the words
  of a question without answering it; its relevance is lowered by
  :attr:`Ranking.question_penalty` (its neighbours, often the answer, still gain from it).
* **Recency and importance**, only when asked: ``recency_weight`` (or
  :attr:`Ranking.latest_weight` when the question asks for the latest: "now",
  "currently") mixes in ``0.5 ** (age / half_life)``; ``importance_weight`` a numeric
  field of the value.

Scores are comparable within one query only; higher is better.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Generator, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from retain.core.temporal import holds
from retain.errors import InvalidInputError

__all__ = [
    "CANDIDATES",
    "MAX_QUERY_TERMS",
    "STOPWORDS",
    "Candidate",
    "FindKeyword",
    "FindNeighbours",
    "FindVector",
    "KeywordStats",
    "Load",
    "Query",
    "Ranking",
    "Scored",
    "analyse_query",
    "answered",
    "bm25",
    "drive",
    "rank",
    "read_doc",
    "recall_flow",
    "stems",
]

# Words too common to rank by: a query made of a whole conversation would otherwise match
# (and score) nearly every memory. PostgreSQL's "english" configuration drops the same.
_STOPWORD_TEXT = (
    "a about above after again against all am an and any are as at be because been before "
    "being below between both but by can could did do does doing down during each few for "
    "from further had has have having he her here hers herself him himself his how i if in "
    "into is it its itself just me more most my myself no nor not now of off on once only or "
    "other our ours ourselves out over own same she should so some such than that the their "
    "theirs them themselves then there these they this those through to too under until up "
    "very was we were what when where which while who whom why will with would you your "
    "yours yourself yourselves s t d ll m re ve"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
MAX_QUERY_TERMS = 24
"""At most this many keyword terms per query (the longest, usually the rarest)."""

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
# "7 May 2023", "7 May, 2023", "May 7, 2023", "May 2023", "2023-05-07" (or "2023-05-07T09:00")
_DATE_PATTERNS = [
    re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_RE})\.?,?\s+(\d{{4}})\b", re.I),
    re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I),
    re.compile(rf"\b({_MONTH_RE})\.?,?\s+(?:of\s+)?(\d{{4}})\b", re.I),
    re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:\b|(?=T\d))"),  # also an ISO time's date
]
_YEAR_RE = re.compile(r"\b(19\d\d|20\d\d)\b")
_LATEST_RE = re.compile(
    r"\b(latest|currently|current|now|most recent|most recently|these days|nowadays|"
    r"still|anymore)\b",
    re.I,
)
_WORD_RE = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Query:
    """What ranking needs to know about a question (see :func:`analyse_query`)."""

    text: str
    terms: tuple[str, ...]
    """Keyword terms for the store's keyword index: distinct, lower-cased, no stopwords."""
    dates: tuple[tuple[int, int | None, int | None], ...] = ()
    """``(year, month, day)`` the question names (month/day ``None`` when not given)."""
    wants_latest: bool = False
    """The question asks for the current or latest state ("now", "latest", ...)."""
    names: tuple[str, ...] = ()
    """Names the question mentions (capitalised words after the first), lower-cased."""


def analyse_query(text: str) -> Query:
    """Keyword terms, named dates and intent of a question.

    Example:
        >>> q = analyse_query("What did Caroline do in May 2023?")
        >>> q.terms, q.dates
        (('caroline', '2023'), ((2023, 5, None),))
        >>> analyse_query("Where does she live now?").wants_latest
        True
    """
    words = [w.lower() for w in _WORD_RE.findall(text)]
    distinct = list(dict.fromkeys(w for w in words if w))
    terms = [w for w in distinct if w not in STOPWORDS and w not in _MONTHS] or [
        w for w in distinct if w not in STOPWORDS
    ]
    if not terms:
        terms = distinct
    if len(terms) > MAX_QUERY_TERMS:
        keep = set(sorted(terms, key=len, reverse=True)[:MAX_QUERY_TERMS])
        terms = [t for t in terms if t in keep]
    raw = _WORD_RE.findall(text)
    names = tuple(
        dict.fromkeys(
            w.lower()
            for w in raw[1:]
            if w[:1].isupper() and w.lower() not in STOPWORDS and w.lower() not in _MONTHS
        )
    )
    return Query(
        text=text,
        terms=tuple(terms),
        names=names,
        dates=tuple(dict.fromkeys(_dates_in(text))),
        wants_latest=bool(_LATEST_RE.search(text)),
    )


def _dates_in(text: str) -> Iterable[tuple[int, int | None, int | None]]:
    """Dates written in ``text`` as ``(year, month or None, day or None)``; the most
    precise reading of each span wins ("7 May 2023" is not also "May 2023")."""
    taken: list[tuple[int, int]] = []
    for n, pattern in enumerate(_DATE_PATTERNS):
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append(m.span())
            a, b, *rest = m.groups()
            if n == 3:
                yield int(a), int(b), int(rest[0])
            elif n == 2:
                yield int(b), _MONTHS[a.lower().rstrip(".")], None
            elif n == 1:
                yield int(rest[0]), _MONTHS[a.lower().rstrip(".")], int(b)
            else:
                yield int(rest[0]), _MONTHS[b.lower().rstrip(".")], int(a)
    if not taken:
        for m in _YEAR_RE.finditer(text):
            yield int(m.group(1)), None, None


@dataclass(frozen=True)
class Candidate:
    """One memory a store found for a query, with what it knows about it."""

    id: int
    """The store's row id (only compared for equality)."""
    text: str
    """The memory's indexed text (dates are read from it)."""
    updated_at: float
    """When the memory was last written (seconds since the epoch)."""
    vector: float | None = None
    """Cosine similarity to the question, when the memory was among the nearest."""
    keyword: float | None = None
    """Keyword relevance (larger is better), when the memory matched the keywords."""
    neighbours: tuple[tuple[int, int], ...] = ()
    """``(id, distance)`` of the memories written just before and after it in its
    namespace (distance 1 is the adjacent one)."""
    value: Mapping[str, Any] = field(default_factory=dict)
    words: frozenset[str] = frozenset()
    """The text's lower-cased words, when the store already split it (else read here)."""


@dataclass(frozen=True)
class Scored:
    """A ranked memory: its final score and the parts it was built from."""

    id: int
    score: float
    vector: float
    """Normalised vector part (0-1)."""
    keyword: float
    """Normalised keyword part (0-1)."""
    context: float = 0.0
    """What the memory's context added to its relevance: strong neighbours, names and dates
    the question names (0 when none did)."""


@dataclass(frozen=True)
class Ranking:
    """The ranking's settings; the defaults were tuned on the development split of the
    LoCoMo recall task (benchmarks/recall_quality.py, benchmarks/RESULTS.md)."""

    vector_weight: float = 0.35
    neighbour_weight: float = 0.5
    neighbour_window: int = 2
    date_weight: float = 0.15
    name_weight: float = 0.1
    question_penalty: float = 0.2
    latest_weight: float = 0.0
    recency_weight: float = 0.0
    recency_half_life_s: float = 30 * 86400.0
    importance_weight: float = 0.0
    importance_field: str = "importance"

    def __post_init__(self) -> None:
        for name in (
            "vector_weight",
            "neighbour_weight",
            "date_weight",
            "name_weight",
            "question_penalty",
            "latest_weight",
            "recency_weight",
            "importance_weight",
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise InvalidInputError(f"{name} must be a finite number >= 0; got {value!r}.")
        if not isinstance(self.neighbour_window, int) or self.neighbour_window < 0:
            raise InvalidInputError(
                f"neighbour_window must be an integer >= 0; got {self.neighbour_window!r}."
            )
        for name in ("vector_weight", "question_penalty"):
            if getattr(self, name) > 1:
                raise InvalidInputError(f"{name} must be in [0, 1]; got {getattr(self, name)}.")
        if self.recency_weight + self.importance_weight > 1:
            raise InvalidInputError(
                "recency_weight and importance_weight must be >= 0 and sum to at most 1; got "
                f"{self.recency_weight} and {self.importance_weight}."
            )
        if not (self.recency_half_life_s > 0 and math.isfinite(self.recency_half_life_s)):
            raise InvalidInputError("recency_half_life must be a positive duration.")


def _minmax(values: Mapping[int, float]) -> dict[int, float]:
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    if hi - lo < 1e-9:
        return dict.fromkeys(values, 1.0)
    return {i: (v - lo) / (hi - lo) for i, v in values.items()}


_KEPT_TEXT = 2_000  # characters: longer texts' dates are read again each time


@functools.lru_cache(maxsize=16_384)  # at most 16,384 texts of <= 2,000 characters: 32 MB
def _text_dates(text: str) -> tuple[tuple[int, int | None, int | None], ...]:
    """:func:`_dates_in` of a memory's text, kept: a namespace's memories are read by every
    dated question, and the patterns cost more than the rest of their scoring."""
    return tuple(_dates_in(text))


def _memory_dates(text: str, value: Mapping[str, Any]) -> list[tuple[int, int | None, int | None]]:
    dates = list(_text_dates(text) if len(text) <= _KEPT_TEXT else _dates_in(text))
    for name in ("valid_from", "said_at", "date", "at"):
        raw = value.get(name)
        if isinstance(raw, str):
            dates += list(_dates_in(raw))
    return dates


def _date_match(
    query: Sequence[tuple[int, int | None, int | None]], text: str, value: Mapping[str, Any]
) -> float:
    """1 for a memory from the day the question names, 0.5 for its month or year, else 0."""
    best = 0.0
    for year, month, day in _memory_dates(text, value):
        for qy, qm, qd in query:
            if qy != year:
                continue
            if qm is None or (qm == month and (qd is None or qd == day)):
                best = max(best, 1.0 if qd is not None or qm is None else 0.75)
            elif qm == month:
                best = max(best, 0.5)
    return best


def _fuse(
    ids: Iterable[int], vector: Mapping[int, float], keyword: Mapping[int, float], weight: float
) -> tuple[dict[int, float], dict[int, float], dict[int, float]]:
    """``(fused, normalised vector, normalised keyword)`` scores of ``ids``."""
    vec = _minmax(vector)
    top_kw = max((max(v, 0.0) for v in keyword.values()), default=0.0)
    kw = {i: max(v, 0.0) / top_kw for i, v in keyword.items()} if top_kw > 0 else {}
    w = weight if vec else 0.0
    if not kw:
        w = 1.0 if vec else 0.0
    base = {i: w * vec.get(i, 0.0) + (1 - w) * kw.get(i, 0.0) for i in ids}
    return base, vec, kw


_Row = tuple[str, float, Mapping[str, Any]]  # (text, updated_at, value)


def rank(
    query: Query,
    candidates: Sequence[Candidate],
    settings: Ranking = Ranking(),
    *,
    now: float | None = None,
) -> list[Scored]:
    """Rank ``candidates`` for ``query``, best first (ties: lower id first).

    Example:
        >>> q = analyse_query("Which drink does the user like?")
        >>> found = [
        ...     Candidate(1, "User likes tea", 0.0, vector=0.61, keyword=2.0),
        ...     Candidate(2, "User likes cats", 0.0, vector=0.40),
        ... ]
        >>> [s.id for s in rank(q, found)]
        [1, 2]
    """
    by_id = {c.id: c for c in candidates}
    return _scored(
        query,
        {i: (c.text, c.updated_at, c.value) for i, c in by_id.items()},
        {i: c.vector for i, c in by_id.items() if c.vector is not None},
        {i: c.keyword for i, c in by_id.items() if c.keyword is not None},
        {i: c.neighbours for i, c in by_id.items() if c.neighbours},
        {i: c.words for i, c in by_id.items() if c.words},
        settings,
        now,
    )


def _scored(
    query: Query,
    rows: Mapping[int, _Row],
    vector: Mapping[int, float],
    keyword: Mapping[int, float],
    neighbours: Mapping[int, tuple[tuple[int, int], ...]],
    words: Mapping[int, frozenset[str]],
    settings: Ranking,
    now: float | None,
    top: int | None = None,
) -> list[Scored]:
    """:func:`rank` over rows (the one implementation): the ``top`` best, or all. Scores
    of ids not in ``rows`` are ignored; ``neighbours`` of a memory never include itself;
    ``words``: its split words, where known (else read from its text)."""
    if not rows:
        return []
    vector = {i: v for i, v in vector.items() if i in rows}
    keyword = {i: v for i, v in keyword.items() if i in rows}
    base, vec, kw = _fuse(rows, vector, keyword, settings.vector_weight)
    near_w = settings.neighbour_weight
    names = query.names if settings.name_weight else ()
    dates = query.dates if settings.date_weight else ()
    recency = settings.recency_weight
    if query.wants_latest:
        recency = max(recency, settings.latest_weight)
    importance = settings.importance_weight
    asks = 1 - settings.question_penalty
    keep = 1 - recency - importance
    stamp = datetime.now(timezone.utc).timestamp() if now is None else now
    order: list[tuple[float, int, float]] = []
    for i, (text, updated, value) in rows.items():
        relevance = base[i]
        if near_w:
            near = neighbours.get(i, ())
            relevance += near_w * max((base.get(n, 0.0) for n, _ in near), default=0.0)
        if names:
            known = words.get(i) or frozenset(_WORD_RE.findall(text.lower()))
            share = sum(1 for n in names if n in known) / len(names)
            relevance += settings.name_weight * share
        if dates:
            relevance += settings.date_weight * _date_match(dates, text, value)
        score = keep * (relevance * asks if text.rstrip().endswith("?") else relevance)
        if recency:
            age = max(stamp - updated, 0.0)
            score += recency * math.pow(0.5, age / settings.recency_half_life_s)
        if importance:
            raw = value.get(settings.importance_field)
            if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw):
                score += importance * min(max(float(raw), 0.0), 1.0)
        order.append((-score, i, relevance))
    order.sort()
    return [
        Scored(i, -neg, vec.get(i, 0.0), kw.get(i, 0.0), relevance - base[i])
        for neg, i, relevance in (order if top is None else order[:top])
    ]


# -- the recall flow: what a store is asked, in order ------------------------------------------


@dataclass(frozen=True)
class FindVector:
    """Ask the store for the ``k`` nearest memories: ``[(id, cosine), ...]`` best first."""

    k: int


@dataclass(frozen=True)
class FindKeyword:
    """Ask the store for the ``k`` memories matching any of ``terms`` whose matched terms
    weigh most: ``[(id, weight), ...]``, a memory's weight being the sum of ``weights`` of
    the terms it contains (as the keyword index matches them), heaviest first, ties newest
    first (larger id). Both stores choose keyword candidates by this one rule, so they rank
    the same memories; BM25 itself is computed here, on the rows loaded."""

    terms: tuple[str, ...]
    k: int
    weights: tuple[float, ...]
    """Each term's weight (its inverse document frequency in the namespace)."""


@dataclass(frozen=True)
class KeywordStats:
    """Ask the store how many live memories lie under the prefix and, for each term, how
    many of them contain it: ``(count, {term: count})``. Keyword weights come from the
    memories of the namespace asked about, never from other tenants'."""

    terms: tuple[str, ...]


@dataclass(frozen=True)
class FindNeighbours:
    """Ask the store, for each id, for the ``window`` ids written right before it and the
    ``window`` right after it in its namespace (live, indexed, passing the filter):
    ``{id: ((neighbour id, distance), ...)}``, distance 1 being the adjacent one."""

    ids: tuple[int, ...]
    window: int


@dataclass(frozen=True)
class Load:
    """Ask the store for the rows of ``ids`` (live, under the prefix, passing the filter):
    ``{id: (text, updated_at, value)}``."""

    ids: tuple[int, ...]


RecallRequest = FindVector | FindKeyword | KeywordStats | FindNeighbours | Load
RecallFlow = Generator[RecallRequest, Any, list[Scored]]

CANDIDATES = 50
"""Memories each side (vector, keyword) contributes before fusion."""
NEIGHBOUR_SEEDS = 10
"""The best this many memories bring their neighbours into the ranking."""
COMMON_SHARE = 0.05
"""Terms in more than this share of the namespace's memories find no keyword candidates
(they still count in the score of every candidate)."""


def recall_flow(
    query: str,
    *,
    mode: str,
    vectors: bool,
    want: int,
    settings: Ranking = Ranking(),
    now: float | None = None,
    as_of: datetime | None = None,
    include_superseded: bool = False,
    memo: MutableMapping[tuple[int, float], Doc] | None = None,
) -> RecallFlow:
    """The recall algorithm as a generator: it yields what it needs from the store
    (:class:`FindVector`, :class:`FindKeyword`, :class:`Load`, :class:`FindNeighbours`),
    receives the answers, and returns the ``want`` best memories, ranked as :func:`rank` does.

    ``mode`` is ``"hybrid"`` (everything above), ``"vector"`` (cosine only) or
    ``"keyword"`` (keyword relevance only); ``vectors`` says whether the store has an
    embedding index; ``want`` is ``offset + limit``; ``memo`` keeps memories already
    split for ranking between calls (keyed by ``(id, updated_at)``). Memories that do not
    hold (superseded ones, or with ``as_of``, those not valid then) are dropped as they load
    (:func:`retain.core.temporal.holds`).
    """
    moment = datetime.fromtimestamp(now, timezone.utc) if now is not None else None

    def load(ids: tuple[int, ...]) -> Generator[RecallRequest, Any, dict[int, Any]]:
        found: dict[int, tuple[str, float, Mapping[str, Any]]] = yield Load(ids)
        at = moment or datetime.now(timezone.utc)
        return {
            i: row
            for i, row in found.items()
            if holds(row[2], now=at, as_of=as_of, include_superseded=include_superseded)
        }

    q = analyse_query(query)
    k = max(CANDIDATES, want)
    vec: list[tuple[int, float]] = []
    kw: list[tuple[int, float]] = []
    if vectors and mode in ("hybrid", "vector"):
        vec = yield FindVector(k)
    weights: dict[str, float] = {}
    if (mode in ("hybrid", "keyword") or not vectors) and q.terms:
        count, df = yield KeywordStats(q.terms)
        weights = _idf(q.terms, count, df)
        present = [t for t in q.terms if df.get(t, 0) > 0]
        # Candidates come from the selective terms: a word in a twentieth of the namespace
        # adds little to BM25 but costs a score for each memory that holds it (the
        # memories the vectors found are still scored on every term). Only when the
        # vectors found nothing do the rarest common words bring candidates.
        selective = [t for t in present if df[t] <= COMMON_SHARE * count]
        if not selective and not vec:
            selective = sorted(present, key=lambda t: df[t])[:3]
        if selective:
            kw = yield FindKeyword(
                tuple(selective), k, tuple(_term_idf(count, df[t]) for t in selective)
            )
    if mode != "hybrid" or not vectors:
        # A pure mode ranks by its one score (context, names and questions only in hybrid
        # mode); a store without vectors ranks hybrid recall by keywords and context.
        settings = replace(settings, vector_weight=1.0 if mode == "vector" and vectors else 0.0)
        if mode != "hybrid":
            settings = replace(
                settings,
                neighbour_weight=0.0,
                date_weight=0.0,
                name_weight=0.0,
                question_penalty=0.0,
            )
    vec_d = dict(vec)
    ids = tuple(dict.fromkeys([i for i, _ in vec] + [i for i, _ in kw]))
    rows: dict[int, _Row] = (yield from load(ids)) if ids else {}
    docs: MutableMapping[tuple[int, float], Doc] = {} if memo is None else memo
    parts = _bm25_parts(weights, rows, docs)
    kw_d = _bm25_scores(weights, parts)
    neighbours: dict[int, tuple[tuple[int, int], ...]] = {}
    if settings.neighbour_weight and settings.neighbour_window and rows:
        base, _, _ = _fuse(rows, vec_d, kw_d, settings.vector_weight)
        best = sorted(base, key=lambda i: (-base[i], i))[:NEIGHBOUR_SEEDS]
        seeds = tuple(i for i in best if base[i] > 0)
        if seeds:
            found: dict[int, tuple[tuple[int, int], ...]] = yield FindNeighbours(
                seeds, settings.neighbour_window
            )
            # each memory's neighbours: the seeds near it, and its own if it is a seed
            for seed, near in found.items():
                for n, d in near:
                    neighbours[n] = (*neighbours.get(n, ()), (seed, d))
                neighbours[seed] = neighbours.get(seed, ()) + tuple(near)
            missing = tuple(n for n in neighbours if n not in rows)
            if missing:
                more = yield from load(missing)
                rows.update(more)
                parts.update(_bm25_parts(weights, more, docs))
                kw_d = _bm25_scores(weights, parts)
    if mode == "vector" and vectors:
        ranked = _scored(q, rows, vec_d, {}, {}, {}, settings, now)
        # pure vector mode reports the cosine itself
        return [
            Scored(s.id, s.score if _weighted(settings) else vec_d[s.id], s.vector, 0.0)
            for s in ranked
            if s.id in vec_d
        ][:want]
    words: dict[int, frozenset[str]] = {}
    if settings.name_weight and q.names and docs:
        words = {i: docs[(i, u)][2] for i, (_, u, _) in rows.items() if (i, u) in docs}
    near_others = {i: tuple(nd for nd in near if nd[0] != i) for i, near in neighbours.items()}
    return _scored(q, rows, vec_d, kw_d, near_others, words, settings, now, top=want)


_K1 = 1.2
_B = 0.75
_STEMMER: Any = None


def stems(text: str) -> list[str]:
    """The words of ``text``, lower-cased and Porter-stemmed (as SQLite's ``porter``
    tokenizer indexes them).

    Example:
        >>> stems("Adopting kids: the adoption agencies")
        ['adopt', 'kid', 'the', 'adopt', 'agenc']
    """
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("porter")
    words: list[str] = _STEMMER.stemWords(_WORD_RE.findall(text.lower()))
    return words


def _idf(terms: Sequence[str], count: int, df: Mapping[str, int]) -> dict[str, float]:
    """BM25's inverse document frequency of each term's stem, from the namespace's counts."""
    out: dict[str, float] = {}
    for term in terms:
        stem = stems(term)
        if not stem:
            continue
        weight = _term_idf(count, df.get(term, 0))
        out[stem[0]] = max(out.get(stem[0], 0.0), weight)
    return out


def _term_idf(count: int, n: int) -> float:
    """BM25's inverse document frequency of a term in ``n`` of ``count`` memories."""
    n = min(max(n, 0), count)
    return math.log(1.0 + (count - n + 0.5) / (n + 0.5))


Doc = tuple[int, dict[str, int], frozenset[str]]
"""A memory's text as ranking reads it: its word count, stem counts and words."""


def read_doc(text: str) -> Doc:
    """``text`` split for ranking (see :data:`Doc`).

    Example:
        >>> read_doc("Adopted two cats, adopted!")[:2]
        (4, {'adopt': 2, 'two': 1, 'cat': 1})
    """
    words = _WORD_RE.findall(text.lower())
    counts: dict[str, int] = {}
    for stem in stems(" ".join(words)):
        counts[stem] = counts.get(stem, 0) + 1
    return len(words), counts, frozenset(words)


def bm25(
    weights: Mapping[str, float],
    rows: Mapping[int, tuple[str, float, Mapping[str, Any]]],
    docs: MutableMapping[tuple[int, float], Doc] | None = None,
) -> dict[int, float]:
    """BM25 relevance of each row's text for the query stems ``weights`` (stem -> idf);
    document lengths are normalised by the average length of the rows given. ``docs``
    keeps rows already split, by ``(id, updated_at)``, between calls.

    Example:
        >>> rows = {1: ("User adopted a cat", 0.0, {}), 2: ("User likes tea", 0.0, {})}
        >>> sorted(bm25({"adopt": 1.0}, rows))
        [1]
    """
    return _bm25_scores(weights, _bm25_parts(weights, rows, {} if docs is None else docs))


def _bm25_parts(
    weights: Mapping[str, float],
    rows: Mapping[int, _Row],
    docs: MutableMapping[tuple[int, float], Doc],
) -> dict[int, tuple[int, dict[str, int]]]:
    """Each row's word count and counts of the query stems (split once, memoised)."""
    if not weights:
        return {}
    out: dict[int, tuple[int, dict[str, int]]] = {}
    for i, (text, updated, _) in rows.items():
        doc = docs.get((i, updated))
        if doc is None:
            doc = docs[(i, updated)] = read_doc(text)
        counts = doc[1]
        out[i] = (doc[0], {w: counts[w] for w in weights if w in counts})
    return out


def _bm25_scores(
    weights: Mapping[str, float], parts: Mapping[int, tuple[int, dict[str, int]]]
) -> dict[int, float]:
    """BM25 from :func:`_bm25_parts`, lengths normalised by the average over ``parts``."""
    if not parts:
        return {}
    avg = sum(length for length, _ in parts.values()) / len(parts) or 1.0
    out: dict[int, float] = {}
    for i, (length, tf) in parts.items():
        if tf:
            norm = _K1 * (1 - _B + _B * length / avg)
            out[i] = sum(weights[w] * n * (_K1 + 1) / (n + norm) for w, n in tf.items())
    return out


def drive(
    flow: RecallFlow, answer: Callable[[RecallRequest], Generator[Any, Any, Any]]
) -> Generator[Any, Any, list[Scored]]:
    """Run ``flow``, answering each request with the generator ``answer(request)`` returns
    (its own steps pass through, as a PostgreSQL store's SQL steps do); returns the ranking.
    A store that answers directly uses :func:`answered`.

    Example:
        >>> flow = recall_flow("tea", mode="keyword", vectors=False, want=1)
        >>> replies = {KeywordStats: (1, {"tea": 1}), FindKeyword: [(7, 1.0)],
        ...            Load: {7: ("User drinks tea", 0.0, {})}}
        >>> [s.id for s in answered(flow, lambda r: replies[type(r)])]
        [7]
    """
    reply: Any = None
    while True:
        try:
            request = flow.send(reply)
        except StopIteration as done:
            scored: list[Scored] = done.value
            return scored
        reply = yield from answer(request)


def answered(flow: RecallFlow, answer: Callable[[RecallRequest], Any]) -> list[Scored]:
    """Run ``flow`` with replies computed directly by ``answer`` (see :func:`drive`)."""

    def reply(request: RecallRequest) -> Generator[Any, Any, Any]:
        yield from ()  # a generator that yields nothing
        return answer(request)

    try:
        next(drive(flow, reply))
    except StopIteration as done:
        scored: list[Scored] = done.value
        return scored
    raise AssertionError("an answered flow yields no steps")  # pragma: no cover


def _weighted(settings: Ranking) -> bool:
    return bool(settings.recency_weight or settings.importance_weight)
