"""The wait's progress: states with their start, the log's summary line, the page's snapshot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_asf_ifg.client.archive import ArchiveState, ProductStatus
from airflow_asf_ifg.client.polling import PollRound
from airflow_asf_ifg.client.wait_progress import WaitProgress, duration_text

START = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def poll_round(states: dict[str, ArchiveState], previous: dict[str, ArchiveState], next_wait: float | None = 60.0):
    statuses = {n: ProductStatus(n, s) for n, s in states.items()}
    changes = [statuses[n] for n, s in states.items() if previous.get(n) is not s]
    return PollRound(changes, statuses, 0.0, next_wait)


@pytest.mark.parametrize(("seconds", "text"), [(45, "45 s"), (14 * 60 + 10, "14 min"), (9000, "2.5 h")])
def test_durations_read_as_people_say_them(seconds, text):
    assert duration_text(seconds) == text


class TestWaitProgress:
    def test_the_summary_tells_each_state_and_how_long_the_awaited_ones_have_waited(self):
        clock = Clock()
        progress = WaitProgress(clock=clock)
        first = {"a": ArchiveState.ARCHIVED, "b": ArchiveState.ARCHIVED, "c": ArchiveState.AVAILABLE}
        assert progress.update(poll_round(first, {})) is True
        clock.now += 60
        second = {"a": ArchiveState.RETRIEVING, "b": ArchiveState.RETRIEVING, "c": ArchiveState.AVAILABLE}
        progress.update(poll_round(second, first))
        clock.now += 14 * 60
        assert progress.update(poll_round(second, second)) is False  # nothing changed
        assert progress.summary() == "3 products: 1 available, 2 retrieving for 14 min; next check in 60 s"

    def test_a_summary_is_due_at_first_and_then_every_few_minutes(self):
        clock = Clock()
        progress = WaitProgress(summary_every=300, clock=clock)
        assert progress.summary_due() is True
        clock.now += 299
        assert progress.summary_due() is False
        clock.now += 1
        assert progress.summary_due() is True

    def test_the_snapshot_holds_names_states_and_times_only(self):
        clock = Clock()
        progress = WaitProgress(clock=clock)
        expires = datetime(2018, 6, 1, tzinfo=UTC)
        statuses = {"a.zip": ProductStatus("a.zip", ArchiveState.AVAILABLE, expires=expires, requested=True)}
        progress.update(PollRound(list(statuses.values()), statuses, 0.0, 30.0))
        assert progress.snapshot() == {
            "updated": "2023-11-14T22:13:20+00:00",
            "next_check": "2023-11-14T22:13:50+00:00",
            "products": [
                {
                    "name": "a.zip",
                    "state": "available",
                    "since": "2023-11-14T22:13:20+00:00",
                    "expires": expires.isoformat(),
                }
            ],
        }

    def test_a_finished_wait_has_no_next_check(self):
        progress = WaitProgress(clock=Clock())
        progress.update(poll_round({"a": ArchiveState.AVAILABLE}, {}, next_wait=None))
        assert progress.summary() == "1 product: 1 available"
        assert progress.snapshot()["next_check"] is None

    def test_a_wait_seeded_with_what_the_pokes_saw_keeps_since_when(self):
        poked = WaitProgress(clock=Clock())
        poked.update(poll_round({"a": ArchiveState.RETRIEVING}, {}))
        clock = Clock()
        clock.now += 120  # the trigger starts two minutes after the sensor's poke
        waiting = WaitProgress(clock=clock)
        waiting.seed([*poked.seen(), {"name": 3}])  # a malformed entry is skipped
        assert waiting.update(poll_round({"a": ArchiveState.RETRIEVING}, {})) is False  # same state: not a change
        assert waiting.snapshot()["products"][0]["since"] == "2023-11-14T22:13:20+00:00"  # the poke's time
        assert waiting.summary().startswith("1 product: 1 retrieving for 2 min")
