"""CmrSearchOperator: find granules over an area of interest in the run's time window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_asf_ifg.client.aoi import parse_aoi
from airflow_asf_ifg.client.limits import MAX_PAGE_SIZE, check_search_options
from airflow_asf_ifg.compat import AirflowFailException
from airflow_asf_ifg.exceptions import InvalidInputError
from airflow_asf_ifg.failing import permanent_errors_fail_the_task
from airflow_asf_ifg.hooks import EARTHDATA_DEFAULT_CONN_ID
from airflow_asf_ifg.links import CmrQueryLink
from airflow_asf_ifg.templates import is_templated
from airflow_asf_ifg.validation import check_window

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_asf_ifg.client.granule import Granule
    from airflow_asf_ifg.hooks.cmr import CmrHook

#: Airflow refuses to map over more than [core] max_map_length (1024) items by default.
DEFAULT_MAX_RESULTS = 1000


def compact(granule: Granule) -> dict[str, Any]:
    """A granule as a small JSON-able dict (empty fields left out) that ``Granule.from_dict`` reads back.

    :param granule: the granule.
    """
    document = granule.to_dict()
    document["files"] = [{k: v for k, v in f.items() if v is not None} for f in document["files"]]
    return {k: v for k, v in document.items() if v not in (None, [], {})}


def empty_interval_advice(context: Context, start: datetime, end: datetime) -> str:
    """Why a run's data interval is empty and what to do, for the DAG's kind of schedule.

    :param context: the task context (for the DAG's timetable).
    :param start: the interval's start.
    :param end: its end (equal to ``start``).
    """
    timetable = type(getattr(context.get("dag"), "timetable", None)).__name__
    if timetable in ("NullTimetable", "OnceTimetable", "AssetTriggeredTimetable"):
        return (
            f"this run has no data interval ({start} to {end}): the DAG is not on a time schedule "
            f"({timetable}), so there is no day to search. Pass temporal=(start, end) or revision_date=(start, "
            f"end), e.g. from run params, or schedule the DAG with CronDataIntervalTimetable"
        )
    return (
        f"the run's data interval is empty ({start} to {end}): a cron schedule in Airflow 3 defaults to "
        f"CronTriggerTimetable without an interval. Use CronDataIntervalTimetable, "
        f"CronTriggerTimetable(..., interval=timedelta(days=1)), or pass temporal/revision_date"
    )


class CmrSearchOperator(BaseOperator):
    """Search NASA's CMR for granules over an AOI in a time window; return compact granule dicts.

    With no ``temporal`` and no ``revision_date``, the window is the DAG run's data interval, so a
    daily schedule asks for exactly one day: acquisition time by default, or CMR revision time with
    ``window="revision"`` (new and reprocessed products, for incremental ingestion). The result is a
    list ready for ``AsfToS3Operator.partial(...).expand(granule=search.output)``.

    :param collection_concept_id: one or several collection concept ids (templated), e.g.
        ``C2859376221-ASF`` (ARIA_S1_GUNW) or the 2018 GRFN BETA ids.
    :param short_name: collection short name(s) instead of concept ids (templated).
    :param aoi: area of interest (templated): WKT, GeoJSON, ``(west, south, east, north)`` or ``(lon, lat)``.
    :param temporal: acquisition (start, end), either end None (templated); overrides the data interval.
    :param revision_date: CMR revision (start, end), either end None (templated); overrides the data interval.
    :param window: which time the data interval filters on: ``acquisition`` or ``revision`` (templated).
    :param attributes: CMR attribute filters (templated), e.g. ``{"PATH_NUMBER": 64, "ASCENDING_DESCENDING":
        "descending"}`` or ``["int,FRAME_NUMBER,100,200"]``.
    :param sort_key: CMR sort keys, e.g. ``-start_date``.
    :param page_size: granules per CMR page (1-2000).
    :param max_results: the most granules to return; more fails the task unless ``truncate``.
    :param truncate: return the first ``max_results`` instead of failing when there are more.
    :param on_incomplete: ``raise`` (default) or ``warn`` when CMR delivers fewer granules than it counted.
    :param earthdata_conn_id: the ``earthdata`` connection (optional for public CMR).
    :param allow_global: search without a spatial filter when ``aoi`` is None (refused otherwise, so that a
        forgotten AOI does not search the whole collection); an AOI rendering to ``""`` is always refused.
    """

    template_fields: Sequence[str] = (
        "collection_concept_id",
        "short_name",
        "aoi",
        "temporal",
        "revision_date",
        "attributes",
        "window",
    )
    template_fields_renderers = {"aoi": "json", "attributes": "json"}
    operator_extra_links = (CmrQueryLink(),)
    ui_color = "#d6eaf8"

    def __init__(
        self,
        *,
        collection_concept_id: str | list[str] | None = None,
        short_name: str | list[str] | None = None,
        aoi: Any = None,
        temporal: Sequence[Any] | None = None,
        revision_date: Sequence[Any] | None = None,
        window: str = "acquisition",
        attributes: dict[str, Any] | list[str] | None = None,
        sort_key: str | list[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        max_results: int = DEFAULT_MAX_RESULTS,
        truncate: bool = False,
        on_incomplete: str = "raise",
        earthdata_conn_id: str = EARTHDATA_DEFAULT_CONN_ID,
        allow_global: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not is_templated(window):
            check_window(window)
        check_search_options(page_size, on_incomplete, max_results=max_results)
        if aoi is None and not allow_global:
            # An AOI forgotten (or a None from a DAG's config) would search the whole collection.
            raise InvalidInputError(
                "aoi is None: that searches the whole collection, worldwide; give an aoi (WKT, GeoJSON, bbox "
                "or point), or pass allow_global=True to search without a spatial filter"
            )
        if aoi is not None and not is_templated(aoi):
            parse_aoi(aoi)  # fail at DAG parse time, long before any request
        self.allow_global = allow_global
        self.collection_concept_id = collection_concept_id
        self.short_name = short_name
        self.aoi = aoi
        self.temporal = temporal
        self.revision_date = revision_date
        self.window = window
        self.attributes = attributes
        self.sort_key = sort_key
        self.page_size = page_size
        self.max_results = max_results
        self.truncate = truncate
        self.on_incomplete = on_incomplete
        self.earthdata_conn_id = earthdata_conn_id

    @cached_property
    def hook(self) -> CmrHook:
        """The CMR hook."""
        from airflow_asf_ifg.hooks.cmr import CmrHook  # not at DAG parse time: it loads the HTTP stack

        return CmrHook(self.earthdata_conn_id)

    def _time_filters(self, context: Context) -> dict[str, Any]:
        if self.temporal is not None or self.revision_date is not None:
            return {"temporal": self.temporal, "revision_date": self.revision_date}
        start: datetime | None = context.get("data_interval_start")
        end: datetime | None = context.get("data_interval_end")
        if start is None or end is None:
            self.log.warning("This run has no data interval (a manual run of an unscheduled DAG?): no time filter")
            return {}
        if start == end:
            raise ValueError(empty_interval_advice(context, start, end))
        self.log.info("Time window: %s %s to %s (the run's data interval)", self.window, start, end)
        key = "temporal" if self.window == "acquisition" else "revision_date"
        return {key: (start, end)}

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Run the search and return compact granule dicts."""
        with permanent_errors_fail_the_task():  # an unknown collection, an unresolvable host, a bad login
            return self._search(context)

    def _search(self, context: Context) -> list[dict[str, Any]]:
        try:
            check_window(self.window)  # again: a template may have rendered anything
            if self.aoi is not None:
                parse_aoi(self.aoi)  # a template rendering to "" would otherwise drop the spatial filter
            time_filters = self._time_filters(context)
            # truncate: the first max_results; otherwise more than max_results fails before any is fetched.
            limits = {"limit": self.max_results} if self.truncate else {"max_hits": self.max_results}
            results = self.hook.search(
                collection_concept_id=self.collection_concept_id,
                short_name=self.short_name,
                aoi=self.aoi,
                attributes=self.attributes,
                sort_key=self.sort_key,
                page_size=self.page_size,
                on_incomplete=self.on_incomplete,
                **limits,
                **time_filters,
            )
        except ValueError as error:  # bad input after templating: retrying cannot help
            raise AirflowFailException(str(error)) from error
        self.log.info("CMR query: %s", results.query_url)
        CmrQueryLink.persist(context, self, results.query_url)
        # Too many results or a refused query fail at once (execute's wrapper); partial results are retried.
        results.start()
        if results.hits is not None and results.hits > self.max_results:
            self.log.warning(
                "%d granules match; returning the first %d (truncate=True)", results.hits, self.max_results
            )
        granules = [compact(g) for g in results]
        names = [g["granule_ur"] for g in granules[:5]]
        more = f" and {len(granules) - len(names)} more" if len(granules) > len(names) else ""
        self.log.info(
            "Found %d granules (CMR-Hits %s): %s%s", len(granules), results.hits, ", ".join(names) or "none", more
        )
        return granules
