"""Reading archive states from each kind of answer (pure functions; the sandbox paths are in the trigger tests)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_asf_ifg.client.archive import (
    ArchiveState,
    Throttled,
    state_from_door,
    state_from_download,
    state_from_head,
)
from airflow_asf_ifg.exceptions import AsfIfgError


class TestDoor:
    @pytest.mark.parametrize(
        ("document", "state"),
        [
            ({"status": "archived"}, ArchiveState.ARCHIVED),
            ({"status": "retrieving"}, ArchiveState.RETRIEVING),
            ({"status": "available"}, ArchiveState.AVAILABLE),
        ],
    )
    def test_states(self, document, state):
        assert state_from_door("a.zip", 200, document).state is state

    def test_restored_copy_expiry_is_naive_utc(self):
        status = state_from_door("a.zip", 200, {"status": "available", "expiration_date": "2018-05-15 00:00:00"})
        assert status.expires == datetime(2018, 5, 15, tzinfo=UTC)

    def test_missing_throttled_and_broken(self):
        assert state_from_door("a.zip", 404, None).state is ArchiveState.MISSING
        with pytest.raises(Throttled) as caught:
            state_from_door("a.zip", 429, None, {"Retry-After": "7"})
        assert caught.value.retry_after == 7
        with pytest.raises(Throttled):
            state_from_door("a.zip", 503, None)
        with pytest.raises(AsfIfgError, match="answered 200"):
            state_from_door("a.zip", 200, {"unexpected": 1})


class TestHead:
    @pytest.mark.parametrize(
        ("head", "state"),
        [
            ({"ContentLength": 1}, ArchiveState.AVAILABLE),
            ({"StorageClass": "STANDARD_IA"}, ArchiveState.AVAILABLE),
            ({"StorageClass": "GLACIER"}, ArchiveState.ARCHIVED),
            ({"StorageClass": "DEEP_ARCHIVE", "Restore": 'ongoing-request="true"'}, ArchiveState.RETRIEVING),
            (
                {
                    "StorageClass": "GLACIER",
                    "Restore": 'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"',
                },
                ArchiveState.AVAILABLE,
            ),
            (None, ArchiveState.MISSING),
        ],
    )
    def test_states(self, head, state):
        assert state_from_head("k", head).state is state

    def test_restore_expiry(self):
        head = {
            "StorageClass": "GLACIER",
            "Restore": 'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"',
        }
        assert state_from_head("k", head).expires == datetime(2012, 12, 21, tzinfo=UTC)


class TestDownload:
    @pytest.mark.parametrize(
        ("status", "state", "requested"),
        [
            (200, ArchiveState.AVAILABLE, False),
            (206, ArchiveState.AVAILABLE, False),
            (202, ArchiveState.RETRIEVING, True),
            (404, ArchiveState.MISSING, False),
        ],
    )
    def test_states(self, status, state, requested):
        result = state_from_download("a.nc", status)
        assert (result.state, result.requested) == (state, requested)

    def test_other_answers(self):
        with pytest.raises(Throttled):
            state_from_download("a.nc", 429, {"Retry-After": "2"})
        with pytest.raises(AsfIfgError, match="answered 403"):
            state_from_download("a.nc", 403)
