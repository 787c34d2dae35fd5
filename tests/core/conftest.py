from __future__ import annotations

import pytest

from retain.testing import FakeCall


@pytest.fixture(params=["tool_calling", "json_schema"])
def style(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over both structured-output styles."""
    return str(request.param)


def offered(call: FakeCall) -> set[str]:
    """What a memory-manager call let the model do, in either style:
    ``insert:<Kind>``, ``update``, ``delete``, ``done``."""
    if call.style == "tool_calling":
        names = set(call.tool_names)
        out = {"update" for n in names if n == "PatchDoc"}
        out |= {"delete" for n in names if n == "RemoveDoc"}
        out |= {"done" for n in names if n == "Done"}
        out |= {f"insert:{n}" for n in names - {"PatchDoc", "RemoveDoc", "Done"}}
        return out
    schema = call.response_schema or {}
    out = {"done"}
    for variant in schema["properties"]["operations"]["items"]["anyOf"]:
        action = variant["properties"]["action"]["const"]
        if action == "insert":
            out.add("insert:" + variant["properties"]["kind"]["const"])
        else:
            out.add(action)
    return out
