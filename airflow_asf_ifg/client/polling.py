"""The one polling loop of every archive wait: poll, report state changes, back off, honour Retry-After, stop
when settled or at the deadline. Shared by the archive and restore triggers and the command line."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from airflow_asf_ifg.client.archive import ProductStatus

__all__ = ["GROWTH", "PollResult", "PollRound", "next_wait", "wait_until_settled"]

#: The wait between rounds is this share of the time waited so far (within the poke and longest intervals):
#: a retrieval that ends after T seconds is noticed by T + max(poke interval, T / 4). A wait that doubles
#: every round can overshoot by as much as T (a 40 s retrieval polled at 30 s was noticed at 93 s).
GROWTH = 0.25


class PollResult(NamedTuple):
    """What one round of polls read.

    :param states: each product read this round, by name (a throttled one is absent: read it next round).
    :param retry_after: the longest wait a throttled service asked for, in seconds (0 when none did).
    """

    states: dict[str, ProductStatus]
    retry_after: float = 0.0


@dataclass(frozen=True)
class PollRound:
    """One round as its observer sees it.

    :param changes: products seen for the first time or in a new state this round, each once.
    :param states: the latest state of every product seen so far.
    :param elapsed: seconds since the wait began.
    :param next_wait: seconds until the next round, or None when there is none (settled, or the deadline).
    """

    changes: list[ProductStatus]
    states: Mapping[str, ProductStatus]
    elapsed: float
    next_wait: float | None = None


def next_wait(elapsed: float, interval: float, max_interval: float, retry_after: float = 0.0) -> float:
    """Seconds to wait before the next round: :data:`GROWTH` of the time waited, within ``interval`` and
    ``max_interval``, or longer when a throttled service asked for it.

    :param elapsed: seconds since the wait began.
    :param interval: the shortest wait (the poke interval).
    :param max_interval: the longest wait of the rule.
    :param retry_after: what a throttled service asked for (0 when none did).
    """
    return max(min(max(interval, elapsed * GROWTH), max(interval, max_interval)), retry_after)


def _ignore(poll_round: PollRound) -> None:
    """Report nothing."""


async def wait_until_settled(
    poll: Callable[[], Awaitable[PollResult]],
    *,
    settled: Callable[[Mapping[str, ProductStatus]], bool],
    interval: float,
    max_interval: float,
    deadline: float,
    states: dict[str, ProductStatus] | None = None,
    report: Callable[[PollRound], Awaitable[None] | None] = _ignore,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> bool:
    """Poll until ``settled`` or the deadline; return True when settled, False when the deadline passed first.

    The wait between rounds is :func:`next_wait`: ``interval`` at first, growing with the time waited up to
    ``max_interval``; a longer Retry-After is honoured; no wait runs past the deadline. Errors of ``poll``
    propagate.

    :param poll: reads every product once.
    :param settled: whether waiting longer cannot change anything, given the latest states.
    :param interval: seconds between the first rounds (the shortest wait).
    :param max_interval: the longest wait between rounds (unless Retry-After asks for more).
    :param deadline: when to give up, on ``clock``'s scale (epoch seconds by default).
    :param states: filled in place with the latest state of each product, so a caller that catches an
        error of ``poll`` still has what was seen; a new dict when None.
    :param report: called after every round (awaited if it is a coroutine function).
    :param clock: the time now.
    :param sleep: waits a number of seconds.
    """
    states = {} if states is None else states
    started = clock()
    while True:
        result = await poll()
        changes = [
            status
            for name, status in result.states.items()
            if name not in states or states[name].state is not status.state
        ]
        states.update(result.states)
        now = clock()
        done = settled(states)
        remaining = deadline - now
        wait = None
        if not done and remaining > 0:
            wait = min(next_wait(now - started, interval, max_interval, result.retry_after), remaining)
        reported = report(PollRound(changes, states, now - started, wait))
        if inspect.isawaitable(reported):  # an async observer (a trigger publishing what it saw)
            await reported
        if done:
            return True
        if wait is None:
            return False
        await sleep(wait)
