"""The record of multipart uploads: a retry aborts what its killed try left, and nobody else's upload."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_asf_ifg.client.transfer import MIB, S3Source, Transfer
from airflow_asf_ifg.client.upload_ledger import LEDGER_FOLDER, UploadLedger, UploadOwner, entry_key, ledger_prefix
from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET
from tests.client.test_transfer import BIG, BIG_KEY, asf_client, big_object, gunw_product, md5, refuse  # noqa: F401 (fixture)
from tests.sandbox.helpers import empty_bucket

pytestmark = [pytest.mark.asf_sandbox(era="2018", tea=True), pytest.mark.usefixtures("big_object")]

DEST = "ledger-dest"
KEY = "products/big.bin"
TASK = "ingest/manual__1/copy/0"


@pytest.fixture
def dest(asf_sandbox):
    client = empty_bucket(asf_sandbox, DEST)
    yield client
    for upload in client.list_multipart_uploads(Bucket=DEST).get("Uploads", []):
        client.abort_multipart_upload(Bucket=DEST, Key=upload["Key"], UploadId=upload["UploadId"])


def unfinished(client, key: str = KEY) -> set[str]:
    """Ids of the unfinished uploads of ``key``."""
    uploads = client.list_multipart_uploads(Bucket=DEST, Prefix=key).get("Uploads", [])
    return {u["UploadId"] for u in uploads if u["Key"] == key}


def entries(client, key: str = KEY) -> list[str]:
    """Keys of the records kept for ``key``."""
    return [o["Key"] for o in client.list_objects_v2(Bucket=DEST, Prefix=ledger_prefix(key)).get("Contents", [])]


def left_by_a_killed_try(client, owner: UploadOwner | None) -> str:
    """What a try killed mid-copy leaves: an upload with one part sent and, if it had an owner, its record."""
    upload_id = client.create_multipart_upload(Bucket=DEST, Key=KEY)["UploadId"]
    client.upload_part(Bucket=DEST, Key=KEY, UploadId=upload_id, PartNumber=1, Body=BIG[: 5 * MIB])
    if owner is not None:
        UploadLedger(client, owner).record(DEST, KEY, upload_id)
    return upload_id


def note_puts(client, keys: list[str]) -> None:
    """Append the key of each PutObject the client sends to ``keys``."""
    client.meta.events.register("provide-client-params.s3.PutObject", lambda params, **_: keys.append(params["Key"]))


def copy(sandbox, client, owner: UploadOwner | None, key: str = KEY):
    return Transfer(client, part_size=5 * MIB, owner=owner).copy(
        S3Source(asf_client(sandbox), PRODUCT_BUCKET, BIG_KEY),
        DEST,
        key,
        size=len(BIG),
        checksum=md5(BIG),
    )


class TestUploadLedger:
    def test_the_record_sits_beside_the_key_in_a_hidden_folder(self):
        assert ledger_prefix("a/b/product.nc") == f"a/b/{LEDGER_FOLDER}/product.nc/"
        assert ledger_prefix("product.nc") == f"{LEDGER_FOLDER}/product.nc/"
        assert entry_key("a/product.nc", "x" * 300).startswith(f"a/{LEDGER_FOLDER}/product.nc/")
        assert len(entry_key("a/product.nc", "x" * 300)) < 80  # upload ids are long; the record's name is not

    def test_a_retry_aborts_only_what_its_killed_try_left(self, asf_sandbox, dest, caplog):
        stale = left_by_a_killed_try(dest, UploadOwner(TASK, 1))
        another_run = left_by_a_killed_try(dest, UploadOwner("ingest/manual__2/copy/0", 1))
        later_try = left_by_a_killed_try(dest, UploadOwner(TASK, 3))  # e.g. a duplicate still running
        someone_else = left_by_a_killed_try(dest, None)  # another tool's upload: no record at all
        with caplog.at_level(logging.WARNING, logger="airflow_asf_ifg.client.upload_ledger"):
            result = copy(asf_sandbox, dest, UploadOwner(TASK, 2))
        assert result.status == "copied"
        assert md5(dest.get_object(Bucket=DEST, Key=KEY)["Body"].read()) == md5(BIG)
        assert unfinished(dest) == {another_run, later_try, someone_else}
        assert stale not in unfinished(dest)
        kept = {json.loads(dest.get_object(Bucket=DEST, Key=k)["Body"].read())["upload_id"] for k in entries(dest)}
        assert kept == {another_run, later_try}  # the stale record went with its upload; this try's own too
        assert f"Aborted multipart upload {stale} of s3://{DEST}/{KEY}, left unfinished by try 1" in caplog.text

    def test_a_finished_copy_leaves_no_record(self, asf_sandbox, dest):
        recorded = []
        dest.meta.events.register(
            "provide-client-params.s3.PutObject", lambda params, **_: recorded.append(params["Key"])
        )
        result = copy(asf_sandbox, dest, UploadOwner(TASK, 1))
        assert result.status == "copied" and dest.head_object(Bucket=DEST, Key=KEY)["ETag"].endswith('-3"')
        assert [k for k in recorded if LEDGER_FOLDER in k] != []  # the upload was recorded while it ran...
        assert entries(dest) == [] and unfinished(dest) == set()  # ...and the record went when it completed

    def test_a_failed_copy_aborts_and_leaves_no_record(self, asf_sandbox, dest):
        refuse(dest, "CompleteMultipartUpload")
        with pytest.raises(Exception, match="refused by the test"):
            copy(asf_sandbox, dest, UploadOwner(TASK, 1))
        assert entries(dest) == [] and unfinished(dest) == set()
        assert "Contents" not in dest.list_objects_v2(Bucket=DEST)

    def test_a_first_try_looks_for_nothing(self, asf_sandbox, dest):
        listed = []
        dest.meta.events.register("provide-client-params.s3.ListObjectsV2", lambda params, **_: listed.append(params))
        copy(asf_sandbox, dest, UploadOwner(TASK, 1))
        assert listed == []

    def test_without_list_permission_the_copy_still_lands(self, asf_sandbox, dest, caplog):
        stale = left_by_a_killed_try(dest, UploadOwner(TASK, 1))
        refuse(dest, "ListObjectsV2")
        with caplog.at_level(logging.WARNING, logger="airflow_asf_ifg.client.upload_ledger"):
            result = copy(asf_sandbox, dest, UploadOwner(TASK, 2))
        assert result.status == "copied"
        assert "AbortIncompleteMultipartUpload" in caplog.text
        assert stale in unfinished(dest)  # left to the bucket's lifecycle rule, as the warning says

    def test_an_object_of_one_part_needs_no_record(self, asf_sandbox, dest):
        product = gunw_product(asf_sandbox)
        recorded = []
        dest.meta.events.register(
            "provide-client-params.s3.PutObject", lambda params, **_: recorded.append(params["Key"])
        )
        Transfer(dest, owner=UploadOwner(TASK, 1)).copy(
            S3Source(asf_client(asf_sandbox), PRODUCT_BUCKET, product["key"]),
            DEST,
            "small.nc",
            size=product["size"],
            checksum=product["md5"],
        )
        assert recorded == ["small.nc"]

    def test_in_a_versioned_bucket_no_record_version_stays(self, asf_sandbox, dest):
        dest.put_bucket_versioning(Bucket=DEST, VersioningConfiguration={"Status": "Enabled"})
        try:
            left_by_a_killed_try(dest, UploadOwner(TASK, 1))
            copy(asf_sandbox, dest, UploadOwner(TASK, 2))  # aborts the stale upload and deletes its record
            copy(asf_sandbox, dest, UploadOwner(TASK, 3), key="products/other.bin")  # records and deletes its own
            for key in (KEY, "products/other.bin"):
                versions = dest.list_object_versions(Bucket=DEST, Prefix=ledger_prefix(key))
                assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []
        finally:
            dest.put_bucket_versioning(Bucket=DEST, VersioningConfiguration={"Status": "Suspended"})
            listed = dest.list_object_versions(Bucket=DEST)
            for version in (*listed.get("Versions", []), *listed.get("DeleteMarkers", [])):
                dest.delete_object(Bucket=DEST, Key=version["Key"], VersionId=version["VersionId"])
