"""CmrNewGranulesTrigger: an event trigger (for an asset watcher) that fires when CMR has new or revised
granules of a collection over an area of interest.

Each poll searches CMR (streamed, search-after, with the client's retries) for granules revised since the
watermark (:mod:`airflow_asf_ifg.client.new_granules`), and yields one event per batch of new ones.

- **State.** The watermark is kept in the asset's state store (Airflow 3.3), or, before 3.3, in an Airflow
  Variable (:mod:`airflow_asf_ifg.triggers.watermark_store`), so a triggerer restart goes on where the last
  poll ended: nothing emitted twice, nothing missed. It is written a few seconds after the events are handed
  to the triggerer (which sends them to the database each second or so): a crash in that window repeats
  them (the copies are idempotent) rather than losing them. Only if neither store can be read does the
  watermark live in memory, and a restart starts from its own time minus the margin.
- **Shared poll** (Airflow 3.3, ``shared_poll=True``): the watchers of one collection on one triggerer, with
  the same connection, interval and margin, share one search of the whole collection per interval; each
  keeps the granules whose footprint touches its AOI (:func:`airflow_asf_ifg.client.aoi_match.touches`).
  A watcher whose watermark is older than the shared poll's window (it was restarted, or the shared poll
  was) first searches the gap itself, over its AOI. Airflow before 3.3 never asks for the shared stream:
  each watcher polls its AOI on its own.
- A failed poll is logged and tried again with backoff; the trigger never raises.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Hashable, Iterable
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_asf_ifg.client.granule import Granule
from airflow_asf_ifg.client.limits import check_positive
from airflow_asf_ifg.client.new_granules import DEFAULT_MARGIN, Poll, Watermark, fresh, merged
from airflow_asf_ifg.exceptions import InvalidInputError
from airflow_asf_ifg.hooks import EARTHDATA_DEFAULT_CONN_ID
from airflow_asf_ifg.operators.cmr import compact  # the search operator's granule dicts, as copies take them
from airflow_asf_ifg.triggers.threads import in_thread
from airflow_asf_ifg.triggers.watermark_store import StateStore, VariableStateStore
from airflow_asf_ifg.validation import check_aoi

__all__ = ["PERSIST_GRACE", "WATERMARK_KEY", "CmrNewGranulesTrigger"]

#: The asset state store key of the watermark.
WATERMARK_KEY = "cmr_watermark"
#: Seconds between handing events to the triggerer and keeping the watermark past them: the triggerer
#: sends its events to the database on its next loop, about a second later.
PERSIST_GRACE = 5.0
#: The shared poll's arguments: siblings that agree on them share it (the AOI is each one's own filter).
_SHARED_ARGUMENTS = ("collection_concept_id", "earthdata_conn_id", "poke_interval", "margin", "max_interval")


class CmrNewGranulesTrigger(BaseEventTrigger):
    """Fire for each batch of granules CMR adds to (or revises in) a collection over an AOI.

    Each event is ``{"collection_concept_id": ..., "granules": [granule dicts]}``: concept id, revision id,
    GranuleUR and the files with URL, size and MD5, in the search operator's form, which
    ``AsfToS3Operator(granules=...)`` takes.

    :param collection_concept_id: the CMR collection, e.g. ``C2859376221-ASF`` (ARIA_S1_GUNW).
    :param aoi: the area of interest, in any form the search takes (None: the whole collection).
    :param earthdata_conn_id: the ``earthdata`` connection (CMR URL and token).
    :param poke_interval: seconds between polls.
    :param margin: seconds the watermark trails the previous poll (CMR's indexing lag).
    :param batch_size: the most granules in one event.
    :param max_interval: the longest wait after failed polls.
    :param shared_poll: on Airflow 3.3, share one search of the collection with the other watchers of it that
        agree on connection, interval and margin (False: this watcher searches its AOI alone).
    """

    def __init__(
        self,
        *,
        collection_concept_id: str,
        aoi: Any = None,
        earthdata_conn_id: str = EARTHDATA_DEFAULT_CONN_ID,
        poke_interval: float = 300.0,
        margin: float = DEFAULT_MARGIN,
        batch_size: int = 50,
        max_interval: float = 1800.0,
        shared_poll: bool = True,
    ) -> None:
        super().__init__()
        # Checked when the DAG is parsed, without the CMR client (requests) that only the triggerer needs.
        if not isinstance(collection_concept_id, str) or not collection_concept_id.strip():
            raise InvalidInputError(f"collection_concept_id {collection_concept_id!r} must be a non-empty string")
        if aoi is not None:
            check_aoi(aoi)
        check_positive("poke_interval", poke_interval)
        check_positive("margin", margin)
        check_positive("batch_size", batch_size, integer=True)
        check_positive("max_interval", max_interval)
        if not isinstance(shared_poll, bool):
            raise InvalidInputError(f"shared_poll {shared_poll!r} must be True or False")
        self.collection_concept_id = collection_concept_id
        self.aoi = aoi
        self.earthdata_conn_id = earthdata_conn_id
        self.poke_interval = poke_interval
        self.margin = margin
        self.batch_size = batch_size
        self.max_interval = max_interval
        self.shared_poll = shared_poll
        self._memory: Watermark | None = None  # where a triggerer that can keep it nowhere else keeps it

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and every argument: stable across DAG parses (the watcher's identity)."""
        return (
            "airflow_asf_ifg.triggers.cmr_events.CmrNewGranulesTrigger",
            {
                "collection_concept_id": self.collection_concept_id,
                "aoi": self.aoi,
                "earthdata_conn_id": self.earthdata_conn_id,
                "poke_interval": self.poke_interval,
                "margin": self.margin,
                "batch_size": self.batch_size,
                "max_interval": self.max_interval,
                "shared_poll": self.shared_poll,
            },
        )

    # ------------------------------------------------------------------------------------------ searching
    @classmethod
    def _search(cls, earthdata_conn_id: str, collection_concept_id: str, aoi: Any, since: float) -> tuple[Granule, ...]:
        """Every granule of the collection over the AOI revised since ``since`` (blocking).

        :param earthdata_conn_id: the ``earthdata`` connection.
        :param collection_concept_id: the collection.
        :param aoi: the AOI (None: the whole collection).
        :param since: epoch seconds.
        """
        from datetime import UTC, datetime

        from airflow_asf_ifg.hooks.cmr import CmrHook

        results = CmrHook(earthdata_conn_id).search(
            collection_concept_id=collection_concept_id,
            aoi=aoi,
            revision_date=(datetime.fromtimestamp(since, UTC), None),
        )
        return tuple(results)

    async def search(self, since: float) -> tuple[Granule, ...]:
        """This watcher's own search: its AOI, revised since ``since`` (in a thread: the client blocks).

        :param since: epoch seconds.
        """
        return await in_thread(self._search, self.earthdata_conn_id, self.collection_concept_id, self.aoi, since)

    @classmethod
    async def polls(
        cls, *, since: float, margin: float, poke_interval: float, max_interval: float, log: Any, search: Any
    ) -> AsyncIterator[Poll]:
        """Poll for ever: each window starts ``margin`` before the previous poll; failures back off.

        :param since: epoch seconds the first window starts from.
        :param margin: seconds each window reaches back before the previous poll (CMR's indexing lag).
        :param poke_interval: seconds between polls.
        :param max_interval: the longest wait after failed polls.
        :param log: where failures are reported.
        :param search: ``async (since) -> granules``.
        """
        failures = 0
        while True:
            polled_at = time.time()
            try:
                found = await search(since)
            except Exception as error:  # logged and tried again: an event trigger never raises
                failures += 1
                delay = min(poke_interval * 2 ** min(failures, 10), max_interval)
                log.warning("CMR poll %d failed (%s); trying again in %.1f s", failures, error, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            yield Poll(since, polled_at, found)
            since = polled_at - margin
            await asyncio.sleep(poke_interval)

    # ---------------------------------------------------------------------------------------- the state
    def state_store(self) -> StateStore:
        """The asset's state store (Airflow 3.3), or Variables named after this watch (before 3.3)."""
        store = getattr(self, "asset_state_store", None)
        if store is not None:
            return store
        return VariableStateStore([self.collection_concept_id, self.aoi, self.earthdata_conn_id])

    async def load(self) -> Watermark | None:
        """The kept watermark; None when there is none (a watch that starts from now)."""
        try:
            kept = Watermark.from_dict(await self.state_store().aget(WATERMARK_KEY))
        except Exception as error:  # a store that cannot be read: go on from memory, and say so
            self.log.warning("Could not read the watermark (%s); keeping it in memory", error)
            kept = self._memory
        if kept is None:
            self.log.info("Watching %s for granules revised from now on", self.collection_concept_id)
        return kept

    async def save(self, mark: Watermark) -> None:
        """Keep the watermark (in the store, and in memory always).

        :param mark: the watermark.
        """
        self._memory = mark
        try:
            await self.state_store().aset(WATERMARK_KEY, mark.to_dict())
        except Exception as error:
            self.log.warning("Could not keep the watermark (%s); a restart would search from memory", error)

    # ----------------------------------------------------------------------------------------- the events
    def events(self, new: list[Granule]) -> Iterable[TriggerEvent]:
        """The new granules, ``batch_size`` to an event.

        :param new: granules not emitted before.
        """
        if new:
            self.log.info("%d new or revised granule(s) of %s", len(new), self.collection_concept_id)
        for first in range(0, len(new), self.batch_size):
            batch = new[first : first + self.batch_size]
            yield TriggerEvent(
                {"collection_concept_id": self.collection_concept_id, "granules": [compact(g) for g in batch]}
            )

    async def advance(self, mark: Watermark, new: list[Granule], polled_at: float) -> Watermark:
        """The watermark past a poll, kept once the poll's events have had time to reach the database.

        :param mark: the watermark before the poll.
        :param new: what the poll emitted.
        :param polled_at: when the poll's search started.
        """
        if new:
            await asyncio.sleep(min(PERSIST_GRACE, self.poke_interval))
        mark = mark.advance(new, polled_at, self.margin)
        await self.save(mark)
        return mark

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll this watcher's AOI for ever; yield a batch of new granules whenever there are some."""
        mark = await self.load() or Watermark(time.time())
        polls = self.polls(
            since=mark.since - self.margin,
            margin=self.margin,
            poke_interval=self.poke_interval,
            max_interval=self.max_interval,
            log=self.log,
            search=self.search,
        )
        async for poll in polls:
            new = fresh(poll.granules, mark)
            for event in self.events(new):
                yield event
            mark = await self.advance(mark, new, poll.polled_at)

    # ------------------------------------------------------------------------------------ the shared poll
    def shared_stream_key(self) -> Hashable | None:
        """Watchers of one collection with the same connection, interval and margin share one poll."""
        if not self.shared_poll:
            return None
        _, kwargs = self.serialize()
        return ("airflow_asf_ifg.cmr_new_granules", *(repr(kwargs[name]) for name in _SHARED_ARGUMENTS))

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        """The shared poll: the whole collection, revised since the previous poll minus the margin, for ever.

        :param kwargs: one sibling's arguments (only the shared ones are used).
        """
        import structlog

        conn_id, collection = kwargs["earthdata_conn_id"], kwargs["collection_concept_id"]

        async def search(since: float) -> tuple[Granule, ...]:
            return await in_thread(cls._search, conn_id, collection, None, since)

        log = structlog.get_logger(cls.__module__)
        log.info("One shared CMR poll for the watchers of %s", collection)
        polls = cls.polls(
            since=time.time() - kwargs["margin"],
            margin=kwargs["margin"],
            poke_interval=kwargs["poke_interval"],
            max_interval=kwargs["max_interval"],
            log=log,
            search=search,
        )
        async for poll in polls:
            yield poll

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        """This watcher's granules from the shared poll: those over its AOI, after its own search of any gap.

        :param shared_stream: the shared poll's :class:`Poll` objects.
        """
        from airflow_asf_ifg.client.aoi import parse_aoi
        from airflow_asf_ifg.client.aoi_match import touches

        aoi = parse_aoi(self.aoi) if self.aoi is not None else None
        mark = await self.load()
        async for poll in shared_stream:
            if mark is None:  # a new watch starts where the shared window does: no gap to search
                mark = Watermark(poll.since + self.margin)
            found: Iterable[Granule] = [g for g in poll.granules if touches(aoi, g.footprint)]
            if mark.leaves_gap(poll, self.margin):
                # Revised between this watcher's watermark and the shared window: searched here, over the AOI.
                try:
                    found = merged(await self.search(mark.since - self.margin), found)
                except Exception as error:  # the watermark stays; the next shared poll tries the gap again
                    self.log.warning("CMR search of the gap since the watermark failed (%s)", error)
                    continue
            new = fresh(found, mark)
            for event in self.events(new):
                yield event
            mark = await self.advance(mark, new, poll.polled_at)
