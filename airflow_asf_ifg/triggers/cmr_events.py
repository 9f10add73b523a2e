"""CmrNewGranulesTrigger: an event trigger (for an asset watcher) that fires when CMR has new or revised
granules of a collection over an area of interest.

Each poll searches CMR (streamed, search-after, with the client's retries) for granules revised since the
watermark (:mod:`airflow_asf_ifg.client.new_granules`), and yields one event per batch of new ones. The
watermark is kept in the asset's state store (Airflow 3.3), so a triggerer restart goes on where the last
poll ended: nothing emitted twice, nothing missed. Without a state store the watermark lives in memory and
a restart starts again from its own time minus the margin (what CMR revised while no triggerer ran longer
ago than the margin is then missed; the README says so). A failed poll is logged and tried again with
backoff; the trigger never raises.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_asf_ifg.client.granule import Granule
from airflow_asf_ifg.client.limits import check_positive
from airflow_asf_ifg.client.new_granules import DEFAULT_MARGIN, Watermark, fresh
from airflow_asf_ifg.exceptions import InvalidInputError
from airflow_asf_ifg.hooks import EARTHDATA_DEFAULT_CONN_ID
from airflow_asf_ifg.operators.cmr import compact  # the search operator's granule dicts, as copies take them
from airflow_asf_ifg.validation import check_aoi

__all__ = ["WATERMARK_KEY", "CmrNewGranulesTrigger"]

#: The asset state store key of the watermark.
WATERMARK_KEY = "cmr_watermark"


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
        self.collection_concept_id = collection_concept_id
        self.aoi = aoi
        self.earthdata_conn_id = earthdata_conn_id
        self.poke_interval = poke_interval
        self.margin = margin
        self.batch_size = batch_size
        self.max_interval = max_interval
        self._memory: Watermark | None = None  # where a triggerer without a state store keeps it

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
            },
        )

    def search(self, mark: Watermark) -> list[Granule]:
        """Every granule of the collection over the AOI revised since the watermark's lower bound (blocking).

        :param mark: the watermark.
        """
        from airflow_asf_ifg.hooks.cmr import CmrHook

        results = CmrHook(self.earthdata_conn_id).search(
            collection_concept_id=self.collection_concept_id,
            aoi=self.aoi,
            revision_date=(mark.lower_bound(self.margin), None),
        )
        return list(results)

    async def load(self) -> Watermark | None:
        """The watermark the asset's state store holds, or the one in memory."""
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return self._memory
        try:
            return Watermark.from_dict(await store.aget(WATERMARK_KEY))
        except Exception as error:  # a store that cannot be read: start from now, and say so
            self.log.warning("Could not read the watermark from the asset's state store: %s", error)
            return self._memory

    async def save(self, mark: Watermark) -> None:
        """Keep the watermark (state store if there is one, memory always).

        :param mark: the watermark.
        """
        self._memory = mark
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return
        try:
            await store.aset(WATERMARK_KEY, mark.to_dict())
        except Exception as error:
            self.log.warning("Could not keep the watermark in the asset's state store: %s", error)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll for ever; yield a batch of new granules whenever there are some."""
        mark = await self.load()
        if mark is None:
            mark = Watermark(time.time())
            self.log.info("Watching %s for granules revised from now on", self.collection_concept_id)
        failures = 0
        while True:
            polled_at = time.time()
            try:
                found = await asyncio.to_thread(self.search, mark)
            except Exception as error:  # logged and tried again: an event trigger never raises
                failures += 1
                delay = min(self.poke_interval * 2 ** min(failures, 10), self.max_interval)
                self.log.warning("CMR poll %d failed (%s); trying again in %.1f s", failures, error, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            new = fresh(found, mark)
            if new:
                self.log.info("%d new or revised granule(s) of %s", len(new), self.collection_concept_id)
            for first in range(0, len(new), self.batch_size):
                batch = new[first : first + self.batch_size]
                yield TriggerEvent(
                    {
                        "collection_concept_id": self.collection_concept_id,
                        "granules": [compact(g) for g in batch],
                    }
                )
            # Kept after the events are handed over: a crash in between repeats them (the copies are
            # idempotent) rather than losing them.
            mark = mark.advance(new, polled_at, self.margin)
            await self.save(mark)
            await asyncio.sleep(self.poke_interval)
