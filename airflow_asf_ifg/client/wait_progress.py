"""What a wait for archived products has seen so far: each product's state and since when, told as a one-line
summary for the task log and as a small JSON document for the Airflow UI's "ASF retrievals" page.

Names, states and times only: nothing in here is secret, and all of it may reach a browser.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow_asf_ifg.client.polling import PollRound

__all__ = ["SUMMARY_EVERY", "ProductProgress", "WaitProgress", "duration_text"]

#: Seconds between two summaries in the task log (state changes are logged as they happen).
SUMMARY_EVERY = 300.0
#: The order states are told in: what is done first, then what is still awaited.
_ORDER = ("available", "retrieving", "archived", "missing")


def duration_text(seconds: float) -> str:
    """A duration as people say it: ``45 s``, ``14 min``, ``2.5 h``.

    :param seconds: how long.
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


@dataclass
class ProductProgress:
    """One product as the wait last saw it.

    :param name: the product.
    :param state: its state (``available``, ``retrieving``, ``archived``, ``missing``).
    :param since: epoch seconds when it was first seen in that state.
    :param expires: when a restored copy goes back to the archive, ISO 8601, when known.
    """

    name: str
    state: str
    since: float
    expires: str | None = None


class WaitProgress:
    """Follows a wait round by round: states with their start, a summary when one is due, a snapshot.

    :param summary_every: seconds between two summaries.
    :param clock: the time now, in epoch seconds.
    """

    def __init__(self, summary_every: float = SUMMARY_EVERY, clock: Callable[[], float] = time.time) -> None:
        self.summary_every = summary_every
        self.clock = clock
        self.products: dict[str, ProductProgress] = {}
        self.next_check: float | None = None
        self._last_summary: float | None = None

    def update(self, poll_round: PollRound) -> bool:
        """Take in one round; return whether any product is new or changed state.

        :param poll_round: the round.
        """
        now = self.clock()
        changed = False
        for status in poll_round.changes:
            known = self.products.get(status.name)
            if known is not None and known.state == status.state.value:
                continue  # already seen in this state (before the wait moved to the triggerer): keep since when
            self.products[status.name] = ProductProgress(status.name, status.state.value, now)
            changed = True
        for name, status in poll_round.states.items():  # the expiry may arrive without a change of state
            if name in self.products and status.expires is not None:
                self.products[name].expires = status.expires.isoformat()
        self.next_check = None if poll_round.next_wait is None else now + poll_round.next_wait
        return changed

    def seen(self) -> list[dict[str, Any]]:
        """Each product's state and since when (epoch seconds), for the trigger that waits on (JSON-able)."""
        return [{"name": p.name, "state": p.state, "since": p.since} for p in self.products.values()]

    def seed(self, seen: list[dict[str, Any]]) -> None:
        """Start from what an earlier part of the wait saw (:meth:`seen`); malformed entries are skipped.

        :param seen: entries of name, state and since (epoch seconds).
        """
        for entry in seen:
            name, state, since = entry.get("name"), entry.get("state"), entry.get("since")
            if isinstance(name, str) and isinstance(state, str) and isinstance(since, int | float):
                self.products[name] = ProductProgress(name, state, float(since))

    def summary_due(self) -> bool:
        """Whether a summary should be logged now (the first round, then every ``summary_every`` seconds)."""
        now = self.clock()
        if self._last_summary is not None and now - self._last_summary < self.summary_every:
            return False
        self._last_summary = now
        return True

    def summary(self) -> str:
        """E.g. ``3 products: 1 available, 2 retrieving for 14 min; next check in 60 s``."""
        now = self.clock()
        groups: dict[str, list[ProductProgress]] = {}
        for product in self.products.values():
            groups.setdefault(product.state, []).append(product)
        parts = []
        for state in sorted(groups, key=lambda s: _ORDER.index(s) if s in _ORDER else len(_ORDER)):
            members = groups[state]
            text = f"{len(members)} {state}"
            if state in ("retrieving", "archived"):  # what is awaited: for how long already
                text += f" for {duration_text(now - min(p.since for p in members))}"
            parts.append(text)
        count = len(self.products)
        line = f"{count} product{'s' if count != 1 else ''}: {', '.join(parts) or 'none seen yet'}"
        if self.next_check is not None:
            line += f"; next check in {duration_text(max(0.0, self.next_check - now))}"
        return line

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able document of names, states and times (what the UI page shows)."""
        return {
            "updated": _iso(self.clock()),
            "next_check": _iso(self.next_check),
            "products": [
                {"name": p.name, "state": p.state, "since": _iso(p.since), "expires": p.expires}
                for p in sorted(self.products.values(), key=lambda p: p.name)
            ],
        }
