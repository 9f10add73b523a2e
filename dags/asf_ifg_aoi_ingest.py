"""Scheduled area-of-interest ingestion of Sentinel-1 interferograms into your own S3 bucket.

One DAG per entry of ``aois.yaml`` beside this file. Each daily run searches CMR over its data
interval, checks the login, the path the copies will take (today: HTTPS through the door) and the
destination bucket, waits in the triggerer for any archived product to be retrieved (the 2018 door;
today's services archive none), copies every product (one mapped task each; re-runs copy nothing
twice), and ends with a summary. Parsing this file reads the YAML and nothing else: no network, no boto3.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any

import yaml
from airflow.sdk import DAG, AssetAlias, Param, task

from airflow_asf_ifg.compat import AirflowFailException, CronDataIntervalTimetable
from airflow_asf_ifg.operators.cmr import CmrSearchOperator
from airflow_asf_ifg.operators.preflight import AsfPreflightOperator
from airflow_asf_ifg.sensors.archive import AsfArchiveStatusSensor
from airflow_asf_ifg.transfers.asf_to_s3 import DEFAULT_ASSET_ALIAS, AsfToS3Operator
from airflow_asf_ifg.validation import (
    BUCKET_PATTERN,
    FILE_ROLES,
    WINDOWS,
    check_aoi,
    check_bucket_name,
    check_files,
    check_window,
)

AOIS_FILE = Path(__file__).with_name("aois.yaml")
ARIA_S1_GUNW = "C2859376221-ASF"
DEFAULTS: dict[str, Any] = {
    "description": "Sentinel-1 interferograms from ASF into S3",
    "collection_concept_id": ARIA_S1_GUNW,
    "dest_prefix": "sentinel-1/{collection}/{granule_ur}/",
    "files": ["data"],
    "window": "acquisition",
    "schedule": "0 6 * * *",
    "start_date": "2015-01-01",
    "catchup": False,
    "archive_timeout_hours": 12,
    "retries": 2,
    "retry_delay_minutes": 5,
    "trigger": "schedule",
    "poll_minutes": 5,
    "tags": [],
}
#: How an entry's DAG runs: daily on its schedule (this file), or when CMR has new products (asf_ifg_new_products.py).
TRIGGERS = ("schedule", "events")
REQUIRED = ("dag_id", "aoi", "dest_bucket")
CONCEPT_ID_PATTERN = r"^C[0-9]+-[A-Z0-9_]+$"
log = logging.getLogger(__name__)


def load_aois(path: Path = AOIS_FILE) -> list[dict[str, Any]]:
    """The entries of ``aois.yaml`` with defaults filled in, each checked; errors name the entry and the key.

    :param path: the YAML file.
    """
    document = yaml.safe_load(path.read_text()) or {}
    entries = document.get("aois") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path} must hold a non-empty list under 'aois:'")
    aois, seen = [], set()
    for number, entry in enumerate(entries, start=1):
        where = f"{path.name} entry {number} ({entry.get('dag_id', 'no dag_id') if isinstance(entry, dict) else entry})"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be a mapping of keys to values")
        unknown = sorted(set(entry) - set(DEFAULTS) - set(REQUIRED))
        missing = [key for key in REQUIRED if not entry.get(key)]
        if unknown or missing:
            raise ValueError(
                f"{where}: unknown keys {unknown}, missing keys {missing}; the keys are listed at the "
                f"top of {path.name}"
            )
        aoi = {**DEFAULTS, **entry}
        try:
            _check(aoi, seen)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        seen.add(aoi["dag_id"])
        aois.append(aoi)
    return aois


def _check(aoi: dict[str, Any], seen: set[str]) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(aoi["dag_id"])) or aoi["dag_id"] in seen:
        raise ValueError(f"dag_id {aoi['dag_id']!r} must be unique and use only letters, digits, '_', '.', '-'")
    check_aoi(aoi["aoi"])
    aoi["files"] = check_files(aoi["files"])
    check_window(aoi["window"])
    check_bucket_name(aoi["dest_bucket"])  # S3 bucket naming rules, checked before anything runs
    if not re.fullmatch(CONCEPT_ID_PATTERN, str(aoi["collection_concept_id"])):
        raise ValueError(
            f"collection_concept_id {aoi['collection_concept_id']!r} is not a CMR collection concept "
            f"id such as {ARIA_S1_GUNW}"
        )
    aoi["start_date"] = dt.datetime.fromisoformat(str(aoi["start_date"])).replace(tzinfo=dt.UTC)
    if not isinstance(aoi["archive_timeout_hours"], int | float) or aoi["archive_timeout_hours"] <= 0:
        raise ValueError(f"archive_timeout_hours {aoi['archive_timeout_hours']!r} must be a positive number")
    if not isinstance(aoi["retries"], int) or isinstance(aoi["retries"], bool) or aoi["retries"] < 0:
        raise ValueError(f"retries {aoi['retries']!r} must be a whole number, 0 or more")
    delay = aoi["retry_delay_minutes"]
    if not isinstance(delay, int | float) or isinstance(delay, bool) or delay <= 0:
        raise ValueError(f"retry_delay_minutes {delay!r} must be a positive number")
    if aoi["trigger"] not in TRIGGERS:
        raise ValueError(f"trigger {aoi['trigger']!r} is not one of {list(TRIGGERS)}")
    poll = aoi["poll_minutes"]
    if not isinstance(poll, int | float) or isinstance(poll, bool) or poll <= 0:
        raise ValueError(f"poll_minutes {poll!r} must be a positive number")


def run_params(aoi: dict[str, Any]) -> dict[str, Param]:
    """The run parameters of one AOI's DAG (shown in the trigger form, checked before a run starts).

    :param aoi: a checked ``aois.yaml`` entry.
    """
    return {
        "aoi": Param(
            aoi["aoi"],
            type=["string", "array", "object"],
            title="Area of interest",
            description='WKT, GeoJSON, "lon,lat", [lon, lat] or [west, south, east, north]',
        ),
        "collection_concept_id": Param(
            aoi["collection_concept_id"],
            type="string",
            pattern=CONCEPT_ID_PATTERN,
            title="CMR collection",
            description=f"{ARIA_S1_GUNW} (ARIA_S1_GUNW); 2018 GRFN BETA: C1379535891-ASF, C1379522387-ASF, "
            f"C1379535600-ASF",
        ),
        "dest_bucket": Param(aoi["dest_bucket"], type="string", pattern=BUCKET_PATTERN, title="Destination bucket"),
        "dest_prefix": Param(
            aoi["dest_prefix"],
            type="string",
            title="Key prefix",
            description="{collection}, {granule_ur} and {concept_id} are filled in",
        ),
        "files": Param(
            aoi["files"],
            type="array",
            items={"type": "string", "enum": list(FILE_ROLES)},
            minItems=1,
            uniqueItems=True,
            title="Files of each granule",
        ),
        "window": Param(
            aoi["window"],
            type="string",
            enum=list(WINDOWS),
            title="Time window",
            description="acquisition: acquired in the data interval; revision: added or "
            "reprocessed in CMR in the data interval",
        ),
    }


@task.short_circuit(ignore_downstream_trigger_rules=False)
def found_products(granules: list[dict[str, Any]]) -> bool:
    """Let the run go on only when the search found something (an empty day ends the run as skipped)."""
    return bool(granules)


@task(trigger_rule="all_done")
def summarize(**context: Any) -> dict[str, Any]:
    """Counts, bytes, skips, failures and written keys of this run; fails the run when a product was not copied."""
    ti = context["ti"]
    granules = ti.xcom_pull(task_ids="search")
    if granules is None:
        raise AirflowFailException("the CMR search did not finish: see the 'search' task's log")
    copies = ti.xcom_pull(task_ids="copy", map_indexes=range(len(granules))) if granules else []
    files = [result for results in copies if results for result in results]
    failed = [granule["granule_ur"] for granule, results in zip(granules, copies, strict=True) if results is None]
    summary = {
        "data_interval": [str(context["data_interval_start"]), str(context["data_interval_end"])],
        "granules_found": len(granules),
        "files_copied": sum(result["status"] == "copied" for result in files),
        "files_skipped": sum(result["status"] == "skipped" for result in files),
        "bytes_copied": sum(result["bytes"] for result in files),
        "granules_failed": failed,
        "written": [f"s3://{result['bucket']}/{result['key']}" for result in files],
    }
    log.info(
        "Found %d granule(s): %d file(s) copied (%d bytes), %d already there, %d granule(s) failed",
        summary["granules_found"],
        summary["files_copied"],
        summary["bytes_copied"],
        summary["files_skipped"],
        len(failed),
    )
    for url in summary["written"]:
        log.info("  %s", url)
    if failed:
        raise AirflowFailException(
            f"{len(failed)} granule(s) were not copied: {', '.join(failed)}; the first failed "
            f"task of this run says why (re-running copies only what is missing)"
        )
    return summary


def build_dag(aoi: dict[str, Any]) -> DAG:
    """One AOI's ingestion DAG: search → preflight → archive wait → copy (mapped) → summary.

    :param aoi: a checked ``aois.yaml`` entry.
    """
    with DAG(
        dag_id=aoi["dag_id"],
        description=aoi["description"],
        # An interval timetable: each run covers [data_interval_start, data_interval_end), one day.
        schedule=CronDataIntervalTimetable(aoi["schedule"], timezone="UTC"),
        start_date=aoi["start_date"],
        catchup=aoi["catchup"],
        max_active_runs=3,  # a backfill of many days does not open hundreds of copies at once
        params=run_params(aoi),
        render_template_as_native_obj=True,  # "{{ params.files }}" renders as a list, not its text
        default_args={"retries": aoi["retries"], "retry_delay": dt.timedelta(minutes=aoi["retry_delay_minutes"])},
        tags=["asf", "sentinel-1", "insar", *aoi["tags"]],
        doc_md=__doc__,
    ) as dag:
        search = CmrSearchOperator(
            task_id="search",
            collection_concept_id="{{ params.collection_concept_id }}",
            aoi="{{ params.aoi }}",
            window="{{ params.window }}",
        )
        # One check of the login, the first product's path and the bucket, so a mistake fails once, not per copy.
        preflight = AsfPreflightOperator(
            task_id="preflight",
            granules=search.output,
            files="{{ params.files }}",
            dest_bucket="{{ params.dest_bucket }}",
        )
        # Only products go to long-term storage; browse images and metadata are always at hand.
        wait = AsfArchiveStatusSensor(
            task_id="wait_for_archive",
            granules=search.output,
            files=["data"],
            deferrable=True,
            poke_interval=30,
            timeout=aoi["archive_timeout_hours"] * 3600,
        )
        copy = AsfToS3Operator.partial(
            task_id="copy",
            dest_bucket="{{ params.dest_bucket }}",
            dest_prefix="{{ params.dest_prefix }}",
            files="{{ params.files }}",
            on_archived="defer",
            max_active_tis_per_dagrun=4,
            outlets=[AssetAlias(DEFAULT_ASSET_ALIAS)],
        ).expand(granule=search.output)
        found_products(search.output) >> preflight >> wait >> copy
        copy >> summarize()
    return dag


# asf_ifg_new_products.py loads this file under this name for load_aois alone: a DAG made then would be
# registered as one of that file's.
AOIS_ONLY_MODULE = "asf_ifg_aoi_ingest_aois"

if __name__ != AOIS_ONLY_MODULE:
    for _aoi in load_aois():
        if _aoi["trigger"] == "schedule":  # the others are event-driven: asf_ifg_new_products.py builds them
            globals()[_aoi["dag_id"]] = build_dag(_aoi)
