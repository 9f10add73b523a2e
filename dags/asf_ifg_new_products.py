"""Event-driven ingestion: new Sentinel-1 interferograms copied into your bucket minutes after CMR has them.

One DAG per entry of ``aois.yaml`` with ``trigger: events``. Each DAG is scheduled on an asset whose
watcher, ``CmrNewGranulesTrigger`` in the triggerer, polls CMR every ``poll_minutes`` for granules of the
entry's collection over its AOI that are new or were reprocessed (a new revision), and sends an asset
event per batch. Each run copies exactly the granules its triggering events carry (several events folded
into one run are all handled; a granule in two of them is copied once), with the same copy operator as
the daily DAG: a reprocessed product with new bytes is copied again, one whose bytes did not change is
skipped (0 bytes). Parsing this file reads the YAML and nothing else: no network, no boto3.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, AssetAlias, AssetWatcher, task

from airflow_asf_ifg.transfers.asf_to_s3 import DEFAULT_ASSET_ALIAS, AsfToS3Operator
from airflow_asf_ifg.triggers.cmr_events import CmrNewGranulesTrigger

log = logging.getLogger(__name__)


def _daily_dag_module() -> Any:
    """The daily DAG's file, for its ``aois.yaml`` reader (loaded by path: a DAG folder is not a package), under
    the name that makes it build no DAG."""
    spec = importlib.util.spec_from_file_location(
        "asf_ifg_aoi_ingest_aois", Path(__file__).with_name("asf_ifg_aoi_ingest.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def products_asset(aoi: dict[str, Any]) -> Asset:
    """The asset of an entry's new products, watched by a :class:`CmrNewGranulesTrigger`.

    :param aoi: a checked ``aois.yaml`` entry.
    """
    watcher = AssetWatcher(
        name=f"{aoi['dag_id']}_cmr",
        trigger=CmrNewGranulesTrigger(
            collection_concept_id=aoi["collection_concept_id"],
            aoi=aoi["aoi"],
            poke_interval=float(aoi["poll_minutes"]) * 60,
        ),
    )
    return Asset(name=f"asf_ifg_new_products.{aoi['dag_id']}", watchers=[watcher])


@task
def granules_from_events(*, triggering_asset_events: Any = None) -> list[dict[str, Any]]:
    """The granules the run's asset events carry, each (concept id, revision id) once."""
    chosen: dict[tuple[Any, Any], dict[str, Any]] = {}
    events = [event for found in (triggering_asset_events or {}).values() for event in found]
    for event in events:
        payload = (event.extra or {}).get("payload") or {}
        for granule in payload.get("granules") or []:
            chosen[(granule.get("concept_id"), granule.get("revision_id"))] = granule
    log.info("%d asset event(s) carry %d new or revised granule(s)", len(events), len(chosen))
    return list(chosen.values())


def build_event_dag(aoi: dict[str, Any]) -> DAG:
    """One entry's event-driven DAG: the granules of the triggering events → copy (mapped).

    :param aoi: a checked ``aois.yaml`` entry with ``trigger: events``.
    """
    with DAG(
        dag_id=aoi["dag_id"],
        description=aoi["description"],
        schedule=[products_asset(aoi)],
        start_date=aoi["start_date"],
        catchup=False,
        max_active_runs=3,
        default_args={"retries": aoi["retries"], "retry_delay": dt.timedelta(minutes=aoi["retry_delay_minutes"])},
        tags=["asf", "sentinel-1", "insar", "events", *aoi["tags"]],
        doc_md=__doc__,
    ) as dag:
        granules = granules_from_events()
        AsfToS3Operator.partial(
            task_id="copy",
            dest_bucket=aoi["dest_bucket"],
            dest_prefix=aoi["dest_prefix"],
            files=aoi["files"],
            on_archived="defer",
            max_active_tis_per_dagrun=4,
            outlets=[AssetAlias(DEFAULT_ASSET_ALIAS)],
        ).expand(granule=granules)
    return dag


for _aoi in _daily_dag_module().load_aois():
    if _aoi["trigger"] == "events":
        globals()[_aoi["dag_id"]] = build_event_dag(_aoi)
