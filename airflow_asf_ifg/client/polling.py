"""The one polling loop of every archive wait: poll, report state changes, back off, honour Retry-After, stop
when settled or at the deadline. Shared by the archive and restore triggers and the command line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from airflow_asf_ifg.client.archive import ProductStatus

__all__ = ["PollResult", "PollRound", "wait_until_settled"]


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
    """

    changes: list[ProductStatus]
    states: Mapping[str, ProductStatus]
    elapsed: float


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
    report: Callable[[PollRound], None] = _ignore,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> bool:
    """Poll until ``settled`` or the deadline; return True when settled, False when the deadline passed first.

    The wait between rounds starts at ``interval`` and doubles up to ``max_interval``; a longer Retry-After
    is honoured; no wait runs past the deadline. Errors of ``poll`` propagate.

    :param poll: reads every product once.
    :param settled: whether waiting longer cannot change anything, given the latest states.
    :param interval: seconds between the first rounds.
    :param max_interval: the longest wait between rounds.
    :param deadline: when to give up, on ``clock``'s scale (epoch seconds by default).
    :param states: filled in place with the latest state of each product, so a caller that catches an
        error of ``poll`` still has what was seen; a new dict when None.
    :param report: called after every round.
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
        report(PollRound(changes, states, clock() - started))
        if settled(states):
            return True
        remaining = deadline - clock()
        if remaining <= 0:
            return False
        await sleep(min(max(interval, result.retry_after), remaining))
        interval = min(interval * 2, max_interval)
