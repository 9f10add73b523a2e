"""CmrNewGranulesTrigger against the sandbox's CMR: new granules and new revisions fire once, and a restart
with the asset's state store goes on without repeating or missing one."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from airflow_asf_ifg.client.granule import Granule
from airflow_asf_ifg.client.new_granules import Watermark, fresh
from airflow_asf_ifg.compat import HAS_SHARED_STREAMS
from airflow_asf_ifg.exceptions import InvalidInputError
from airflow_asf_ifg.sandbox.demo import ARIA_S1_GUNW
from airflow_asf_ifg.triggers.cmr_events import WATERMARK_KEY, CmrNewGranulesTrigger
from airflow_asf_ifg.triggers.watermark_store import MemoryStateStore


def watcher(store: MemoryStateStore | None = None, margin: float = 60, **kwargs) -> CmrNewGranulesTrigger:
    trigger = CmrNewGranulesTrigger(collection_concept_id=ARIA_S1_GUNW, poke_interval=0.2, margin=margin, **kwargs)
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
        store = MemoryStateStore()
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
        store = MemoryStateStore()
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


def centre(ring) -> tuple[float, float]:
    return sum(p[0] for p in ring[:-1]) / (len(ring) - 1), sum(p[1] for p in ring[:-1]) / (len(ring) - 1)


def two_apart(sandbox) -> tuple:
    """Two GUNW granules whose footprints do not touch: each watcher's AOI is a point inside one."""
    from airflow_asf_ifg.client.geometry import rings_intersect

    granules = gunw(sandbox)
    first = granules[0]
    second = next(g for g in granules if not rings_intersect(g.footprint, first.footprint))
    return first, second


class Group:
    """Watchers subscribed to one shared poll through Airflow's own SharedStreamManager, as the triggerer does."""

    def __init__(self) -> None:
        from airflow_asf_ifg.compat import SharedStreamManager

        self.manager = SharedStreamManager()
        self.watches: list[Watch] = []
        self.keys: list = []

    def add(self, trigger: CmrNewGranulesTrigger) -> Watch:
        key = trigger.shared_stream_key()
        number = len(self.watches)
        stream = self.manager.subscribe(trigger_id=number, trigger=trigger, key=key)
        watch = Watch.__new__(Watch)
        watch.events = asyncio.Queue()

        async def pump() -> None:
            try:
                async for event in trigger.filter_shared_stream(stream):
                    await watch.events.put(event.payload)
            finally:
                await self.manager.unsubscribe(number, key)

        watch.task = asyncio.ensure_future(pump())
        self.watches.append(watch)
        self.keys.append(key)
        return watch

    async def stop(self) -> None:
        for watch in self.watches:
            await watch.stop()
        await self.manager.stop_all()


def granule_requests(sandbox) -> int:
    return sandbox.stats.snapshot()["requests"].get("cmr_granules", 0)


class TestTriggererSharing:
    def test_only_airflow_3_3_can_share_a_poll(self):
        # Before 3.3 the triggerer never asks a trigger for its shared_stream_key: each watcher runs run() alone.
        from airflow.triggers.base import BaseEventTrigger

        assert hasattr(BaseEventTrigger, "shared_stream_key") is HAS_SHARED_STREAMS
        assert watcher().shared_stream_key() is not None  # asked for or not, the key is there


@pytest.mark.skipif(not HAS_SHARED_STREAMS, reason="shared streams arrived in Airflow 3.3: each watcher polls alone")
class TestSharedPoll:
    async def test_watchers_of_one_collection_share_one_search_and_each_gets_its_aoi(self, sandbox):
        here, there = two_apart(sandbox)
        group = Group()
        near = group.add(watcher(MemoryStateStore(), aoi=centre(here.footprint)))
        far = group.add(watcher(MemoryStateStore(), aoi=centre(there.footprint)))
        everything = group.add(watcher(MemoryStateStore()))
        crowd = [group.add(watcher(MemoryStateStore(), aoi=(-150.0 + n, -60.0))) for n in range(17)]  # over the ocean
        assert len(set(group.keys)) == 1 and group.keys[0] is not None
        await near.nothing(0.5)
        before = granule_requests(sandbox)
        await near.nothing(2.0)
        polls = granule_requests(sandbox) - before
        # One search of the collection per 0.2 s interval for all 20 watchers (alone, each would make its own).
        assert 1 <= polls <= 2.0 / 0.2 + 3, polls
        published = await asyncio.to_thread(sandbox.publish, here.granule_ur)
        assert [g["granule_ur"] for g in (await near.next())["granules"]] == [published.granule_ur]
        assert [g["granule_ur"] for g in (await everything.next())["granules"]] == [published.granule_ur]
        await far.nothing(1.0)
        for watch in crowd:
            assert watch.events.empty() and not watch.task.done()
        await group.stop()

    async def test_a_watcher_restarted_into_a_running_poll_searches_its_gap_itself(self, sandbox):
        here, there = two_apart(sandbox)
        store = MemoryStateStore()
        group = Group()
        # A margin of 1.5 s (the sandbox keeps revision dates to the second): the shared window soon moves on.
        group.add(watcher(MemoryStateStore(), margin=1.5, aoi=centre(there.footprint)))  # keeps the shared poll going
        first = group.add(watcher(store, margin=1.5, aoi=centre(here.footprint)))
        await first.nothing(0.5)
        await first.stop()  # this watcher stops; its watermark stays in its store
        missed = await asyncio.to_thread(sandbox.publish, here.granule_ur)  # while it is away
        await asyncio.sleep(3.5)  # the shared poll goes on: its window moves past the publication
        again = group.add(watcher(store, margin=1.5, aoi=centre(here.footprint)))
        assert [g["granule_ur"] for g in (await again.next())["granules"]] == [missed.granule_ur]
        await again.nothing(1.0)  # and only once
        await group.stop()

    def test_the_key_differs_when_the_poll_could_not_be_the_same(self):
        key = watcher().shared_stream_key()
        assert watcher(aoi=(1.0, 2.0)).shared_stream_key() == key  # the AOI is each watcher's own filter
        assert CmrNewGranulesTrigger(collection_concept_id=ARIA_S1_GUNW, poke_interval=5).shared_stream_key() != key
        assert watcher(earthdata_conn_id="other").shared_stream_key() != key
        assert watcher(shared_poll=False).shared_stream_key() is None
        with pytest.raises(InvalidInputError, match="shared_poll"):
            watcher(shared_poll="yes")


class TestVariableStateStore:
    def test_each_watch_has_its_own_variable_and_the_names_are_stable(self):
        from airflow_asf_ifg.triggers.watermark_store import VariableStateStore, variable_name

        one = variable_name(WATERMARK_KEY, [ARIA_S1_GUNW, (1.0, 2.0), "earthdata_default"])
        assert one == variable_name(WATERMARK_KEY, [ARIA_S1_GUNW, [1.0, 2.0], "earthdata_default"])
        assert one != variable_name(WATERMARK_KEY, [ARIA_S1_GUNW, (1.0, 3.0), "earthdata_default"])
        assert one.startswith("asf_ifg_cmr_watermark_")
        store = watcher(None, aoi=(1.0, 2.0)).state_store()
        assert isinstance(store, VariableStateStore)  # no asset state store: Variables, as before Airflow 3.3

    async def test_a_store_that_cannot_be_read_or_written_leaves_the_watch_in_memory(self, sandbox):
        # Outside a triggerer the SDK's Variables cannot be reached: the watch goes on, from memory.
        watch = Watch(watcher(None))
        await watch.nothing(1.0)
        published = await asyncio.to_thread(sandbox.publish, gunw(sandbox)[0].granule_ur)
        assert [g["granule_ur"] for g in (await watch.next())["granules"]] == [published.granule_ur]
        await watch.nothing(1.0)
        await watch.stop()


class TestTouches:
    RING = ((0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0), (0.0, 0.0))
    FOOTPRINT = {"type": "Polygon", "coordinates": [[list(p) for p in RING]]}

    @pytest.mark.parametrize(
        ("aoi", "expected"),
        [
            ((1.0, 1.0), True),  # a point inside
            ((3.0, 1.0), False),
            ((1.5, 1.5, 5.0, 5.0), True),  # a box overlapping
            ((2.5, 2.5, 5.0, 5.0), False),
            ((170.0, -1.0, -170.0, 1.0), False),  # a box across the antimeridian, far from it
            ("POLYGON ((-1 -1, 3 -1, 3 3, -1 3, -1 -1))", True),  # containing the footprint
            ("POLYGON ((0.5 0.5, 1 0.5, 1 1, 0.5 0.5))", True),  # inside it
            ("POLYGON ((5 5, 6 5, 6 6, 5 5))", False),
            ("MULTIPOLYGON (((5 5, 6 5, 6 6, 5 5)), ((1 1, 4 1, 4 4, 1 1)))", True),  # any of its parts
        ],
    )
    def test_as_cmr_matches_a_footprint(self, aoi, expected):
        from airflow_asf_ifg.client.aoi import parse_aoi
        from airflow_asf_ifg.client.aoi_match import touches

        assert touches(parse_aoi(aoi), self.FOOTPRINT) is expected
        multi = {
            "type": "MultiPolygon",
            "coordinates": [[[[10, 10], [11, 10], [11, 11], [10, 10]]], *[self.FOOTPRINT["coordinates"]]],
        }
        assert touches(parse_aoi(aoi), multi) is expected

    def test_no_footprint_never_matches_and_no_aoi_always_does(self):
        from airflow_asf_ifg.client.aoi import parse_aoi
        from airflow_asf_ifg.client.aoi_match import touches

        assert not touches(parse_aoi((1.0, 1.0)), None)
        assert touches(None, None) and touches(None, self.FOOTPRINT)
        assert touches(parse_aoi((0.0, 0.0, 3.0, 3.0)), {"type": "Point", "coordinates": [1.0, 1.0]})

    def test_a_box_across_the_antimeridian_matches_on_either_side(self):
        from airflow_asf_ifg.client.aoi import parse_aoi
        from airflow_asf_ifg.client.aoi_match import touches

        box = parse_aoi((170.0, -1.0, -170.0, 1.0))
        west_of = {"type": "Polygon", "coordinates": [[[-179, 0], [-178, 0], [-178, 2], [-179, 0]]]}
        east_of = {"type": "Polygon", "coordinates": [[[175, 0], [176, 0], [176, 2], [175, 0]]]}
        assert touches(box, west_of) and touches(box, east_of)
