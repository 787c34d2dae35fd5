"""pytest plugin: block real network calls in every test.

Enable it in your ``conftest.py``::

    pytest_plugins = ["retain.testing.pytest_plugin"]

Every test then runs inside :func:`retain.testing.block_network`; connections to
loopback addresses and Unix sockets still work (local databases, local servers). Mark a
test ``@pytest.mark.allow_network`` to let it reach the network.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retain.testing.network import block_network


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_network: let this test open non-loopback network connections"
    )


@pytest.fixture(autouse=True)
def _retain_block_network(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("allow_network"):
        yield
        return
    with block_network():
        yield
