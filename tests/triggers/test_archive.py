"""AsfArchiveStatusTrigger against the sandbox: the door status, HeadObject and 202 paths; never raises."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from airflow_asf_ifg.client.archive_poll import ArchiveTarget, archive_targets
from airflow_asf_ifg.hooks.cmr import CmrHook
from airflow_asf_ifg.operators.cmr import compact
from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET
from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY
from airflow_asf_ifg.triggers.archive import AsfArchiveStatusTrigger
from tests.sandbox.helpers import s3_client

GUNW, UNWRAPPED = "C2859376221-ASF", "C1379535600-ASF"

# The 2018 door's /door/status, 202 retrievals and GLACIER objects (today nothing is archived).
pytestmark = pytest.mark.asf_sandbox(era="2018")


def granules(collection: str) -> list[dict]:
    return [compact(g) for g in CmrHook().search(collection_concept_id=collection)]


def archived_names(sandbox, collection: str) -> set[str]:
    return {
        g.data_file.name for g in sandbox.catalogue if g.collection.concept_id == collection and g.data_file.archived
    }


@pytest.fixture
def conn(asf_sandbox, asf_sandbox_connections, asf_sandbox_settings, monkeypatch):
    """Connection ids: ``earthdata_default`` (the door's status) and ``earthdata_nodoor`` (no status URL)."""
    asf_sandbox.reset()
    asf_sandbox_settings(retrieval_seconds=1.0)
    document = asf_sandbox.earthdata_connection()
    document["extra"].pop("archive_status_url")
    monkeypatch.setenv("AIRFLOW_CONN_EARTHDATA_NODOOR", json.dumps(document))
    return {"door": "earthdata_default", "nodoor": "earthdata_nodoor"}


def trigger(targets, conn_id, seconds=30.0, **kwargs) -> AsfArchiveStatusTrigger:
    return AsfArchiveStatusTrigger(
        targets=targets,
        earthdata_conn_id=conn_id,
        poke_interval=0.2,
        max_interval=0.5,
        deadline=time.time() + seconds,
        **kwargs,
    )


async def event_of(trigger_: AsfArchiveStatusTrigger) -> dict:
    events = [event async for event in trigger_.run()]
    assert len(events) == 1
    return events[0].payload


class TestSerialize:
    def test_exact(self):
        targets = [{"name": "a.nc", "url": "https://door/download/a.nc", "s3_url": None, "s3_credentials_url": None}]
        assert AsfArchiveStatusTrigger(
            targets=targets,
            earthdata_conn_id="earthdata_default",
            poke_interval=60,
            max_interval=600,
            deadline=1700000000.0,
            max_retrievals=5,
            requested=["a.nc"],
            seen=[{"name": "a.nc", "state": "retrieving", "since": 1699999940.0}],
        ).serialize() == (
            "airflow_asf_ifg.triggers.archive.AsfArchiveStatusTrigger",
            {
                "targets": targets,
                "earthdata_conn_id": "earthdata_default",
                "poke_interval": 60,
                "max_interval": 600,
                "deadline": 1700000000.0,
                "max_concurrency": 20,
                "request_retrieval": True,
                "max_retrievals": 5,
                "requested": ["a.nc"],
                "seen": [{"name": "a.nc", "state": "retrieving", "since": 1699999940.0}],
            },
        )

    def test_targets_given_as_archive_targets_serialise_as_the_same_dicts(self):
        target = ArchiveTarget("a.nc", "https://door/download/a.nc")
        kwargs = AsfArchiveStatusTrigger(
            targets=[target],
            earthdata_conn_id="earthdata_default",
            poke_interval=60,
            max_interval=600,
            deadline=1700000000.0,
        ).serialize()[1]
        assert kwargs["targets"] == [
            {"name": "a.nc", "url": "https://door/download/a.nc", "s3_url": None, "s3_credentials_url": None}
        ]
        assert AsfArchiveStatusTrigger(**kwargs).targets == [target]  # as the triggerer rebuilds it from its row


class TestRun:
    async def test_door_status_path_requests_each_archived_product_once(self, conn, asf_sandbox, stats):
        targets = archive_targets(granules(GUNW))
        payload = await event_of(trigger(targets, conn["door"]))
        assert payload["status"] == "success"
        assert {p["state"] for p in payload["products"]} == {"available"}
        archived = archived_names(asf_sandbox, GUNW)
        assert archived and set(payload["requested"]) == archived
        snapshot = stats()
        assert snapshot["events"]["retrieval_started"] == len(archived)
        assert snapshot["requests"]["download"] == len(archived)  # one request each, however many polls
        assert snapshot["requests"]["status"] > len(targets)  # several polls
        restored = [p for p in payload["products"] if p["name"] in archived]
        assert all(p["expires"] for p in restored)

    @pytest.mark.asf_sandbox(tea=True)  # the s3:// links and /s3credentials of TEA direct access
    async def test_head_object_path(self, conn, asf_sandbox, stats):
        targets = archive_targets(granules(GUNW))
        assert all(t.s3_url for t in targets)
        payload = await event_of(trigger(targets, conn["nodoor"]))
        assert payload["status"] == "success"
        snapshot = stats()
        assert snapshot["requests"]["s3_head_object"] >= len(targets) and "status" not in snapshot["requests"]
        assert snapshot["events"]["retrieval_started"] == len(archived_names(asf_sandbox, GUNW))

    @pytest.mark.asf_sandbox(tea=True)
    async def test_head_object_triggers_of_one_loop_share_one_client_and_one_key_fetch(self, conn, stats):
        targets = archive_targets(granules(GUNW))
        triggers = [trigger([target], conn["nodoor"]) for target in targets for _ in range(4)]
        payloads = await asyncio.gather(*(event_of(t) for t in triggers))
        assert {p["status"] for p in payloads} == {"success"}
        snapshot = stats()
        # One fetch: its first request goes through the EDL login, the second comes back with the cookie.
        assert snapshot["requests"]["s3credentials"] == 2, snapshot["requests"]  # 2 per trigger before
        assert snapshot["requests"]["asf_login"] == 1
        assert snapshot["requests"]["s3_head_object"] >= len(triggers)

    async def test_download_202_path(self, conn, asf_sandbox, stats):
        targets = archive_targets(granules(UNWRAPPED))
        assert not any(t.s3_url for t in targets)
        payload = await event_of(trigger(targets, conn["nodoor"]))
        assert payload["status"] == "success" and {p["state"] for p in payload["products"]} == {"available"}
        assert stats()["events"]["retrieval_started"] == len(archived_names(asf_sandbox, UNWRAPPED))

    async def test_missing_product(self, conn):
        targets = [{"name": "no-such-product.nc", "url": None, "s3_url": None, "s3_credentials_url": None}]
        payload = await event_of(trigger(targets, conn["door"]))
        assert payload["status"] == "success" and payload["products"][0]["state"] == "missing"

    async def test_timeout(self, conn, asf_sandbox_settings):
        asf_sandbox_settings(retrieval_seconds=60)
        targets = archive_targets(granules(GUNW))
        started = time.monotonic()
        payload = await event_of(trigger(targets, conn["door"], seconds=1.5))
        assert payload["status"] == "timeout" and payload["counts"]["retrieving"] >= 1
        assert time.monotonic() - started < 10

    async def test_throttling_is_waited_out(self, conn, asf_sandbox_settings, stats):
        asf_sandbox_settings(throttle_rate=0.4)
        payload = await event_of(trigger(archive_targets(granules(GUNW)), conn["door"]))
        assert payload["status"] == "success", payload["message"]
        assert stats()["events"]["fault_throttle"] >= 1

    @pytest.mark.parametrize(
        ("faults", "event"),
        [
            pytest.param({"throttle_rate": 0.2}, "fault_throttle", id="throttled"),
            pytest.param({"reset_rate": 0.3}, "fault_reset", id="bodies-cut"),
        ],
    )
    async def test_faults_are_polled_again(self, conn, asf_sandbox, asf_sandbox_settings, stats, faults, event):
        targets = archive_targets(granules(GUNW))
        archived = archived_names(asf_sandbox, GUNW)
        for _ in range(5):  # the draws are seeded: a wait may meet no fault, so wait again until one does
            asf_sandbox.reset()  # archived again, stats zeroed
            asf_sandbox_settings(**faults)
            payload = await event_of(trigger(targets, conn["door"]))
            assert payload["status"] == "success", payload["message"]
            assert {p["state"] for p in payload["products"]} == {"available"}
            assert set(payload["requested"]) == archived
            events = stats()["events"]
            assert events["retrieval_started"] == len(archived)
            if events.get(event, 0) >= 1:
                break
        else:
            pytest.fail(f"no {event} in 5 waits at {faults}")
        asf_sandbox_settings(throttle_rate=0.0, reset_rate=0.0)
        s3 = s3_client(asf_sandbox, aws_access_key_id=ADMIN_ACCESS_KEY, aws_secret_access_key=ADMIN_SECRET_KEY)
        for name in archived:  # the bucket agrees: each archived object has a restored copy now
            assert 'ongoing-request="false"' in s3.head_object(Bucket=PRODUCT_BUCKET, Key=name)["Restore"]

    async def test_retrieval_cap(self, conn, asf_sandbox):
        targets = archive_targets(granules(GUNW))
        payload = await event_of(trigger(targets, conn["door"], max_retrievals=1))
        states = [p["state"] for p in payload["products"]]
        assert payload["status"] == "success" and len(payload["requested"]) == 1
        assert states.count("archived") == len(archived_names(asf_sandbox, GUNW)) - 1

    async def test_errors_become_an_envelope(self, conn, monkeypatch):
        monkeypatch.setenv(
            "AIRFLOW_CONN_EARTHDATA_BROKEN", json.dumps({"conn_type": "earthdata", "extra": {"cmr_url": "nope"}})
        )
        payload = await event_of(
            trigger([{"name": "x.nc", "url": None, "s3_url": None, "s3_credentials_url": None}], "earthdata_broken")
        )
        assert payload["status"] == "error" and "cmr_url 'nope' is not an http(s) URL" in payload["message"]
        assert payload["permanent"] is True  # a bad setting: the sensor fails at once, no retries

    async def test_a_refused_login_is_a_permanent_error(self, conn, asf_sandbox, monkeypatch):
        document = asf_sandbox.earthdata_connection()
        document["password"] = "not-the-password"
        monkeypatch.setenv("AIRFLOW_CONN_EARTHDATA_WRONG", json.dumps(document))
        payload = await event_of(trigger(archive_targets(granules(GUNW))[:1], "earthdata_wrong"))
        assert payload["status"] == "error" and payload["permanent"] is True, payload
        assert "EarthdataLoginError" in payload["message"] and "not-the-password" not in json.dumps(payload)


class TestArguments:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"max_interval": 0}, "max_interval 0 must be greater than 0"),
            ({"poke_interval": 0}, "poke_interval 0 must be greater than 0"),
            ({"poke_interval": float("nan")}, "poke_interval nan must be greater than 0"),
            ({"deadline": float("nan")}, "deadline nan must be at least 0"),
            ({"max_concurrency": 0}, "max_concurrency 0 must be greater than 0"),
            ({"max_retrievals": -1}, "max_retrievals -1 must be at least 0"),
        ],
        ids=["max-interval", "poke-zero", "poke-nan", "deadline", "concurrency", "retrievals"],
    )
    def test_numbers_that_spin_are_refused(self, kwargs, message):
        from airflow_asf_ifg.exceptions import InvalidInputError

        arguments = {"poke_interval": 0.2, "max_interval": 0.5, "deadline": time.time() + 30} | kwargs
        with pytest.raises(InvalidInputError, match=re.escape(message)):
            AsfArchiveStatusTrigger(targets=[], earthdata_conn_id="earthdata_default", **arguments)
