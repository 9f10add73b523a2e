"""The copy engine against the sandbox: S3 and HTTPS sources, verification, resume, idempotency, expiry."""

from __future__ import annotations

import hashlib
import math
import os

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from airflow_asf_ifg.client.credentials import boto3_session, fetch_credentials, refreshable_credentials
from airflow_asf_ifg.client.earthdata import AuthPolicy, EarthdataIdentity, EarthdataSession
from airflow_asf_ifg.client.limits import S3_MIN_PART_SIZE
from airflow_asf_ifg.client.transfer import (
    DEFAULT_PART_SIZE,
    MIB,
    HttpsSource,
    S3Source,
    Transfer,
    balanced_part_size,
    part_size_for,
)
from airflow_asf_ifg.exceptions import ChecksumMismatchError, EarthdataLoginError, ProductArchivedError
from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET, SANDBOX_PASSWORD, SANDBOX_USER
from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY
from tests.sandbox.helpers import empty_bucket, s3_client

# The 2018 buckets, read through the door or with TEA's keys (on the door only with TEA direct access).
pytestmark = pytest.mark.asf_sandbox(era="2018", tea=True)

DEST = "transfer-dest"
BIG_KEY = "tests/big-product.bin"
BIG = os.urandom(5 * MIB) * 2 + os.urandom(3 * MIB)  # 13 MiB: three parts of 5 MiB


def session(sandbox, **identity) -> EarthdataSession:
    who = EarthdataIdentity(**({"login": SANDBOX_USER, "password": SANDBOX_PASSWORD} | identity), source="test")
    return EarthdataSession(AuthPolicy(who, sandbox.urls.edl, [sandbox.urls.cmr, f"{sandbox.urls.asf}/s3credentials"]))


def asf_client(sandbox):
    """An S3 client on ASF's bucket with refreshing TEA keys (us-west-2, as TEA's keys require)."""
    http = session(sandbox)
    credentials = refreshable_credentials(lambda: fetch_credentials(http, f"{sandbox.urls.asf}/s3credentials"))
    return boto3_session(credentials, "us-west-2").client("s3", endpoint_url=sandbox.urls.s3)


def refuse(client, operation: str) -> None:
    """Make S3 refuse ``operation`` for this client (botocore's before-call event): a later step of a copy fails."""

    def refused(**_) -> None:
        raise ClientError(
            {
                "Error": {"Code": "InternalError", "Message": "refused by the test"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
            operation,
        )

    client.meta.events.register(f"before-call.s3.{operation}", refused)


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def copy_big(sandbox, destination, key: str):
    """Copy the 13 MiB object from ASF's bucket into ``key`` of the destination bucket, in three parts."""
    return Transfer(destination, part_size=5 * MIB, concurrency=3).copy(
        S3Source(asf_client(sandbox), PRODUCT_BUCKET, BIG_KEY), DEST, key, size=len(BIG), checksum=md5(BIG)
    )


def landed(client, key: str) -> str:
    """The MD5 of what is at ``key`` in the destination bucket."""
    return md5(client.get_object(Bucket=DEST, Key=key)["Body"].read())


@pytest.fixture
def dest(asf_sandbox):
    client = empty_bucket(asf_sandbox, DEST)
    yield client
    assert client.list_multipart_uploads(Bucket=DEST).get("Uploads", []) == []  # never left behind


@pytest.fixture(scope="module")
def big_object(asf_sandbox):
    admin = s3_client(asf_sandbox, aws_access_key_id=ADMIN_ACCESS_KEY, aws_secret_access_key=ADMIN_SECRET_KEY)
    admin.put_object(Bucket=PRODUCT_BUCKET, Key=BIG_KEY, Body=BIG)
    yield BIG_KEY
    admin.delete_object(Bucket=PRODUCT_BUCKET, Key=BIG_KEY)  # the bucket holds the catalogue only again


def gunw_product(sandbox, archived=False) -> dict:
    for granule in sandbox.catalogue_document():
        if granule["short_name"] == "ARIA_S1_GUNW":
            product = granule["files"][0]
            if product["archived"] == archived:
                return product
    raise LookupError("no such GUNW product")


def source_object(sandbox, parts: str) -> tuple[str, int, str, int | None]:
    """(key, size, MD5, part size) of a source object that is copied in one put or in three parts."""
    if parts == "single-put":
        product = gunw_product(sandbox)
        return product["key"], product["size"], product["md5"], None
    return BIG_KEY, len(BIG), md5(BIG), 5 * MIB


class TestPartSize:
    def test_five_terabytes_fit_in_ten_thousand_parts(self):
        size = 5 * 1024**4
        assert size / part_size_for(size) <= 10_000
        assert part_size_for(100) == 8 * MIB and part_size_for(100, 5 * MIB) == 5 * MIB

    @pytest.mark.parametrize(
        ("size", "concurrency", "parts"),
        [
            (130 * MIB, 8, 24),  # 17 parts of 8 MiB would leave one alone in a third wave: three full waves
            (64 * MIB, 8, 8),  # one full wave of 8 MiB already
            (65 * MIB, 8, 13),  # 9 parts would be 8 + 1; parts of 5 MiB (the floor), 13 of them
            (1024 * MIB, 8, 128),  # whole waves of 8 MiB already
            (1000 * MIB, 4, 128),  # 125 parts would end with a wave of one
        ],
    )
    def test_parts_fill_whole_waves(self, size, concurrency, parts):
        balanced = balanced_part_size(size, part_size_for(size), concurrency)
        assert math.ceil(size / balanced) == parts
        assert S3_MIN_PART_SIZE <= balanced <= DEFAULT_PART_SIZE

    def test_one_part_objects_and_s3_limits_keep_the_part_size(self):
        assert balanced_part_size(3 * MIB, 8 * MIB, 8) == 8 * MIB  # one GET, one put
        assert balanced_part_size(12 * MIB, 8 * MIB, 8) == S3_MIN_PART_SIZE  # never below 5 MiB
        huge = 5 * 1024**4
        assert math.ceil(huge / balanced_part_size(huge, part_size_for(huge), 8)) <= 10_000

    @pytest.mark.parametrize(
        ("settings", "message"),
        [
            ({"part_size": MIB}, "part_size 1048576 is below S3's 5 MiB minimum"),
            ({"concurrency": 0}, "concurrency 0 must be at least 1"),
            ({"memory_limit": 6 * MIB}, "memory_limit 6291456 is below two parts of S3's 5 MiB minimum"),
        ],
    )
    def test_bad_settings_are_refused_before_any_request(self, settings, message):
        with pytest.raises(ValueError, match=message):
            Transfer(object(), **settings)


class TestCopy:
    def test_s3_source(self, asf_sandbox, dest):
        product = gunw_product(asf_sandbox)
        result = Transfer(dest).copy(
            S3Source(asf_client(asf_sandbox), PRODUCT_BUCKET, product["key"]),
            DEST,
            "gunw/" + product["name"],
            size=product["size"],
            checksum=product["md5"],
            metadata={"asf-concept-id": "G1-ASF"},
        )
        assert (result.status, result.bytes, result.checksum) == ("copied", product["size"], product["md5"])
        stored = dest.get_object(Bucket=DEST, Key="gunw/" + product["name"])
        assert md5(stored["Body"].read()) == product["md5"]
        assert stored["Metadata"]["asf-checksum"] == product["md5"]
        assert stored["Metadata"]["asf-concept-id"] == "G1-ASF"
        assert stored["Metadata"]["asf-source-url"] == f"s3://{PRODUCT_BUCKET}/{product['key']}"

    def test_https_source_through_the_door(self, asf_sandbox, dest, stats):
        product = next(
            f
            for g in asf_sandbox.catalogue_document()
            if g["short_name"].startswith("SENTINEL-1_INSAR")
            for f in g["files"]
            if f["role"] == "data" and not f["archived"]
        )
        result = Transfer(dest).copy(
            HttpsSource(session(asf_sandbox), product["url"]),
            DEST,
            product["name"],
            size=product["size"],
            checksum=product["md5"],
        )
        snapshot = stats()
        assert result.status == "copied" and result.bytes == product["size"]
        assert snapshot["requests"]["download"] >= 1 and snapshot["requests"]["s3_get_object"] >= 1
        assert "s3_get_object" not in snapshot["authorization"]  # the signed URL got no Authorization header
        assert md5(dest.get_object(Bucket=DEST, Key=product["name"])["Body"].read()) == product["md5"]

    @pytest.mark.parametrize("size_from", ["cmr", "content-length"])
    def test_https_buffers_fit_a_small_object(self, asf_sandbox, dest, size_from):
        browse = next(f for g in asf_sandbox.catalogue_document() for f in g["files"] if f["role"] == "browse")
        assert browse["size"] < MIB  # a browse PNG: far below one 8 MiB part
        result = Transfer(dest).copy(
            HttpsSource(session(asf_sandbox), browse["url"]),
            DEST,
            browse["name"],
            size=browse["size"] if size_from == "cmr" else None,
            checksum=browse["md5"],
        )
        assert result.status == "copied" and result.bytes == browse["size"]
        assert 0 < result.buffer_bytes <= browse["size"]  # not the pool's ten 8 MiB buffers
        assert md5(dest.get_object(Bucket=DEST, Key=browse["name"])["Body"].read()) == browse["md5"]

    def test_https_buffers_of_a_larger_object_are_its_parts(self, asf_sandbox, dest, big_object):
        url = f"{asf_sandbox.urls.asf}/door/download/{big_object}"
        result = Transfer(dest, part_size=5 * MIB).copy(
            HttpsSource(session(asf_sandbox), url), DEST, "big.bin", size=len(BIG), checksum=md5(BIG)
        )
        assert result.bytes == len(BIG) and result.buffer_bytes <= 3 * 5 * MIB  # three parts, not ten buffers

    def test_larger_than_one_part(self, asf_sandbox, dest, big_object):
        result = Transfer(dest, part_size=5 * MIB, concurrency=2).copy(
            S3Source(asf_client(asf_sandbox), PRODUCT_BUCKET, big_object),
            DEST,
            "big.bin",
            size=len(BIG),
            checksum=md5(BIG),
        )
        assert result.bytes == len(BIG)
        head = dest.head_object(Bucket=DEST, Key="big.bin")
        assert head["ETag"].strip('"').endswith("-3")  # three parts
        assert md5(dest.get_object(Bucket=DEST, Key="big.bin")["Body"].read()) == md5(BIG)

    @pytest.mark.parametrize("parts", ["single-put", "multipart"])
    def test_s3_source_without_a_cmr_checksum_records_the_one_read(self, asf_sandbox, dest, big_object, parts):
        key, size, checksum, part_size = source_object(asf_sandbox, parts)
        result = Transfer(dest, part_size=part_size).copy(
            S3Source(asf_client(asf_sandbox), PRODUCT_BUCKET, key), DEST, "unchecked.bin", size=size, checksum=None
        )
        assert (result.status, result.bytes, result.checksum) == ("copied", size, checksum)
        stored = dest.head_object(Bucket=DEST, Key="unchecked.bin")
        assert stored["Metadata"]["asf-checksum"] == checksum  # not "pending": the copy finished
        assert stored["Metadata"]["asf-size"] == str(size)
        assert stored["Metadata"]["asf-source-url"] == f"s3://{PRODUCT_BUCKET}/{key}"
        assert md5(dest.get_object(Bucket=DEST, Key="unchecked.bin")["Body"].read()) == checksum
        again = Transfer(dest).copy(
            S3Source(asf_client(asf_sandbox), PRODUCT_BUCKET, key), DEST, "unchecked.bin", size=size, checksum=None
        )
        assert again.status == "skipped"  # the recorded checksum marks a finished copy

    def test_rerun_is_skipped(self, asf_sandbox, dest, stats):
        product = gunw_product(asf_sandbox)
        transfer = Transfer(dest)
        source = S3Source(asf_client(asf_sandbox), PRODUCT_BUCKET, product["key"])
        transfer.copy(source, DEST, "again.nc", size=product["size"], checksum=product["md5"])
        gets = stats()["requests"]["s3_get_object"]
        second = transfer.copy(source, DEST, "again.nc", size=product["size"], checksum=product["md5"])
        assert (second.status, second.bytes) == ("skipped", 0)
        assert stats()["requests"]["s3_get_object"] == gets  # nothing read again

    def test_server_side_when_one_identity_reads_and_writes(self, asf_sandbox, dest):
        dest.put_object(Bucket=DEST, Key="origin.bin", Body=b"x" * 1000)
        result = Transfer(dest).copy(
            S3Source(dest, DEST, "origin.bin"),
            DEST,
            "copy.bin",
            size=1000,
            checksum=md5(b"x" * 1000),
            server_side_from=(DEST, "origin.bin"),
        )
        assert result.method == "server-side"
        assert dest.get_object(Bucket=DEST, Key="copy.bin")["Body"].read() == b"x" * 1000


class TestIntegrity:
    @pytest.mark.parametrize("part_size", [None, 5 * MIB], ids=["single-put", "multipart"])
    def test_checksum_mismatch_leaves_nothing(self, asf_sandbox, dest, big_object, part_size):
        with pytest.raises(ChecksumMismatchError, match="does not match CMR's"):
            Transfer(dest, part_size=part_size).copy(
                S3Source(asf_client(asf_sandbox), PRODUCT_BUCKET, big_object),
                DEST,
                "bad.bin",
                size=len(BIG),
                checksum="0" * 32,
            )
        assert "Contents" not in dest.list_objects_v2(Bucket=DEST)

    @pytest.mark.parametrize("parts", ["single-put", "multipart"])
    def test_a_checksum_that_cannot_be_recorded_leaves_nothing(self, asf_sandbox, dest, big_object, parts):
        key, size, _, part_size = source_object(asf_sandbox, parts)
        refuse(dest, "CopyObject")  # the in-place copy that records the checksum read fails
        with pytest.raises(ClientError, match="refused by the test"):
            Transfer(dest, part_size=part_size).copy(
                S3Source(asf_client(asf_sandbox), PRODUCT_BUCKET, key), DEST, "unrecorded.bin", size=size, checksum=None
            )
        assert "Contents" not in dest.list_objects_v2(Bucket=DEST)  # no object left with checksum "pending"

    def test_size_mismatch_leaves_nothing(self, asf_sandbox, dest):
        product = gunw_product(asf_sandbox)
        with pytest.raises(ChecksumMismatchError, match="CMR says"):
            Transfer(dest).copy(
                S3Source(asf_client(asf_sandbox), PRODUCT_BUCKET, product["key"]),
                DEST,
                "x.nc",
                size=product["size"] + 1,
                checksum=product["md5"],
            )
        assert "Contents" not in dest.list_objects_v2(Bucket=DEST)

    def test_html_login_page_is_not_data(self, asf_sandbox, dest):
        anonymous = EarthdataSession(AuthPolicy(EarthdataIdentity(), asf_sandbox.urls.edl))
        anonymous.headers["User-Agent"] = "Mozilla/5.0"  # a browser gets EDL's HTML page, not a 401
        product = gunw_product(asf_sandbox)
        with pytest.raises(EarthdataLoginError, match="HTML login page"):
            Transfer(dest).copy(HttpsSource(anonymous, product["url"]), DEST, "page.nc", size=product["size"])
        assert "Contents" not in dest.list_objects_v2(Bucket=DEST)


class TestResilience:
    def test_resets_resume_from_the_last_good_byte(self, asf_sandbox, dest, big_object, asf_sandbox_settings):
        client = asf_client(asf_sandbox)
        asf_sandbox_settings(reset_next=3)
        result = Transfer(dest, part_size=5 * MIB, sleep=lambda _: None).copy(
            S3Source(client, PRODUCT_BUCKET, big_object), DEST, "resumed.bin", size=len(BIG), checksum=md5(BIG)
        )
        assert result.resumes == 3 and result.reread_bytes == 0
        assert md5(dest.get_object(Bucket=DEST, Key="resumed.bin")["Body"].read()) == md5(BIG)

    def test_https_resets_resume_through_the_door(self, asf_sandbox, dest, big_object, asf_sandbox_settings):
        product = gunw_product(asf_sandbox)
        asf_sandbox_settings(reset_next=2)
        result = Transfer(dest, sleep=lambda _: None).copy(
            HttpsSource(session(asf_sandbox), product["url"]),
            DEST,
            "door.nc",
            size=product["size"],
            checksum=product["md5"],
        )
        assert result.resumes == 2 and result.reread_bytes == 0 and result.bytes == product["size"]

    def test_https_larger_than_one_part_resumes_in_order(self, asf_sandbox, dest, big_object, asf_sandbox_settings):
        asf_sandbox_settings(reset_next=2)
        url = f"{asf_sandbox.urls.asf}/door/download/{big_object}"
        result = Transfer(dest, part_size=5 * MIB, concurrency=2, sleep=lambda _: None).copy(
            HttpsSource(session(asf_sandbox), url), DEST, "door-big.bin", size=len(BIG), checksum=md5(BIG)
        )
        assert result.resumes == 2 and result.reread_bytes == 0 and result.bytes == len(BIG)
        assert dest.head_object(Bucket=DEST, Key="door-big.bin")["ETag"].strip('"').endswith("-3")
        assert md5(dest.get_object(Bucket=DEST, Key="door-big.bin")["Body"].read()) == md5(BIG)

    def test_a_complete_whose_answer_is_lost_is_sent_again_and_lands_once(
        self, asf_sandbox, dest, big_object, asf_sandbox_settings
    ):
        # The Complete goes through and the connection drops before its answer: botocore sends it again, and
        # the server answers the repeat of a finished upload with success, as AWS does.
        asf_sandbox_settings(lose_next_complete=1)
        result = copy_big(asf_sandbox, dest, "lost-answer.bin")
        snapshot = asf_sandbox.stats.snapshot()
        assert snapshot["events"]["fault_lost_answer"] == 1
        assert snapshot["requests"]["s3_multipart"] == 1 + 3 + 2  # create, three parts, the Complete twice
        assert result.status == "copied" and landed(dest, "lost-answer.bin") == md5(BIG)

    def test_a_repeat_refused_after_the_complete_went_through_keeps_the_object(
        self, asf_sandbox, dest, big_object, caplog
    ):
        # MinIO and S3Mock answer the repeat of a finished upload NoSuchUpload (AWS answers it with
        # success): here the Complete goes through and its answer is that error.
        def forgotten(**_) -> None:
            raise ClientError({"Error": {"Code": "NoSuchUpload"}, "ResponseMetadata": {"HTTPStatusCode": 404}}, "x")

        dest.meta.events.register("after-call.s3.CompleteMultipartUpload", forgotten)
        result = copy_big(asf_sandbox, dest, "forgotten.bin")
        assert result.status == "copied" and "its first answer was lost" in caplog.text
        assert landed(dest, "forgotten.bin") == md5(BIG)

    def test_a_slow_complete_is_kept_alive_past_the_read_timeout(
        self, asf_sandbox, dest, big_object, asf_sandbox_settings
    ):
        # S3 answers a long Complete 200 at once and sends spaces until the object is joined; a client whose
        # read timeout is shorter than the join then waits it out on one request.
        asf_sandbox_settings(complete_seconds=3)
        keys = asf_sandbox.aws_connection()
        patient = s3_client(
            asf_sandbox,
            aws_access_key_id=keys["login"],
            aws_secret_access_key=keys["password"],
            config=Config(read_timeout=1.5, retries={"max_attempts": 1}),
        )
        result = copy_big(asf_sandbox, patient, "slow-complete.bin")
        assert asf_sandbox.stats.snapshot()["requests"]["s3_multipart"] == 1 + 3 + 1  # the Complete once
        assert result.status == "copied" and landed(dest, "slow-complete.bin") == md5(BIG)

    def test_a_failed_complete_is_not_saved_by_another_object_of_the_same_size(self, asf_sandbox, dest, big_object):
        other = os.urandom(len(BIG))
        dest.put_object(Bucket=DEST, Key="taken.bin", Body=other)
        refuse(dest, "CompleteMultipartUpload")
        with pytest.raises(ClientError, match="refused by the test"):
            copy_big(asf_sandbox, dest, "taken.bin")
        assert dest.get_object(Bucket=DEST, Key="taken.bin")["Body"].read() == other  # what was there stays

    def test_s3_parts_are_fetched_as_ranges(self, asf_sandbox, dest, big_object, stats):
        asf_sandbox.stats.reset()
        Transfer(dest, part_size=5 * MIB, concurrency=3).copy(
            S3Source(asf_client(asf_sandbox), PRODUCT_BUCKET, big_object),
            DEST,
            "ranged.bin",
            size=len(BIG),
            checksum=md5(BIG),
        )
        snapshot = stats()
        assert snapshot["requests"]["s3_get_object"] == 3  # one GET per part, each only its range
        assert snapshot["bytes_served"][f"{PRODUCT_BUCKET}/{big_object}"] == len(BIG)

    @pytest.mark.parametrize(("part_size", "parts"), [(None, 3), (8 * MIB, 2)])
    def test_default_parts_keep_every_connection_busy_a_chosen_size_is_kept(
        self, asf_sandbox, dest, big_object, stats, part_size, parts
    ):
        # 13 MiB on three connections: 8 MiB parts would leave one idle; parts of 5 MiB use all three.
        asf_sandbox.stats.reset()
        Transfer(dest, part_size=part_size, concurrency=3).copy(
            S3Source(asf_client(asf_sandbox), PRODUCT_BUCKET, big_object),
            DEST,
            "balanced.bin",
            size=len(BIG),
            checksum=md5(BIG),
        )
        assert stats()["requests"]["s3_get_object"] == parts
        assert dest.head_object(Bucket=DEST, Key="balanced.bin")["ETag"].strip('"').endswith(f"-{parts}")

    def test_credentials_expiring_mid_transfer(self, asf_sandbox, dest, big_object, asf_sandbox_settings, stats):
        asf_sandbox_settings(credential_ttl=2)
        client = asf_client(asf_sandbox)  # its first keys live 2 s
        asf_sandbox_settings(reset_next=12, latency_ms=250)
        result = Transfer(dest, part_size=5 * MIB, max_resumes=50, sleep=lambda _: None).copy(
            S3Source(client, PRODUCT_BUCKET, big_object), DEST, "long.bin", size=len(BIG), checksum=md5(BIG)
        )
        assert result.status == "copied" and result.seconds > 2
        assert stats()["events"]["credentials_issued"] >= 2  # the keys were refreshed while copying

    def test_archived_products_are_refused_clearly(self, asf_sandbox, dest):
        product = gunw_product(asf_sandbox, archived=True)
        with pytest.raises(ProductArchivedError, match="storage and not restored"):
            Transfer(dest).copy(
                S3Source(asf_client(asf_sandbox), PRODUCT_BUCKET, product["key"]), DEST, "a.nc", size=product["size"]
            )
        with pytest.raises(ProductArchivedError, match="answered 202"):
            Transfer(dest).copy(HttpsSource(session(asf_sandbox), product["url"]), DEST, "a.nc", size=product["size"])
        assert "Contents" not in dest.list_objects_v2(Bucket=DEST)
