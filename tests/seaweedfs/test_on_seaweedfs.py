"""The engine, the AWS CLI and AsfToS3Operator on SeaweedFS, a second S3 implementation, so none is tuned to moto.

What SeaweedFS 4.48 answered differently from moto 5 (none of it changes what the engine does):

- an object stored without a Content-Type reads back as ``text/plain; charset=utf-8`` (moto:
  ``binary/octet-stream``);
- CopyObject onto itself with ``MetadataDirective=REPLACE`` keeps a multipart object's ``<md5>-<parts>`` ETag
  (moto computes a new single-part ETag): an ETag says nothing once metadata was rewritten, so the engine's
  record of a finished copy is its ``asf-checksum`` metadata, not the ETag;
- CompleteMultipartUpload of an unknown upload id answers ``NoSuchUpload`` (moto: 500 from a KeyError);
- CompleteMultipartUpload's answer has no ``VersionId`` on an unversioned bucket (moto sends one);
- identities are enforced per bucket (``Read:<bucket>``...), where the sandbox's moto checks keys only.

Alike: part ETags are the parts' MD5s, the whole's ends in ``-<parts>``, parts under 5 MiB are refused with
``EntityTooSmall``, an unfinished upload is not visible at its key, ranges past the end are clipped, a repeat
of a finished CompleteMultipartUpload is answered with success (as AWS does; MinIO answers ``NoSuchUpload``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from airflow_asf_ifg.client.s3 import complete_upload
from airflow_asf_ifg.client.transfer import MIB, S3Source, Transfer
from airflow_asf_ifg.exceptions import ChecksumMismatchError
from tests.cli.conftest import tool
from tests.conftest import task_states, xcom_value
from tests.seaweedfs.conftest import DEST, SOURCE
from tests.transfers.test_asf_to_s3 import restore_everything

KEY = "products/S1-GUNW-sized.nc"
BODY = os.urandom(5 * MIB) * 2 + os.urandom(3 * MIB)  # 13 MiB: three parts of 5 MiB
WHEN = datetime(2024, 1, 2, tzinfo=UTC)
DAG_SOURCE = """
from datetime import datetime
from airflow.sdk import DAG
from airflow_asf_ifg.operators.cmr import CmrSearchOperator
from airflow_asf_ifg.transfers.asf_to_s3 import AsfToS3Operator

with DAG("__DAG_ID__", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
    search = CmrSearchOperator(task_id="search", collection_concept_id="C2859376221-ASF", temporal=(None, None),
                               aoi=(-118.1445, 34.1478))
    AsfToS3Operator.partial(task_id="copy", dest_bucket="__BUCKET__").expand(granule=search.output)
"""


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture(scope="module")
def source_object(seaweedfs):
    """A 13 MiB object in the source bucket, put by the admin."""
    seaweedfs.client().put_object(Bucket=SOURCE, Key=KEY, Body=BODY)
    return KEY


@pytest.fixture
def dest(seaweedfs):
    """The writer's client on an emptied destination bucket; no multipart upload may be left after a test."""
    writer = seaweedfs.client(seaweedfs.writer)
    for item in writer.list_objects_v2(Bucket=DEST).get("Contents", []):
        writer.delete_object(Bucket=DEST, Key=item["Key"])
    yield writer
    assert writer.list_multipart_uploads(Bucket=DEST).get("Uploads", []) == []


def missing(client, key: str) -> bool:
    try:
        client.head_object(Bucket=DEST, Key=key)
    except ClientError as error:
        return error.response["Error"]["Code"] in ("404", "NoSuchKey")
    return False


class TestTransfer:
    def test_reader_to_writer_in_parts_then_rerun_skips(self, seaweedfs, dest, source_object):
        reader = seaweedfs.client(seaweedfs.reader)
        result = Transfer(dest, part_size=5 * MIB, concurrency=2).copy(
            S3Source(reader, SOURCE, source_object), DEST, "copied.nc", size=len(BODY), checksum=md5(BODY)
        )
        assert (result.status, result.bytes, result.checksum) == ("copied", len(BODY), md5(BODY))
        stored = dest.get_object(Bucket=DEST, Key="copied.nc")
        assert md5(stored["Body"].read()) == md5(BODY)
        assert stored["ETag"].strip('"').endswith("-3")  # three parts
        assert stored["Metadata"]["asf-checksum"] == md5(BODY)
        assert stored["Metadata"]["asf-source-url"] == f"s3://{SOURCE}/{source_object}"
        again = Transfer(dest).copy(
            S3Source(reader, SOURCE, source_object), DEST, "copied.nc", size=len(BODY), checksum=md5(BODY)
        )
        assert again.status == "skipped"

    def test_a_wrong_checksum_leaves_nothing_at_the_key(self, seaweedfs, dest, source_object):
        with pytest.raises(ChecksumMismatchError):
            Transfer(dest, part_size=5 * MIB, concurrency=2).copy(
                S3Source(seaweedfs.client(seaweedfs.reader), SOURCE, source_object),
                DEST,
                "bad.nc",
                size=len(BODY),
                checksum="0" * 32,
            )
        assert missing(dest, "bad.nc")  # and the dest fixture checks that the upload was aborted

    def test_the_read_only_identity_cannot_write_the_destination(self, seaweedfs, dest, source_object):
        reader = seaweedfs.client(seaweedfs.reader)
        # Refused at the first request, the HeadObject of the destination key: 403 (a HEAD answer has no body).
        with pytest.raises(ClientError, match=r"\(403\) when calling the HeadObject"):
            Transfer(reader, part_size=5 * MIB).copy(
                S3Source(reader, SOURCE, source_object), DEST, "refused.nc", size=len(BODY), checksum=md5(BODY)
            )
        assert missing(dest, "refused.nc")

    def test_a_refused_complete_keeps_the_object_its_parts_made_and_nothing_else(self, dest):
        # SeaweedFS answers a repeat of a finished Complete with success, as AWS does; a Complete it refuses
        # (NoSuchUpload, as MinIO answers that repeat) finds the object by the ETag SeaweedFS gave it.
        upload = dest.create_multipart_upload(Bucket=DEST, Key="twice.nc")["UploadId"]
        parts = []
        for number, first in enumerate(range(0, len(BODY), 5 * MIB), start=1):
            body = BODY[first : first + 5 * MIB]
            answer = dest.upload_part(Bucket=DEST, Key="twice.nc", UploadId=upload, PartNumber=number, Body=body)
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        complete_upload(dest, DEST, "twice.nc", upload, parts, len(BODY))
        dest.complete_multipart_upload(Bucket=DEST, Key="twice.nc", UploadId=upload, MultipartUpload={"Parts": parts})
        complete_upload(dest, DEST, "twice.nc", "forgotten-upload", parts, len(BODY))  # refused; the object is kept
        with pytest.raises(ClientError, match="NoSuchUpload"):  # an object of another size is not this one
            complete_upload(dest, DEST, "twice.nc", "forgotten-upload", parts, len(BODY) + 1)
        with pytest.raises(ClientError, match="NoSuchUpload"):  # nor one other parts make
            complete_upload(dest, DEST, "twice.nc", "forgotten-upload", parts[:2], len(BODY))
        assert md5(dest.get_object(Bucket=DEST, Key="twice.nc")["Body"].read()) == md5(BODY)


class TestAwsCli:
    def test_cp_with_the_read_only_identity_and_its_refused_upload(self, seaweedfs, source_object, tmp_path):
        aws, reader = tool("aws"), seaweedfs.reader
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "AWS_ACCESS_KEY_ID": reader.access_key,
            "AWS_SECRET_ACCESS_KEY": reader.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        target = tmp_path / "product.nc"
        # 13 MiB: above the CLI's 8 MiB threshold, so it reads in concurrent ranged GETs.
        copied = subprocess.run(
            [aws, "s3", "cp", "--endpoint-url", seaweedfs.url, f"s3://{SOURCE}/{source_object}", str(target)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert copied.returncode == 0, copied.stderr
        assert md5(target.read_bytes()) == md5(BODY)
        refused = subprocess.run(
            [aws, "s3", "cp", "--endpoint-url", seaweedfs.url, str(target), f"s3://{SOURCE}/written-by-reader.nc"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert refused.returncode != 0 and "AccessDenied" in refused.stderr


class TestAsfToS3Operator:
    def test_gunw_from_the_sandbox_door_into_seaweedfs(
        self, dag_from_source, asf_sandbox, asf_sandbox_connections, asf_sandbox_settings, seaweedfs, dest, monkeypatch
    ):
        asf_sandbox.reset()
        restore_everything(asf_sandbox)  # its retrieval_seconds is put back by asf_sandbox_settings
        # Source: the sandbox's door (today's era: HTTPS, 302 to a signed URL); destination: SeaweedFS's writer.
        connection = (
            '{"conn_type": "aws", "login": "%s", "password": "%s", '
            '"extra": {"endpoint_url": "%s", "region_name": "us-east-1"}}'
        )
        writer = seaweedfs.writer
        monkeypatch.setenv(
            "AIRFLOW_CONN_AWS_DEFAULT", connection % (writer.access_key, writer.secret_key, seaweedfs.url)
        )
        dag = dag_from_source(DAG_SOURCE.replace("__BUCKET__", DEST))
        dag_run = dag.test(logical_date=WHEN)
        assert dag_run.state == "success", task_states(dag_run)
        found = xcom_value(dag_run, "search")
        assert found
        results = [xcom_value(dag_run, "copy", map_index=i)[0] for i in range(len(found))]
        door = f"{asf_sandbox.urls.asf}/door/download/"
        assert all(r["status"] == "copied" and r["source"].startswith(door) for r in results), results
        for result in results:
            body = dest.get_object(Bucket=DEST, Key=result["key"])["Body"].read()
            assert md5(body) == result["checksum"] and len(body) == result["bytes"]
        rerun = dag.test(logical_date=datetime(2024, 1, 3, tzinfo=UTC))
        assert rerun.state == "success", task_states(rerun)
        again = [xcom_value(rerun, "copy", map_index=i)[0] for i in range(len(found))]
        assert all(r["status"] == "skipped" for r in again)
