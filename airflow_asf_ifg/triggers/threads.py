"""Blocking calls from a trigger, in a worker thread, that may still reach the triggerer's supervisor.

A sync SDK call made in a trigger (a connection or a Variable looked up, a secret masked) is sent to the
triggerer's supervisor over a channel that belongs to the triggerer's event loop. From a plain worker thread
(``asyncio.to_thread``) only Airflow 3.3 routes it back to that loop; Airflow 3.1 and 3.2 bridge it with
asgiref's ``async_to_sync``, which, outside an asgiref worker, runs it on a new loop of its own and breaks
the channel (seen: "Lock ... is bound to a different event loop", and the trigger runner stopped). asgiref's
``sync_to_async`` marks its worker thread with the loop it came from, so the bridge uses that loop on every
version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["in_thread"]

Result = TypeVar("Result")


async def in_thread(function: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
    """Run a blocking function in a worker thread without blocking the event loop.

    :param function: the blocking call (CMR search, Variable read...).
    :param args: its positional arguments.
    :param kwargs: its keyword arguments.
    """
    from asgiref.sync import sync_to_async

    # Not thread-sensitive: each call gets a pool thread, so watchers' searches do not queue behind one another.
    return await sync_to_async(function, thread_sensitive=False)(*args, **kwargs)
