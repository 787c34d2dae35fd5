"""Offline test kit: deterministic fake chat models and a network blocker.

* :class:`FakeChatModel`: scripted replies (or a function of the call), supports
  ``bind_tools`` and ``with_structured_output``, sync and async, records every call;
* :func:`insert`, :func:`update`, :func:`delete`, :func:`done`: memory operations a fake
  answers with, rendered as tool calls or JSON depending on what the caller asked for;
* :func:`tool_call`: a scripted call of any tool (for agents);
* :func:`structured_reply`: a scripted structured answer (for the prompt optimizers);
* :func:`block_network` and the pytest plugin ``retain.testing.pytest_plugin``: fail any
  real network call in tests.

Example:
    >>> from retain import create_memory_manager
    >>> from retain.testing import FakeChatModel, insert
    >>> model = FakeChatModel([[insert("User likes dogs"), insert("User has a dog named Fido")]])
    >>> manager = create_memory_manager(model)
    >>> [m.content.content for m in manager.invoke([("user", "I like dogs. Mine is Fido.")])]
    ['User likes dogs', 'User has a dog named Fido']
    >>> len(model.calls), model.calls[0].style
    (1, 'tool_calling')
"""

from retain.testing import fakes
from retain.testing.fakes import *  # noqa: F403 - the fakes are this package's API
from retain.testing.network import NetworkBlockedError, block_network

__all__ = [*fakes.__all__, "NetworkBlockedError", "block_network"]
