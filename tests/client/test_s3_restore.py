"""Archived objects of one's own bucket on the sandbox's S3: their state, and a restore asked for once."""

from __future__ import annotations

import pytest

from airflow_asf_ifg.client.archive import ArchiveState
from airflow_asf_ifg.client.s3_restore import object_state, request_restore, restore_request
from tests.sandbox.helpers import empty_bucket, wait_for

BUCKET = "restore-own"


@pytest.fixture
def bucket(asf_sandbox, asf_sandbox_settings):
    client = empty_bucket(asf_sandbox, BUCKET)
    asf_sandbox_settings(retrieval_seconds=0.5)
    client.put_object(Bucket=BUCKET, Key="old.nc", Body=b"old", StorageClass="GLACIER")
    client.put_object(Bucket=BUCKET, Key="fresh.nc", Body=b"new")
    return client


class TestObjectState:
    @pytest.mark.parametrize(
        ("key", "state"),
        [
            ("old.nc", ArchiveState.ARCHIVED),
            ("fresh.nc", ArchiveState.AVAILABLE),
            ("nothing.nc", ArchiveState.MISSING),
        ],
        ids=["glacier", "standard", "missing"],
    )
    def test_state(self, bucket, key, state):
        assert object_state(bucket, BUCKET, key).state is state


class TestRequestRestore:
    def test_the_request(self):
        assert restore_request(2, "Bulk") == {"Days": 2, "GlacierJobParameters": {"Tier": "Bulk"}}

    def test_asked_once_then_in_progress_then_restored(self, bucket, stats):
        assert request_restore(bucket, BUCKET, "old.nc", days=1) == "started"
        assert request_restore(bucket, BUCKET, "old.nc", days=1) == "in-progress"
        wait_for(lambda: request_restore(bucket, BUCKET, "old.nc") == "restored", timeout=10, what="the restore")
        assert stats()["events"]["retrieval_started"] == 1
        assert bucket.get_object(Bucket=BUCKET, Key="old.nc")["Body"].read() == b"old"

    @pytest.mark.parametrize(
        ("key", "outcome"), [("fresh.nc", "not-archived"), ("nothing.nc", "missing")], ids=["standard", "missing"]
    )
    def test_nothing_to_restore(self, bucket, stats, key, outcome):
        assert request_restore(bucket, BUCKET, key) == outcome
        assert "s3_restore_object" not in stats()["requests"]
