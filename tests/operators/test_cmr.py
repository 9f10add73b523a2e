"""CmrSearchOperator in real Airflow (``dag.test()``) against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_asf_ifg.client.granule import Granule
from airflow_asf_ifg.operators.cmr import CmrSearchOperator
from tests.conftest import task_states, xcom_value

GUNW = "C2859376221-ASF"

DAG_SOURCE = """
from datetime import datetime, timedelta
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow_asf_ifg.operators.cmr import CmrSearchOperator

with DAG("__DAG_ID__", schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
         start_date=datetime(2016, 1, 1), catchup=False, render_template_as_native_obj=True,
         params={"aoi": [-118.1445, 34.1478]}) as dag:
    CmrSearchOperator(task_id="search", collection_concept_id="C2859376221-ASF", allow_global=True, {arguments})
"""


def catalogue(sandbox, collection=GUNW) -> list[dict]:
    return [g for g in sandbox.catalogue_document() if g["collection_concept_id"] == collection]


def overlapping(items, start: datetime, end: datetime, field_start="start", field_end="end") -> set[str]:
    return {
        g["concept_id"]
        for g in items
        if datetime.fromisoformat(g[field_end]) >= start and datetime.fromisoformat(g[field_start]) <= end
    }


@pytest.fixture
def run(dag_from_source, asf_sandbox_connections):
    """Build the test DAG with operator arguments and run it with ``dag.test()`` on a logical date."""

    def go(arguments: str, logical_date: datetime):
        dag = dag_from_source(DAG_SOURCE.replace("{arguments}", arguments))
        return dag.test(logical_date=logical_date)

    return go


def day_after(moment: str) -> datetime:
    start = datetime.fromisoformat(moment)
    return datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=1)


class TestWindow:
    def test_data_interval_selects_acquisitions_of_that_day(self, run, asf_sandbox):
        target = catalogue(asf_sandbox)[0]
        dag_run = run("", day_after(target["start"]))
        assert dag_run.state == "success"
        found = xcom_value(dag_run, "search")
        expected = overlapping(catalogue(asf_sandbox), dag_run.data_interval_start, dag_run.data_interval_end)
        assert target["concept_id"] in expected
        assert {g["concept_id"] for g in found} == expected
        assert dag_run.data_interval_end - dag_run.data_interval_start == timedelta(days=1)
        granule = Granule.from_dict(found[0])  # compact dicts read back as granules
        assert granule.files[0].checksum and granule.files[0].url

    def test_revision_window(self, run, asf_sandbox):
        target = catalogue(asf_sandbox)[1]
        dag_run = run('window="revision"', day_after(target["revision_date"]))
        found = {g["concept_id"] for g in xcom_value(dag_run, "search")}
        expected = overlapping(
            catalogue(asf_sandbox),
            dag_run.data_interval_start,
            dag_run.data_interval_end,
            "revision_date",
            "revision_date",
        )
        assert target["concept_id"] in found and found == expected

    def test_templated_aoi_and_explicit_temporal(self, run, asf_sandbox):
        dag_run = run('aoi="{{ params.aoi }}", temporal=("2019-01-01", None)', datetime(2024, 1, 2, tzinfo=UTC))
        found = xcom_value(dag_run, "search")
        from airflow_asf_ifg.client.geometry import point_in_ring

        expected = {
            g["concept_id"]
            for g in catalogue(asf_sandbox)
            if point_in_ring((-118.1445, 34.1478), [tuple(p) for p in g["footprint"]])
        }
        assert {g["concept_id"] for g in found} == expected and expected

    def test_query_url_link(self, run, asf_sandbox):
        dag_run = run("temporal=(None, None)", datetime(2024, 1, 2, tzinfo=UTC))
        url = xcom_value(dag_run, "search", key="cmr_query_url")
        assert url.startswith(f"{asf_sandbox.urls.cmr}/search/granules.umm_json?collection_concept_id")
        assert xcom_value(dag_run, "search", key="_link_CmrQueryLink") == url


class TestLimits:
    def test_more_than_max_results_fails_clearly(self, run, capfd):
        dag_run = run("temporal=(None, None), max_results=5", datetime(2024, 1, 2, tzinfo=UTC))
        assert dag_run.state == "failed"
        assert task_states(dag_run) == {"search": "failed"}
        assert "matched 12 granules, more than max_results=5" in capfd.readouterr().out

    def test_truncate_returns_the_first_ones(self, run):
        dag_run = run("temporal=(None, None), max_results=5, truncate=True", datetime(2024, 1, 2, tzinfo=UTC))
        assert dag_run.state == "success"
        assert len(xcom_value(dag_run, "search")) == 5

    def test_empty_data_interval_is_explained(self, dag_from_source, asf_sandbox_connections, capfd):
        source = DAG_SOURCE.replace('schedule=CronDataIntervalTimetable("@daily", timezone="UTC")', 'schedule="@daily"')
        dag = dag_from_source(source.replace("{arguments}", ""))
        dag_run = dag.test(logical_date=datetime(2024, 1, 2, tzinfo=UTC))
        assert dag_run.state == "failed"
        assert "the run's data interval is empty" in capfd.readouterr().out

    def test_an_aoi_rendering_to_empty_text_fails_at_once_without_searching(self, run, asf_sandbox, capfd, stats):
        asf_sandbox.stats.reset()
        dag_run = run("aoi=\"{{ params.get('missing', '') }}\", retries=2", datetime(2024, 1, 2, tzinfo=UTC))
        assert dag_run.state == "failed"
        assert task_states(dag_run) == {"search": "failed"}  # at once, not up_for_retry
        assert "the AOI is empty" in capfd.readouterr().out
        assert not stats()["events"].get("cmr_get") and not stats()["events"].get("cmr_post")

    def test_an_unscheduled_dag_is_told_about_temporal_not_cron(self, dag_from_source, asf_sandbox_connections, capfd):
        source = DAG_SOURCE.replace('schedule=CronDataIntervalTimetable("@daily", timezone="UTC")', "schedule=None")
        dag_run = dag_from_source(source.replace("{arguments}", "")).test(logical_date=datetime(2024, 1, 2, tzinfo=UTC))
        assert dag_run.state == "failed"
        assert task_states(dag_run) == {"search": "failed"}  # at once, not up_for_retry
        out = capfd.readouterr().out
        assert "the DAG is not on a time schedule (NullTimetable)" in out and "temporal=(start, end)" in out
        assert "a cron schedule in Airflow 3 defaults" not in out
        # The link is computed when the task ends; it must not read an XCom the failed task never pushed.
        assert "XCom not found" not in out and "cmr_query_url" not in out


class TestArguments:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            pytest.param({"aoi": "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"}, "ring crosses itself", id="bad-aoi"),
            pytest.param({"window": "weekly"}, "window 'weekly' is not one of", id="window"),
            pytest.param({"page_size": 5000}, "page_size 5000 must be between 1 and 2000", id="page-size"),
            pytest.param({"max_results": 0}, "max_results 0 must be at least 1", id="max-results"),
        ],
    )
    def test_bad_arguments_fail_when_the_dag_is_parsed(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            CmrSearchOperator(task_id="search", collection_concept_id=GUNW, **kwargs)

    def test_no_aoi_needs_allow_global(self):
        from airflow_asf_ifg.exceptions import InvalidInputError

        with pytest.raises(InvalidInputError, match="aoi is None: that searches the whole collection"):
            CmrSearchOperator(task_id="search", collection_concept_id=GUNW)
        assert CmrSearchOperator(task_id="search", collection_concept_id=GUNW, allow_global=True).allow_global

    @pytest.mark.parametrize("aoi", ["", "   ", [], {}], ids=["empty", "blank", "list", "dict"])
    def test_an_empty_aoi_is_refused_even_with_allow_global(self, aoi):
        with pytest.raises(ValueError, match="the AOI is empty"):
            CmrSearchOperator(task_id="search", collection_concept_id=GUNW, aoi=aoi, allow_global=True)

    def test_templated_values_wait_for_rendering(self):
        operator = CmrSearchOperator(
            task_id="search",
            collection_concept_id="{{ params.c }}",
            aoi="{{ params.aoi }}",
            window="{{ params.window }}",
        )
        assert operator.template_fields == (
            "collection_concept_id",
            "short_name",
            "aoi",
            "temporal",
            "revision_date",
            "attributes",
            "window",
        )
