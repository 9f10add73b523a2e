"""Clients shared by every coroutine of one event loop that asks for the same key: one per (credentials endpoint,
region, identity) in a triggerer, however many triggers poll through it.

A triggerer runs hundreds of triggers in one asyncio loop. Were each to build its own aiobotocore client and
fetch its own temporary keys, each would cost ~13 MB and ~0.3 s of blocked loop (the service model is parsed
per session), and the credentials endpoint would see a login per trigger. Clients are safe to share between
coroutines of one loop (aiobotocore's connection pool is per client), and never between loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import weakref
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SharedClients", "fingerprint"]


def fingerprint(*secrets: str | None) -> str:
    """A digest that tells identities apart without holding their secrets in a key.

    :param secrets: the identity's values (login, password, token...).
    """
    digest = hashlib.sha256()
    for value in secrets:
        digest.update(b"\x00" if value is None else b"\x01" + value.encode())
    return digest.hexdigest()


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    client: Any = None
    stack: contextlib.AsyncExitStack | None = None


class SharedClients:
    """Leases of clients by key: the first lease opens the client, later ones reuse it, the last one out closes it.

    Opening happens under a per-key lock, so a hundred triggers starting at once open one client and fetch one
    set of keys; a failed open is not kept, and the next lease tries again.
    """

    def __init__(self) -> None:
        # Per loop: a client's connections belong to the loop that opened them (pytest runs a loop per test).
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, _Entry]] = (
            weakref.WeakKeyDictionary()
        )

    def open_count(self) -> int:
        """How many clients are open in the running loop."""
        entries = self._loops.get(asyncio.get_running_loop(), {})
        return sum(1 for entry in entries.values() if entry.client is not None)

    @contextlib.asynccontextmanager
    async def lease(
        self, key: Hashable, open_client: Callable[[], AbstractAsyncContextManager[Any]]
    ) -> AsyncIterator[Any]:
        """The client for ``key``, opened with ``open_client`` when no lease of it is held: ``async with``.

        :param key: what makes two clients the same (never a secret itself: see :func:`fingerprint`).
        :param open_client: opens a new client (an async context manager).
        """
        entries = self._loops.setdefault(asyncio.get_running_loop(), {})
        entry = entries.setdefault(key, _Entry())
        entry.users += 1
        try:
            async with entry.lock:
                if entry.client is None:
                    stack = contextlib.AsyncExitStack()
                    entry.client = await stack.enter_async_context(open_client())
                    entry.stack = stack
            yield entry.client
        finally:
            entry.users -= 1
            if entry.users == 0:
                if entries.get(key) is entry:
                    del entries[key]  # the next lease opens a new client
                if entry.stack is not None:
                    entry.client, stack, entry.stack = None, entry.stack, None
                    await stack.aclose()
