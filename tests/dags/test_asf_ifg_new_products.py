"""The event-driven example DAG: one per aois.yaml entry with ``trigger: events``, scheduled on a watched asset."""

from __future__ import annotations

import shutil

import pytest
import yaml

from airflow_asf_ifg.sandbox.demo import DAG_FILE
from airflow_asf_ifg.triggers.cmr_events import CmrNewGranulesTrigger

EVENTS_FILE = DAG_FILE.with_name("asf_ifg_new_products.py")
ENTRY = {"dag_id": "daily", "aoi": "-118.1445,34.1478", "dest_bucket": "asf-ifg-ingest"}


def parse(folder, *entries):
    from airflow_asf_ifg.compat import DagBag

    shutil.copy(DAG_FILE, folder / DAG_FILE.name)
    shutil.copy(EVENTS_FILE, folder / EVENTS_FILE.name)
    (folder / "aois.yaml").write_text(yaml.safe_dump({"aois": list(entries)}))
    return DagBag(str(folder))


class TestEventDag:
    def test_an_entry_that_opts_in_gets_an_event_driven_dag_and_no_daily_one(self, tmp_path):
        events = {**ENTRY, "dag_id": "fresh", "trigger": "events", "poll_minutes": 2}
        bag = parse(tmp_path, ENTRY, events)
        assert bag.import_errors == {}
        assert sorted(bag.dags) == ["daily", "fresh"]
        dag = bag.dags["fresh"]
        assets = list(dag.timetable.asset_condition.objects)
        (watcher,) = assets[0].watchers
        assert isinstance(watcher.trigger, CmrNewGranulesTrigger)
        assert (watcher.trigger.collection_concept_id, watcher.trigger.poke_interval) == ("C2859376221-ASF", 120.0)
        assert [t.task_id for t in dag.tasks] == ["granules_from_events", "copy"]
        assert type(bag.dags["daily"].timetable).__name__ == "CronDataIntervalTimetable"  # the daily one: its schedule

    def test_the_shipped_aois_yaml_has_no_event_driven_entry(self):
        from airflow_asf_ifg.compat import DagBag

        bag = DagBag(str(EVENTS_FILE))
        assert bag.import_errors == {} and bag.dags == {}

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"trigger": "cron"}, r"trigger 'cron' is not one of \['schedule', 'events'\]"),
            ({"poll_minutes": 0}, r"poll_minutes 0 must be a positive number"),
        ],
    )
    def test_a_bad_entry_is_an_import_error_naming_the_key(self, tmp_path, change, message):
        import re

        bag = parse(tmp_path, {**ENTRY, **change})
        assert any(re.search(message, error) for error in bag.import_errors.values()), bag.import_errors
