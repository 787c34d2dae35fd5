"""The ``retain_jobs`` row layout both queues read (its columns, the :class:`Job` built from
a row) and the SQL that writes a move of :mod:`retain.queue.machine`, in either dialect.

Statements use named parameters: ``:name`` on SQLite, ``%(name)s`` on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from retain.queue.base import Job
from retain.queue.codec import decode
from retain.queue.machine import SOURCES, Change, Operation

__all__ = [
    "EFFECTS_TABLE_SQL",
    "JOB_COLUMNS",
    "POSTGRES",
    "SQLITE",
    "Dialect",
    "job_from_row",
]

JOB_COLUMNS = (
    "id, queue, key, idempotency_key, payload, config, state, run_at, attempts, "
    "max_attempts, lease_token, leased_until, worker, error, result, created_at, updated_at, "
    "effect_at"
)
"""The columns of ``SELECT {JOB_COLUMNS}``, in the order :func:`job_from_row` reads them."""

EFFECTS_TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS retain_job_effects (job_id {id_type} NOT NULL REFERENCES "
    "retain_jobs(id) ON DELETE CASCADE, seq integer NOT NULL, target text NOT NULL, "
    "at {time_type} NOT NULL, PRIMARY KEY (job_id, seq))"
)
"""The write journal: one row per store write transaction a job committed (its number in
the job, the namespaces it wrote), so a later attempt replays those writes instead of
repeating them (:mod:`retain.queue.effects`). Created by the queue when it opens
(``{id_type}``, ``{time_type}`` per dialect); rows go with their job (``ON DELETE
CASCADE``)."""


def job_from_row(row: Sequence[Any]) -> Job:
    """The :class:`Job` of a row selected with :data:`JOB_COLUMNS`."""
    return Job(
        id=row[0],
        queue=row[1],
        key=row[2],
        idempotency_key=row[3],
        payload=decode(row[4]),
        config=json.loads(row[5]),
        state=row[6],
        run_at=row[7],
        attempts=row[8],
        max_attempts=row[9],
        lease_token=row[10],
        leased_until=row[11],
        worker=row[12],
        error=row[13],
        result=None if row[14] is None else decode(row[14]),
        created_at=row[15],
        updated_at=row[16],
        extra={"effect_at": row[17]},
    )


_PYFORMAT = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class Dialect:
    """How one database spells parameters, "id in this list" and row locks."""

    name: str
    param_format: str  # "{}" is the parameter's name
    ids_format: str  # "{}" is the parameter holding the ids
    for_update: str = ""  # appended to a SELECT of rows about to change
    skip_locked: str = ""  # appended to the claim's SELECT

    def param(self, name: str) -> str:
        return self.param_format.format(name)

    def sql(self, text: str) -> str:
        """``text``, written with ``%(name)s`` parameters, in this dialect."""
        return _PYFORMAT.sub(lambda m: self.param(m.group(1)), text)

    def ids(self, name: str) -> str:
        """A condition on ``id`` being one of the ids bound to ``name`` (see
        :meth:`ids_value`)."""
        return self.ids_format.format(self.param(name))

    def ids_value(self, ids: Sequence[int]) -> Any:
        return json.dumps(list(ids)) if self.name == "sqlite" else list(ids)

    def transition(
        self,
        op: Operation,
        change: Change,
        *,
        leased: bool = False,
        many: bool = False,
        rows: str | None = None,
    ) -> str:
        """``UPDATE retain_jobs`` writing ``change`` to the job bound to ``id`` (to every
        job in ``ids`` with ``many``; to the rows matching the SQL condition ``rows``),
        only while it is in one of ``op``'s source states and, with ``leased``, still holds
        the lease bound to ``token``. Bind the change's values with :meth:`values`."""
        sets = ", ".join(f"{column} = {self.param('v_' + column)}" for column in change.values)
        states = ", ".join(f"'{state}'" for state in SOURCES[op])  # constants, not input
        where = rows or (self.ids("ids") if many else f"id = {self.param('id')}")
        where += f" AND state IN ({states})"
        if leased:
            where += f" AND lease_token = {self.param('token')}"
        return f"UPDATE retain_jobs SET {sets} WHERE {where}"

    @staticmethod
    def values(change: Change) -> dict[str, Any]:
        """The parameters of :meth:`transition` that carry ``change``'s values."""
        return {f"v_{column}": value for column, value in change.values.items()}


SQLITE = Dialect("sqlite", ":{}", "id IN (SELECT value FROM json_each({}))")
POSTGRES = Dialect("postgres", "%({})s", "id = ANY({})", " FOR UPDATE", " FOR UPDATE SKIP LOCKED")
