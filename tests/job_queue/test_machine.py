"""The job state machine alone: no database, no clock but numbers."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from retain.errors import InvalidInputError
from retain.queue import Job, RetryPolicy, machine
from retain.queue.machine import JOB_STATES, SOURCES
from retain.stores.pg_schema import PG_MIGRATIONS

POLICY = RetryPolicy(max_attempts=3, base_delay=2.0, factor=2.0)


def queued(**fields: object) -> Job:
    job = Job(
        id=7,
        queue="q",
        key=None,
        payload={},
        config={},
        state="queued",
        run_at=5.0,
        attempts=0,
        max_attempts=3,
    )
    return replace(job, **fields)  # type: ignore[arg-type]


def claimed(job: Job, now: float = 10.0) -> Job:
    change = machine.claim(job, worker="w", token=f"t{job.attempts}", now=now, lease_seconds=30)
    return machine.apply(job, change)  # type: ignore[no-any-return]


def test_a_job_runs_fails_backs_off_and_dies_with_every_error() -> None:
    job = queued()
    for attempt, delay in ((1, 2.0), (2, 4.0)):
        job = claimed(job)
        assert (job.state, job.attempts, job.leased_until, job.worker) == (
            "running",
            attempt,
            40.0,
            "w",
        )
        job = machine.apply(job, machine.fail(job, POLICY, f"boom {attempt}", now=10.0))
        assert (job.state, job.run_at, job.lease_token) == ("queued", 10.0 + delay, None)
    job = claimed(job)
    job = machine.apply(job, machine.fail(job, POLICY, "boom 3", now=10.0))
    assert job.state == "dead"
    assert job.error == "attempt 1: boom 1\nattempt 2: boom 2\nattempt 3: boom 3"
    job = machine.apply(job, machine.retry(POLICY, now=99.0))
    assert (job.state, job.attempts, job.run_at) == ("queued", 0, 99.0)


def test_a_lost_lease_is_claimed_again_until_the_last_attempt_then_dead() -> None:
    job = claimed(queued())
    assert machine.is_due(job, now=40.0)
    assert not machine.is_due(job, now=39.9)
    job = claimed(job, now=40.0)  # the first worker died: another takes the job over
    assert (job.state, job.attempts, job.lease_token) == ("running", 2, "t1")
    job = claimed(claimed(job, now=70.0), now=100.0)
    assert job.state == "dead"
    assert job.error == "worker lost on attempt 3 (lease expired)"
    assert job.lease_token is None


def test_complete_extend_cancel_supersede() -> None:
    job = claimed(queued())
    assert machine.apply(job, machine.extend(now=20.0, lease_seconds=30)).leased_until == 50.0
    done = machine.apply(job, machine.complete('"ok"', now=21.0))
    assert (done.state, done.result, done.lease_token) == ("done", '"ok"', None)
    assert machine.cancel(now=1.0).state == "cancelled"
    assert machine.supersede(now=1.0).state == "superseded"


@pytest.mark.parametrize(
    ("attempts", "state", "run_at"),
    [(1, "queued", 12.0), (2, "queued", 14.0), (3, "dead", 5.0)],
)
def test_a_failed_attempt_is_retried_with_backoff_until_dead(
    attempts: int, state: str, run_at: float
) -> None:
    job = queued(state="running", attempts=attempts, lease_token="t")
    after = machine.apply(job, machine.fail(job, POLICY, "boom", now=10.0))
    assert (after.state, after.run_at) == (state, run_at)
    assert after.error == f"attempt {attempts}: boom"


def test_every_move_starts_from_its_source_states_and_ends_in_a_job_state() -> None:
    job = queued()
    running = claimed(job)
    moves = {
        "claim": machine.claim(job, worker="w", token="t", now=0, lease_seconds=1),
        "complete": machine.complete(None, now=0),
        "fail": machine.fail(running, POLICY, "x", now=0),
        "extend": machine.extend(now=0, lease_seconds=1),
        "cancel": machine.cancel(now=0),
        "supersede": machine.supersede(now=0),
        "retry": machine.retry(POLICY, now=0),
    }
    assert set(moves) == set(SOURCES)
    for op, change in moves.items():
        assert change.state in JOB_STATES, op
        assert set(SOURCES[op]) <= set(JOB_STATES), op  # type: ignore[index]


def test_the_states_are_defined_once() -> None:
    """PostgreSQL's CHECK constraint lists exactly the machine's states."""
    [ddl] = [s for m in PG_MIGRATIONS for s in m.statements if "CREATE TABLE retain_jobs" in s]
    listed = re.search(r"state IN \(([^)]*)\)", ddl)
    assert listed is not None
    assert tuple(s.strip(" '") for s in listed.group(1).split(",")) == JOB_STATES
    machine.check_state("dead")
    with pytest.raises(InvalidInputError, match="state must be one of"):
        machine.check_state("finished")  # type: ignore[arg-type]
