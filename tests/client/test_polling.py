"""The one polling loop, driven by a scripted ``poll`` and a fake clock: no network and no real waiting."""

from __future__ import annotations

import pytest

from airflow_asf_ifg.client.archive import ArchiveState, ProductStatus
from airflow_asf_ifg.client.polling import PollResult, PollRound, wait_until_settled

ARCHIVED, RETRIEVING, AVAILABLE = ArchiveState.ARCHIVED, ArchiveState.RETRIEVING, ArchiveState.AVAILABLE


class FakeTime:
    """A clock that moves only when the loop sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def scripted(*rounds: PollResult):
    """A ``poll`` that answers the rounds in turn, then the last one for ever."""
    answers = list(rounds)
    calls = []

    async def poll() -> PollResult:
        calls.append(len(calls))
        return answers.pop(0) if len(answers) > 1 else answers[0]

    poll.calls = calls
    return poll


def result(retry_after: float = 0.0, **states: ArchiveState) -> PollResult:
    return PollResult({name: ProductStatus(name, state) for name, state in states.items()}, retry_after)


def all_available(states) -> bool:
    return bool(states) and all(s.state is AVAILABLE for s in states.values())


async def wait(fake: FakeTime, poll, *, interval=1.0, max_interval=5.0, seconds=30.0, **kwargs) -> bool:
    return await wait_until_settled(
        poll,
        settled=all_available,
        interval=interval,
        max_interval=max_interval,
        deadline=fake.now + seconds,
        clock=fake.clock,
        sleep=fake.sleep,
        **kwargs,
    )


class TestWaitUntilSettled:
    async def test_settled_at_once_returns_true_without_sleeping(self):
        fake = FakeTime()
        assert await wait(fake, scripted(result(a=AVAILABLE))) is True
        assert fake.sleeps == []

    async def test_the_wait_grows_with_the_time_waited_up_to_max_interval_and_stops_at_the_deadline(self):
        fake = FakeTime()
        poll = scripted(result(a=ARCHIVED))
        assert await wait(fake, poll, interval=10.0, max_interval=60.0, seconds=400.0) is False
        # 10 s while a quarter of the time waited is less; then a quarter of it, up to 60 s.
        waits = [10, 10, 10, 10, 10, 12.5, 15.62, 19.53, 24.41, 30.52, 38.15, 47.68, 59.6, 60, 41.98]
        assert [round(w, 2) for w in fake.sleeps] == waits  # the last wait ends at the deadline
        long = FakeTime()
        assert await wait(long, scripted(result(a=ARCHIVED)), interval=10.0, max_interval=60.0, seconds=4000) is False
        assert max(long.sleeps) == 60 and sum(long.sleeps) == pytest.approx(4000)

    @pytest.mark.parametrize(("retrieval", "noticed"), [(40, 60), (100, 120), (3600, 3928)])
    async def test_a_retrieval_is_noticed_soon_after_it_ends(self, retrieval, noticed):
        fake = FakeTime()
        start = fake.now

        async def poll() -> PollResult:
            return result(a=AVAILABLE if fake.now - start >= retrieval else RETRIEVING)

        assert await wait(fake, poll, interval=30.0, max_interval=600.0, seconds=7200) is True
        # Within one poke interval of the end while it is short, within a quarter of it once it is long
        # (doubling from 30 s noticed the 40 s retrieval at 90 s and the 100 s one at 210 s).
        assert fake.now - start == pytest.approx(noticed, abs=1)
        assert fake.now - start - retrieval <= max(30.0, retrieval / 4)

    async def test_the_next_wait_is_reported(self):
        fake = FakeTime()
        rounds: list[PollRound] = []
        poll = scripted(result(a=ARCHIVED), result(a=ARCHIVED), result(a=AVAILABLE))
        assert await wait(fake, poll, interval=30.0, max_interval=600.0, seconds=7200, report=rounds.append)
        assert [r.next_wait for r in rounds] == [30.0, 30.0, None]  # none after the last round

    async def test_retry_after_does_not_run_past_the_deadline(self):
        fake = FakeTime()
        assert await wait(fake, scripted(result(120.0, a=ARCHIVED)), seconds=10.0) is False
        assert fake.sleeps == [10.0]

    async def test_a_deadline_already_passed_polls_once_and_times_out(self):
        fake = FakeTime()
        poll = scripted(result(a=ARCHIVED))
        assert await wait(fake, poll, seconds=0.0) is False
        assert (len(poll.calls), fake.sleeps) == (1, [])

    async def test_each_state_change_is_reported_once(self):
        fake = FakeTime()
        rounds: list[PollRound] = []
        poll = scripted(
            result(a=ARCHIVED, b=AVAILABLE),
            result(a=ARCHIVED, b=AVAILABLE),
            result(a=RETRIEVING, b=AVAILABLE),
            result(a=AVAILABLE, b=AVAILABLE),
        )
        assert await wait(fake, poll, report=rounds.append) is True
        assert [[(s.name, s.state) for s in r.changes] for r in rounds] == [
            [("a", ARCHIVED), ("b", AVAILABLE)],
            [],
            [("a", RETRIEVING)],
            [("a", AVAILABLE)],
        ]
        assert [r.elapsed for r in rounds] == [0.0, 1.0, 2.0, 3.0]
        assert {n: s.state for n, s in rounds[-1].states.items()} == {"a": AVAILABLE, "b": AVAILABLE}

    async def test_a_product_absent_from_a_round_keeps_its_last_state(self):
        fake = FakeTime()
        states: dict[str, ProductStatus] = {}
        poll = scripted(result(a=ARCHIVED, b=RETRIEVING), result(1.0, a=AVAILABLE), result(b=AVAILABLE))
        assert await wait(fake, poll, states=states) is True
        assert {n: s.state for n, s in states.items()} == {"a": AVAILABLE, "b": AVAILABLE}

    async def test_errors_of_poll_propagate_and_the_states_hold_what_was_seen(self):
        fake = FakeTime()
        answers = [result(a=RETRIEVING)]

        async def poll() -> PollResult:
            if answers:
                return answers.pop()
            raise ConnectionResetError("reset by peer")

        states: dict[str, ProductStatus] = {}
        with pytest.raises(ConnectionResetError, match="reset by peer"):
            await wait(fake, poll, states=states)
        assert states["a"].state is RETRIEVING and fake.sleeps == [1.0]
