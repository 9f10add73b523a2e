"""Parallel ranged HTTPS through the door's signed URLs, against the sandbox (today's era): parts fetched at
once, signed URLs that expire or are refused asked for again, a server that ignores Range read once,
resets resumed; each copy verified, nothing partial at the key when one fails."""

from __future__ import annotations

import hashlib
import os

import pytest

from airflow_asf_ifg.client.earthdata import AuthPolicy, EarthdataIdentity, EarthdataSession
from airflow_asf_ifg.client.transfer import MIB, HttpsSource, Transfer
from airflow_asf_ifg.exceptions import TransferError
from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET, SANDBOX_PASSWORD, SANDBOX_USER
from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY
from tests.sandbox.helpers import empty_bucket, s3_client

pytestmark = pytest.mark.asf_sandbox(era="today")

DEST = "ranges-dest"
KEY = "tests/ranged-product.bin"
PART = 5 * MIB
BODY = os.urandom(4 * PART + MIB)  # 21 MiB: five parts
PARTS = 5


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def session(sandbox) -> EarthdataSession:
    who = EarthdataIdentity(login=SANDBOX_USER, password=SANDBOX_PASSWORD, source="test")
    return EarthdataSession(AuthPolicy(who, sandbox.urls.edl, [sandbox.urls.cmr]))


@pytest.fixture(scope="module")
def product(asf_sandbox):
    admin = s3_client(asf_sandbox, aws_access_key_id=ADMIN_ACCESS_KEY, aws_secret_access_key=ADMIN_SECRET_KEY)
    admin.put_object(Bucket=PRODUCT_BUCKET, Key=KEY, Body=BODY)
    yield f"{asf_sandbox.urls.asf}/door/download/{KEY}"
    admin.delete_object(Bucket=PRODUCT_BUCKET, Key=KEY)


@pytest.fixture
def dest(asf_sandbox):
    client = empty_bucket(asf_sandbox, DEST)
    asf_sandbox.stats.reset()
    yield client
    assert client.list_multipart_uploads(Bucket=DEST).get("Uploads", []) == []  # never left behind


def copy(sandbox, url: str, dest, key: str, **options) -> tuple[object, HttpsSource]:
    source = HttpsSource(session(sandbox), url)
    engine = Transfer(dest, part_size=PART, concurrency=options.pop("concurrency", 3), sleep=lambda _: None)
    return engine.copy(source, DEST, key, size=len(BODY), checksum=md5(BODY), **options), source


def landed(dest, key: str) -> str:
    return md5(dest.get_object(Bucket=DEST, Key=key)["Body"].read())


def counts(sandbox) -> tuple[dict, int]:
    snapshot = sandbox.stats.snapshot()
    return snapshot["requests"], snapshot["bytes_served"].get(f"{PRODUCT_BUCKET}/{KEY}", 0)


class TestParallelRanges:
    def test_parts_come_from_the_signed_url_at_once_and_each_byte_once(self, asf_sandbox, product, dest):
        result, source = copy(asf_sandbox, product, dest, "ranged.bin")
        requests_made, served = counts(asf_sandbox)
        assert "s3_get_object" not in asf_sandbox.stats.snapshot()["authorization"]  # no credentials to it
        assert result.status == "copied" and result.bytes == len(BODY) and landed(dest, "ranged.bin") == md5(BODY)
        # The door for the first part only (twice: once before its login redirect, once after); the other
        # parts from the URL it signed.
        assert requests_made["download"] == 2
        assert requests_made["s3_get_object"] == PARTS and served == len(BODY)  # nothing read twice
        assert source.resolved_again == 0

    def test_a_signed_url_expiring_mid_copy_is_signed_again_without_a_new_login(
        self, asf_sandbox, product, dest, asf_sandbox_settings
    ):
        # URLs that live 1 s, bodies paced to 4 MiB/s: the later parts find the first signed URL expired.
        asf_sandbox_settings(download_url_seconds=1, s3_connection_mib_s=4)
        result, source = copy(asf_sandbox, product, dest, "expired.bin", concurrency=2)
        requests_made, served = counts(asf_sandbox)
        assert result.status == "copied" and landed(dest, "expired.bin") == md5(BODY)
        assert source.resolved_again >= 1
        # One door GET per signature (the first part's again when its URL expired on the way, on a loaded
        # machine), and one more for the login redirect: no second login.
        assert source.door_gets >= 1 + source.resolved_again and requests_made["download"] == 1 + source.door_gets
        assert requests_made.get("edl_token", 0) + requests_made.get("edl_login", 0) <= 1  # one login at most
        assert served == len(BODY)  # a refused URL sends no bytes: each part read once

    def test_a_range_answered_403_is_asked_of_the_door_again(self, asf_sandbox, product, dest, asf_sandbox_settings):
        asf_sandbox_settings(forbid_next_range=2)
        result, source = copy(asf_sandbox, product, dest, "forbidden.bin")
        assert result.status == "copied" and landed(dest, "forbidden.bin") == md5(BODY)
        assert asf_sandbox.stats.snapshot()["events"]["fault_forbidden_range"] == 2
        assert 1 <= source.resolved_again <= 2  # once per refused range at most (ranges refused together: once)

    def test_a_range_refused_after_another_had_the_url_signed_again_reads_the_new_url(
        self, asf_sandbox, product, dest, asf_sandbox_settings
    ):
        # Two ranges refused together, in the order a slow machine gives them: the first has the door sign a
        # new URL; the second, which found an older URL refused, must read the new one without asking the door
        # again. (That second range once deadlocked, taking the source's lock twice, when the signed URLs of
        # the two differed, i.e. when the re-signing crossed a second.)
        source = HttpsSource(session(asf_sandbox), product)
        assert source.ranges(PART)
        b"".join(source.open(0, PART)[0])  # the probe's answer, as the first part reads it
        asf_sandbox_settings(forbid_next_range=1)
        chunks, start = source.open(PART, 2 * PART)  # refused: the door signs a new URL
        assert start == PART and b"".join(chunks) == BODY[PART : 2 * PART] and source.resolved_again == 1
        doors = counts(asf_sandbox)[0]["download"]
        response, start = source._resolve_again("https://an-older-signed-url.invalid/", 2 * PART, 3 * PART)
        assert start == 2 * PART and response.content == BODY[2 * PART : 3 * PART]
        assert source.resolved_again == 1 and counts(asf_sandbox)[0]["download"] == doors  # the door not asked

    def test_a_server_that_ignores_range_is_read_once_as_one_stream(
        self, asf_sandbox, product, dest, asf_sandbox_settings
    ):
        asf_sandbox_settings(signed_url_ignores_range=True)
        result, _ = copy(asf_sandbox, product, dest, "whole.bin")
        requests_made, served = counts(asf_sandbox)
        assert result.status == "copied" and landed(dest, "whole.bin") == md5(BODY)
        assert requests_made["s3_get_object"] == 1 and served == len(BODY) and result.reread_bytes == 0

    def test_resets_on_ranges_resume_each_range_from_its_last_good_byte(
        self, asf_sandbox, product, dest, asf_sandbox_settings
    ):
        asf_sandbox_settings(reset_next=3)
        result, _ = copy(asf_sandbox, product, dest, "reset.bin")
        _, served = counts(asf_sandbox)
        assert result.status == "copied" and landed(dest, "reset.bin") == md5(BODY)
        assert result.resumes == 3 and result.reread_bytes == 0
        assert served - len(BODY) <= 3 * PART  # what a cut-off body had sent, at most a part per reset

    def test_signed_urls_refused_every_time_fail_the_copy_and_leave_nothing(
        self, asf_sandbox, product, dest, asf_sandbox_settings
    ):
        asf_sandbox_settings(forbid_next_range=1000)  # every range after the first refused, however often signed
        source = HttpsSource(session(asf_sandbox), product)
        engine = Transfer(dest, part_size=PART, concurrency=3, max_resumes=2, sleep=lambda _: None)
        with pytest.raises(TransferError, match=r"reading failed 3 times .* refused \(403\)"):
            engine.copy(source, DEST, "never.bin", size=len(BODY), checksum=md5(BODY))
        assert "Contents" not in dest.list_objects_v2(Bucket=DEST)

    def test_a_wrong_size_is_refused_before_anything_is_written(self, asf_sandbox, product, dest):
        source = HttpsSource(session(asf_sandbox), product)
        with pytest.raises(TransferError, match="CMR says"):
            Transfer(dest, part_size=PART).copy(source, DEST, "short.bin", size=len(BODY) - 1, checksum=md5(BODY))
        assert "Contents" not in dest.list_objects_v2(Bucket=DEST)
