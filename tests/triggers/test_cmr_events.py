"""CmrNewGranulesTrigger against the sandbox's CMR: new granules and new revisions fire once, and a restart
with the asset's state store goes on without repeating or missing one."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from airflow_asf_ifg.client.granule import Granule
from airflow_asf_ifg.client.new_granules import Watermark, fresh
from airflow_asf_ifg.exceptions import InvalidInputError
from airflow_asf_ifg.sandbox.demo import ARIA_S1_GUNW
from airflow_asf_ifg.triggers.cmr_events import WATERMARK_KEY, CmrNewGranulesTrigger


class StateStore:
    """The asset state store's interface (``aget``/``aset`` of JSON values), kept in a dict by the test."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    async def aget(self, key: str, default: object = None) -> object:
        return self.values.get(key, default)

    async def aset(self, key: str, value: object) -> None:
        self.values[key] = value


def watcher(store: StateStore | None = None, **kwargs) -> CmrNewGranulesTrigger:
    trigger = CmrNewGranulesTrigger(collection_concept_id=ARIA_S1_GUNW, poke_interval=0.2, margin=60, **kwargs)
    trigger.asset_state_store = store
    return trigger


class Watch:
    """A trigger run in the background as the triggerer runs it, its events queued for the test to read."""

    def __init__(self, trigger: CmrNewGranulesTrigger) -> None:
        self.events: asyncio.Queue[dict] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._pump(trigger))

    async def _pump(self, trigger: CmrNewGranulesTrigger) -> None:
        async for event in trigger.run():
            await self.events.put(event.payload)

    async def next(self, timeout: float = 20.0) -> dict:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def nothing(self, seconds: float = 1.0) -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(self.events.get(), seconds)
        assert not self.task.done(), self.task  # still polling: it never raises, never ends

    async def stop(self) -> None:
        self.task.cancel()  # as the triggerer stops a trigger
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
def sandbox(asf_sandbox, asf_sandbox_connections):
    asf_sandbox.reset()
    yield asf_sandbox
    asf_sandbox.reset()  # published and revised granules go


def gunw(sandbox) -> list:
    return [g for g in sandbox.catalogue if g.collection.concept_id == ARIA_S1_GUNW]


class TestCmrNewGranulesTrigger:
    async def test_a_published_granule_and_a_revision_fire_once_each(self, sandbox):
        store = StateStore()
        watch = Watch(watcher(store))
        await watch.nothing()  # the first polls find nothing: the catalogue was revised long ago
        published = await asyncio.to_thread(sandbox.publish, gunw(sandbox)[0].granule_ur)
        event = await watch.next()
        assert [g["granule_ur"] for g in event["granules"]] == [published.granule_ur]
        assert event["granules"][0]["revision_id"] == 1 and event["granules"][0]["files"][0]["checksum"]
        await watch.nothing()  # seen once: not again, though every poll still finds it
        revised = await asyncio.to_thread(sandbox.revise, gunw(sandbox)[1].granule_ur)
        again = await watch.next()
        assert [(g["granule_ur"], g["revision_id"]) for g in again["granules"]] == [(revised.granule_ur, 2)]
        await watch.nothing()
        await watch.stop()
        kept = Watermark.from_dict(store.values[WATERMARK_KEY])
        assert set(kept.emitted) == {published.concept_id, revised.concept_id}

    async def test_a_restart_with_the_state_store_neither_repeats_nor_misses(self, sandbox):
        store = StateStore()
        watch = Watch(watcher(store))
        await watch.nothing(0.5)
        one = await asyncio.to_thread(sandbox.publish, gunw(sandbox)[0].granule_ur)
        assert [g["granule_ur"] for g in (await watch.next())["granules"]] == [one.granule_ur]
        await watch.nothing(0.5)  # the next polls kept the watermark
        await watch.stop()  # the triggerer stops, between two polls
        two = await asyncio.to_thread(sandbox.publish, gunw(sandbox)[3].granule_ur)  # while none runs
        _, kwargs = watcher().serialize()
        restarted = CmrNewGranulesTrigger(**kwargs)  # rebuilt from its row, as the triggerer does
        restarted.asset_state_store = store
        watch = Watch(restarted)
        assert [g["granule_ur"] for g in (await watch.next())["granules"]] == [two.granule_ur]
        await watch.nothing()
        await watch.stop()

    async def test_a_failing_poll_is_logged_and_tried_again_and_never_raises(self, sandbox, capfd):
        # A collection CMR does not know: every poll fails at once (the client's own retries are for outages).
        missing = CmrNewGranulesTrigger(collection_concept_id="C1-NOWHERE", poke_interval=0.1, max_interval=0.3)
        watch = Watch(missing)
        await watch.nothing(2.0)
        await watch.stop()
        logged = "".join(capfd.readouterr())  # the trigger logs through Airflow's structlog, to the console
        assert "CMR poll 1 failed" in logged and "CMR poll 2 failed" in logged and "knows no collection" in logged

    def test_a_bad_aoi_is_refused_when_the_dag_is_parsed(self):
        with pytest.raises(InvalidInputError):
            CmrNewGranulesTrigger(collection_concept_id=ARIA_S1_GUNW, aoi="POLYGON ((0 0, 1 1))")


class TestWatermark:
    def test_pairs_older_than_the_window_are_forgotten_and_a_new_revision_is_fresh(self):
        from datetime import UTC, datetime

        now = time.time()
        old = Granule("old", concept_id="G1", revision_id=1, revision_date=datetime.fromtimestamp(now - 500, UTC))
        recent = Granule("new", concept_id="G2", revision_id=1, revision_date=datetime.fromtimestamp(now - 10, UTC))
        mark = Watermark(now - 100).advance([old, recent], now, margin=60)
        assert set(mark.emitted) == {"G2"}  # G1 can no longer be returned by a search from now - 60 s
        assert fresh([recent], mark) == []
        assert fresh([Granule("new", concept_id="G2", revision_id=2)], mark)[0].revision_id == 2
        assert Watermark.from_dict(mark.to_dict()) == mark and Watermark.from_dict("junk") is None
