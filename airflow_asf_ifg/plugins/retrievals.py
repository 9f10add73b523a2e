"""The "ASF retrievals" page of the Airflow UI: what the sensors and copies wait for, and what recent copies did.

Where the states come from: each waiting trigger publishes its products' states, with since when, in an XCom
of its task instance (:mod:`airflow_asf_ifg.triggers.progress`) whenever one changes. The page reads those
XComs and the copies' results from the metadata database, in the API server, like the rest of the UI. So a
page view asks ASF nothing (a thousand waiting products cost the status source no request more than the
triggers already make), shows what the trigger saw whichever host runs it, and the states are at most one
poll old. Only names, states, times and sizes leave: no URL with a token, no connection, no credential.

Every request needs an Airflow user (the JWT of the UI's session cookie, or a bearer token), and shows only
the DAGs that user may read; plugin endpoints are not protected by Airflow on their own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException, Query, status
from fastapi.responses import HTMLResponse

from airflow_asf_ifg.plugins.page import PAGE
from airflow_asf_ifg.triggers.progress import WAITING_XCOM_KEY

__all__ = ["COPY_OPERATORS", "WAITING_OPERATORS", "create_app", "recent_copies", "waiting_products"]

#: Operators whose task instances wait for products (their triggers publish the XCom).
WAITING_OPERATORS = ("AsfArchiveStatusSensor", "S3ObjectRestoredSensor", "AsfToS3Operator")
#: Operators whose results the page lists as copies.
COPY_OPERATORS = ("AsfToS3Operator",)
#: The most task instances one answer lists (the page is a view, not an export).
MAX_ROWS = 500


def readable_dag_ids(user: Any) -> set[str]:
    """The DAGs ``user`` may read, as Airflow's auth manager says.

    :param user: the authenticated user.
    """
    from airflow.api_fastapi.app import get_auth_manager

    return set(get_auth_manager().get_authorized_dag_ids(user=user, method="GET"))


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def _task_link(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """The task instance's page in the Airflow UI."""
    path = f"/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id)}"
    return f"{path}/mapped/{map_index}" if map_index >= 0 else path


def _task_instances(session: Any, dag_ids: set[str], operators: tuple[str, ...], since: datetime) -> list[Any]:
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    query = (
        select(TaskInstance)
        .where(TaskInstance.dag_id.in_(dag_ids), TaskInstance.operator.in_(operators))
        .where((TaskInstance.start_date >= since) | (TaskInstance.state == "deferred"))
        .order_by(TaskInstance.start_date.desc())
        .limit(MAX_ROWS)
    )
    return list(session.scalars(query))


def _xcoms(session: Any, key: str, instances: list[Any]) -> dict[tuple[str, str, str, int], Any]:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select, tuple_

    if not instances:
        return {}
    wanted = [(ti.dag_id, ti.run_id, ti.task_id, ti.map_index) for ti in instances]
    rows = session.scalars(
        select(XComModel).where(
            XComModel.key == key,
            tuple_(XComModel.dag_id, XComModel.run_id, XComModel.task_id, XComModel.map_index).in_(wanted),
        )
    )
    return {(x.dag_id, x.run_id, x.task_id, x.map_index): XComModel.deserialize_value(x) for x in rows}


def waiting_products(session: Any, dag_ids: set[str], since: datetime) -> list[dict[str, Any]]:
    """Task instances that wait (or waited, since ``since``) for products, with the states their trigger saw.

    :param session: a metadata database session.
    :param dag_ids: the DAGs the user may read.
    :param since: the oldest task start to list (deferred ones are always listed).
    """
    instances = _task_instances(session, dag_ids, WAITING_OPERATORS, since)
    published = _xcoms(session, WAITING_XCOM_KEY, instances)
    rows = []
    for ti in instances:
        document = published.get((ti.dag_id, ti.run_id, ti.task_id, ti.map_index))
        if document is None and ti.state != "deferred":
            continue  # a copy that never waited, or a sensor that found everything at its first poke
        document = document if isinstance(document, dict) else {}
        products = [_product(p) for p in document.get("products") or [] if isinstance(p, dict)]
        counts: dict[str, int] = {}
        for product in products:
            counts[product["state"]] = counts.get(product["state"], 0) + 1
        rows.append(
            {
                "dag_id": ti.dag_id,
                "run_id": ti.run_id,
                "task_id": ti.task_id,
                "map_index": ti.map_index,
                "label": ti.rendered_map_index or "",
                "task_state": ti.state,
                "task_url": _task_link(ti.dag_id, ti.run_id, ti.task_id, ti.map_index),
                "updated": document.get("updated"),
                "next_check": document.get("next_check") if ti.state == "deferred" else None,
                "counts": counts,
                "products": products,
            }
        )
    return rows


def _product(published: dict[str, Any]) -> dict[str, Any]:
    """One published product as the page shows it, with its CMR record's link (names and times only)."""
    name = str(published.get("name") or "")
    stem = name.rsplit("/", 1)[-1].split(".", 1)[0]
    return {
        "name": name,
        "state": str(published.get("state") or "unknown"),
        "since": published.get("since"),
        "expires": published.get("expires"),
        "cmr_url": f"https://cmr.earthdata.nasa.gov/search/granules.umm_json?{urlencode({'granule_ur': stem})}",
    }


def recent_copies(session: Any, dag_ids: set[str], since: datetime) -> list[dict[str, Any]]:
    """Each file the copy tasks started since ``since`` wrote or skipped, and each copy task that failed.

    :param session: a metadata database session.
    :param dag_ids: the DAGs the user may read.
    :param since: the oldest task start to list.
    """
    instances = [ti for ti in _task_instances(session, dag_ids, COPY_OPERATORS, since) if ti.state != "deferred"]
    results = _xcoms(session, "return_value", instances)
    rows = []
    for ti in instances:
        common = {
            "dag_id": ti.dag_id,
            "run_id": ti.run_id,
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "label": ti.rendered_map_index or "",
            "task_url": _task_link(ti.dag_id, ti.run_id, ti.task_id, ti.map_index),
            "ended": _iso(ti.end_date),
        }
        files = results.get((ti.dag_id, ti.run_id, ti.task_id, ti.map_index))
        if ti.state == "failed" or not isinstance(files, list):
            if ti.state in ("failed", "up_for_retry", "running"):
                rows.append({**common, "file": "", "bytes": 0, "rate": None, "status": ti.state})
            continue
        for result in files:
            if not isinstance(result, dict):
                continue
            seconds = float(result.get("seconds") or 0)
            written = int(result.get("bytes") or 0)
            rows.append(
                {
                    **common,
                    "file": str(result.get("key") or "").rsplit("/", 1)[-1],
                    "bytes": int(result.get("size") or written),
                    "rate": written / seconds if seconds > 0 and written else None,
                    # A copied object was checked (size and checksum) before it was made visible.
                    "status": "verified" if result.get("status") == "copied" else str(result.get("status")),
                }
            )
    return rows


def create_app() -> FastAPI:
    """The page (``/``, ``/retrievals``) and its API (``/api/retrievals``), mounted by the plugin."""
    app = FastAPI(title="ASF retrievals", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/retrievals", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        # The page holds no data; it asks /api/retrievals, which checks the user, from the browser.
        return PAGE

    @app.get("/api/retrievals")
    def retrievals(
        # Airflow's own authentication of API requests (the UI's cookie or a bearer token): 401 without one.
        user: Annotated[Any, Depends(get_user)],
        days: Annotated[float, Query(gt=0, le=31, description="how far back to list finished waits and copies")] = 2.0,
    ) -> dict[str, Any]:
        from airflow.utils.session import create_session

        if user is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in to Airflow first")
        dag_ids = readable_dag_ids(user)
        since = datetime.now(UTC) - timedelta(days=days)
        if not dag_ids:
            return {"generated": _iso(datetime.now(UTC)), "waiting": [], "copies": []}
        with create_session() as session:
            return {
                "generated": _iso(datetime.now(UTC)),
                "waiting": waiting_products(session, dag_ids, since),
                "copies": recent_copies(session, dag_ids, since),
            }

    return app
