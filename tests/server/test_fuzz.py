"""Schema-driven fuzzing of the whole HTTP API (schemathesis) with a valid admin key, on a
real uvicorn: no 5xx, and every answer matches the OpenAPI schema (status, content type,
body); data that breaks the schema is refused with a 4xx.

Not checked: that every schema-valid request succeeds (``positive_data_acceptance``): a
valid-looking request can still name a version that does not exist or a label LangGraph
reserves, and then answers 400 by design."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.server.conftest import ADMIN, RunningServer

pytestmark = pytest.mark.slow


@pytest.fixture
def fuzz_server(make_server: Callable[..., RunningServer]) -> RunningServer:
    server = make_server(mcp=False)
    with server.client() as admin:  # something to find, update, export and purge
        for user in ("u1", "u2"):
            admin.post(
                "/v1/memories",
                json={"namespace": ["users", user], "key": "k", "value": {"content": "tea"}},
            )
    return server


@pytest.mark.parametrize("who", ["admin", "user"])
def test_api_answers_match_the_schema_and_never_5xx(fuzz_server: RunningServer, who: str) -> None:
    secret = ADMIN
    if who == "user":  # a key scoped to ("users", "u1"), read and write
        with fuzz_server.client() as admin:
            made = admin.post("/v1/keys", json={"name": "u1", "prefixes": [["users", "u1"]]})
            secret = made.json()["secret"]
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,  # the same examples every run; random runs found none more
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {secret}"},
                excluded_checks=[positive_data_acceptance],
            )

        fuzz()


EXAMPLES = 25
