"""The sandbox's S3 over boto3: who may read and write what, expiring keys, GLACIER and restores."""

from __future__ import annotations

import hashlib
import os
import re
import time

import botocore.exceptions
import pytest
import requests

from airflow_asf_ifg.sandbox.config import BROWSE_BUCKET, PRODUCT_BUCKET
from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY
from tests.sandbox.helpers import catalogue_file, s3_client, user_s3, wait_for


@pytest.fixture(autouse=True)
def _fresh_archive(asf_sandbox):
    asf_sandbox.reset()


def door_keys(asf_sandbox, door_session) -> dict:
    credentials = door_session.get(f"{asf_sandbox.urls.asf}/door/credentials", timeout=10).json()["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def tea_keys(asf_sandbox, door_session) -> dict:
    credentials = door_session.get(f"{asf_sandbox.urls.asf}/s3credentials", timeout=10).json()
    return {
        "aws_access_key_id": credentials["accessKeyId"],
        "aws_secret_access_key": credentials["secretAccessKey"],
        "aws_session_token": credentials["sessionToken"],
    }


def error_code(call) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


@pytest.mark.asf_sandbox(era="2018")  # the door's STS keys are the 2018 door's
class TestTemporaryKeys:
    def test_door_keys_list_and_read_the_product_bucket(self, asf_sandbox, door_session):
        s3 = s3_client(asf_sandbox, **door_keys(asf_sandbox, door_session))
        listing = s3.list_objects_v2(Bucket=PRODUCT_BUCKET)["Contents"]
        assert len(listing) == len(asf_sandbox.catalogue)
        item = catalogue_file(asf_sandbox, archived=False)
        body = s3.get_object(Bucket=PRODUCT_BUCKET, Key=item["key"])["Body"].read()
        assert hashlib.md5(body, usedforsecurity=False).hexdigest() == item["md5"]

    def test_ranged_get_reads_part_of_a_product(self, asf_sandbox, door_session):
        s3 = s3_client(asf_sandbox, **door_keys(asf_sandbox, door_session))
        item = catalogue_file(asf_sandbox, archived=False)
        whole = s3.get_object(Bucket=PRODUCT_BUCKET, Key=item["key"])["Body"].read()
        part = s3.get_object(Bucket=PRODUCT_BUCKET, Key=item["key"], Range="bytes=100-199")["Body"].read()
        assert part == whole[100:200]

    def test_door_keys_cannot_write(self, asf_sandbox, door_session):
        s3 = s3_client(asf_sandbox, **door_keys(asf_sandbox, door_session))
        assert error_code(lambda: s3.put_object(Bucket=PRODUCT_BUCKET, Key="x", Body=b"x")) == "AccessDenied"
        assert error_code(lambda: s3.create_bucket(Bucket="mine")) == "AccessDenied"

    def test_keys_without_session_token_are_unknown(self, asf_sandbox, door_session):
        keys = door_keys(asf_sandbox, door_session)
        keys.pop("aws_session_token")
        s3 = s3_client(asf_sandbox, **keys)
        assert error_code(lambda: s3.list_objects_v2(Bucket=PRODUCT_BUCKET)) == "InvalidAccessKeyId"

    def test_expired_keys_get_expired_token(self, asf_sandbox, door_session, asf_sandbox_settings):
        asf_sandbox_settings(credential_ttl=1)
        s3 = s3_client(asf_sandbox, **door_keys(asf_sandbox, door_session))

        def refused() -> str | None:
            try:
                s3.list_objects_v2(Bucket=PRODUCT_BUCKET)
            except botocore.exceptions.ClientError as error:
                return error.response["Error"]["Code"]
            return None

        assert wait_for(refused, timeout=10, what="the keys to expire") == "ExpiredToken"

    @pytest.mark.asf_sandbox(era="today", tea=True)
    def test_tea_keys_work_only_in_region(self, asf_sandbox, door_session):
        keys = tea_keys(asf_sandbox, door_session)
        in_region = s3_client(asf_sandbox, region="us-west-2", **keys)
        assert in_region.list_objects_v2(Bucket=PRODUCT_BUCKET)["KeyCount"] > 0
        elsewhere = s3_client(asf_sandbox, region="eu-central-1", **keys)
        assert error_code(lambda: elsewhere.list_objects_v2(Bucket=PRODUCT_BUCKET)) == "AccessDenied"


class TestOtherIdentities:
    def test_user_keys_own_buckets_but_not_asfs(self, asf_sandbox):
        s3 = user_s3(asf_sandbox)
        s3.create_bucket(Bucket="user-bucket-1")
        s3.put_object(Bucket="user-bucket-1", Key="a/b.txt", Body=b"hello")
        assert s3.get_object(Bucket="user-bucket-1", Key="a/b.txt")["Body"].read() == b"hello"
        assert error_code(lambda: s3.list_objects_v2(Bucket=PRODUCT_BUCKET)) == "AccessDenied"

    def test_anonymous_reads_browse_images_only(self, asf_sandbox):
        browse = catalogue_file(asf_sandbox, archived=False, role="browse")
        response = requests.get(browse["url"], timeout=10)
        assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
        assert requests.get(f"{asf_sandbox.urls.s3}/{PRODUCT_BUCKET}/{browse['name']}", timeout=10).status_code == 403
        assert requests.put(f"{asf_sandbox.urls.s3}/{BROWSE_BUCKET}/x.png", data=b"x", timeout=10).status_code == 403

    def test_unknown_temporary_key(self, asf_sandbox):
        s3 = s3_client(
            asf_sandbox, aws_access_key_id="ASIAUNKNOWN000000000", aws_secret_access_key="x", aws_session_token="y"
        )
        assert error_code(lambda: s3.list_objects_v2(Bucket=PRODUCT_BUCKET)) == "InvalidAccessKeyId"


class TestGlacier:
    @pytest.mark.asf_sandbox(era="2018")
    def test_archived_product_reads_as_glacier_until_retrieved(self, asf_sandbox, door_session, asf_sandbox_settings):
        asf_sandbox_settings(retrieval_seconds=1.0)
        item = catalogue_file(asf_sandbox, archived=True)
        s3 = s3_client(asf_sandbox, **door_keys(asf_sandbox, door_session))
        head = s3.head_object(Bucket=PRODUCT_BUCKET, Key=item["key"])
        assert head["StorageClass"] == "GLACIER" and "Restore" not in head
        assert error_code(lambda: s3.get_object(Bucket=PRODUCT_BUCKET, Key=item["key"])) == "InvalidObjectState"
        # ASF never grants s3:RestoreObject; the door's download starts the retrieval instead.
        assert (
            error_code(lambda: s3.restore_object(Bucket=PRODUCT_BUCKET, Key=item["key"], RestoreRequest={"Days": 1}))
            == "AccessDenied"
        )
        assert door_session.get(item["url"], timeout=10).status_code == 202
        assert s3.head_object(Bucket=PRODUCT_BUCKET, Key=item["key"])["Restore"] == 'ongoing-request="true"'
        restore = wait_for(
            lambda: "false" in (r := s3.head_object(Bucket=PRODUCT_BUCKET, Key=item["key"]).get("Restore", "")) and r,
            timeout=15,
            what="the restore",
        )
        assert re.match(r'^ongoing-request="false", expiry-date="\w{3}, \d\d \w{3} \d{4} 00:00:00 GMT"$', restore)
        body = s3.get_object(Bucket=PRODUCT_BUCKET, Key=item["key"])["Body"].read()
        assert hashlib.md5(body, usedforsecurity=False).hexdigest() == item["md5"]

    def test_restore_object_in_a_users_bucket(self, asf_sandbox, asf_sandbox_settings):
        asf_sandbox_settings(retrieval_seconds=1.0)
        s3 = user_s3(asf_sandbox)
        s3.create_bucket(Bucket="lifecycle-bucket")
        s3.put_object(Bucket="lifecycle-bucket", Key="old.nc", Body=b"x" * 100, StorageClass="GLACIER")
        s3.put_object(Bucket="lifecycle-bucket", Key="new.nc", Body=b"y" * 100)
        assert error_code(lambda: s3.get_object(Bucket="lifecycle-bucket", Key="old.nc")) == "InvalidObjectState"
        assert (
            error_code(lambda: s3.restore_object(Bucket="lifecycle-bucket", Key="new.nc", RestoreRequest={"Days": 1}))
            == "InvalidObjectState"
        )
        started = s3.restore_object(Bucket="lifecycle-bucket", Key="old.nc", RestoreRequest={"Days": 2})
        assert started["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert (
            error_code(lambda: s3.restore_object(Bucket="lifecycle-bucket", Key="old.nc", RestoreRequest={"Days": 2}))
            == "RestoreAlreadyInProgress"
        )
        wait_for(
            lambda: "false" in s3.head_object(Bucket="lifecycle-bucket", Key="old.nc").get("Restore", ""),
            timeout=15,
            what="the restore",
        )
        assert s3.get_object(Bucket="lifecycle-bucket", Key="old.nc")["Body"].read() == b"x" * 100
        again = s3.restore_object(Bucket="lifecycle-bucket", Key="old.nc", RestoreRequest={"Days": 2})
        assert again["ResponseMetadata"]["HTTPStatusCode"] == 200


class TestMissingBucket:
    """A bucket that does not exist is S3's 404 NoSuchBucket for every caller (moto raised it as a 500)."""

    @pytest.mark.parametrize("identity", ["admin", "user", "door"])
    def test_every_call_is_404_no_such_bucket(self, asf_sandbox, identity, asf_sandbox_settings, door_session):
        if identity == "door":
            asf_sandbox_settings(era="2018")
            keys = door_keys(asf_sandbox, door_session)
        elif identity == "admin":
            keys = {"aws_access_key_id": ADMIN_ACCESS_KEY, "aws_secret_access_key": ADMIN_SECRET_KEY}
        else:
            connection = asf_sandbox.aws_connection()
            keys = {"aws_access_key_id": connection["login"], "aws_secret_access_key": connection["password"]}
        s3 = s3_client(asf_sandbox, **keys)
        for call in (
            lambda: s3.head_object(Bucket="no-such-bucket", Key="k"),
            lambda: s3.head_bucket(Bucket="no-such-bucket"),
        ):
            with pytest.raises(botocore.exceptions.ClientError) as caught:
                call()
            assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert error_code(lambda: s3.get_object(Bucket="no-such-bucket", Key="k")) == "NoSuchBucket"
        assert error_code(lambda: s3.list_objects_v2(Bucket="no-such-bucket")) == "NoSuchBucket"
        assert (
            error_code(lambda: s3.restore_object(Bucket="no-such-bucket", Key="k", RestoreRequest={"Days": 1}))
            == "NoSuchBucket"
        )

    def test_head_has_no_body_and_get_names_the_bucket(self, asf_sandbox):
        head = requests.head(f"{asf_sandbox.urls.s3}/no-such-bucket/k", timeout=10)
        assert head.status_code == 404 and head.content == b""
        get = requests.get(f"{asf_sandbox.urls.s3}/no-such-bucket/k", timeout=10)
        assert get.status_code == 404
        assert "<Code>NoSuchBucket</Code>" in get.text and "<BucketName>no-such-bucket</BucketName>" in get.text

    def test_creating_it_still_works(self, asf_sandbox):
        s3 = user_s3(asf_sandbox)
        s3.create_bucket(Bucket="made-after-a-404")
        assert s3.head_bucket(Bucket="made-after-a-404")["ResponseMetadata"]["HTTPStatusCode"] == 200


class TestPresignedUrls:
    def test_expired_presigned_url_is_refused(self, asf_sandbox):
        from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY

        admin = s3_client(asf_sandbox, aws_access_key_id=ADMIN_ACCESS_KEY, aws_secret_access_key=ADMIN_SECRET_KEY)
        item = catalogue_file(asf_sandbox, archived=False)
        url = admin.generate_presigned_url(
            "get_object", Params={"Bucket": PRODUCT_BUCKET, "Key": item["key"]}, ExpiresIn=1
        )
        assert requests.get(url, timeout=10).status_code == 200
        body = wait_for(
            lambda: (r := requests.get(url, timeout=10)).status_code == 403 and r.content,
            timeout=10,
            what="the URL to expire",
        )
        assert b"Request has expired" in body


class TestObjectBodies:
    """Bodies are served as S3 serves them: only the range asked for, and at one connection's pace when set."""

    @pytest.fixture
    def big(self, asf_sandbox):
        admin = s3_client(asf_sandbox, aws_access_key_id=ADMIN_ACCESS_KEY, aws_secret_access_key=ADMIN_SECRET_KEY)
        data = os.urandom(3 * 1024 * 1024 + 17)
        admin.put_object(Bucket=PRODUCT_BUCKET, Key="tests/bodies.bin", Body=data)
        yield admin, data
        admin.delete_object(Bucket=PRODUCT_BUCKET, Key="tests/bodies.bin")

    def test_a_range_reads_only_the_range(self, asf_sandbox, big):
        admin, data = big
        asf_sandbox.stats.reset()
        answer = admin.get_object(Bucket=PRODUCT_BUCKET, Key="tests/bodies.bin", Range="bytes=1048570-2097160")
        assert answer["Body"].read() == data[1048570:2097161]
        assert answer["ContentRange"] == f"bytes 1048570-2097160/{len(data)}"
        assert asf_sandbox.stats.snapshot()["bytes_served"] == {f"{PRODUCT_BUCKET}/tests/bodies.bin": 2097161 - 1048570}

    def test_whole_body_and_open_ended_range(self, asf_sandbox, big):
        admin, data = big
        assert admin.get_object(Bucket=PRODUCT_BUCKET, Key="tests/bodies.bin")["Body"].read() == data
        tail = admin.get_object(Bucket=PRODUCT_BUCKET, Key="tests/bodies.bin", Range="bytes=3145000-")
        assert tail["Body"].read() == data[3145000:]

    def test_conditions_and_bad_ranges_are_moto_s_answers(self, asf_sandbox, big):
        admin, data = big
        etag = admin.head_object(Bucket=PRODUCT_BUCKET, Key="tests/bodies.bin")["ETag"]
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            admin.get_object(Bucket=PRODUCT_BUCKET, Key="tests/bodies.bin", IfNoneMatch=etag)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
        assert (
            error_code(
                lambda: admin.get_object(Bucket=PRODUCT_BUCKET, Key="tests/bodies.bin", Range=f"bytes={len(data) + 5}-")
            )
            == "InvalidRange"
        )

    def test_multipart_object_checksum_is_composite(self, asf_sandbox):
        client = user_s3(asf_sandbox)
        client.create_bucket(Bucket="composite")
        upload = client.create_multipart_upload(Bucket="composite", Key="k", ChecksumAlgorithm="CRC32")["UploadId"]
        parts = []
        for number, body in enumerate((b"a" * 5 * 1024 * 1024, b"b" * 10), start=1):
            answer = client.upload_part(
                Bucket="composite", Key="k", UploadId=upload, PartNumber=number, Body=body, ChecksumAlgorithm="CRC32"
            )
            parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": answer["ChecksumCRC32"]})
        client.complete_multipart_upload(Bucket="composite", Key="k", UploadId=upload, MultipartUpload={"Parts": parts})
        answer = client.get_object(Bucket="composite", Key="k", ChecksumMode="ENABLED")
        assert answer["ChecksumCRC32"].endswith("-2")  # as S3 says it: botocore then does not check it as whole-body
        assert answer["Body"].read() == b"a" * 5 * 1024 * 1024 + b"b" * 10

    def test_bodies_are_paced_to_one_connection(self, asf_sandbox, big, asf_sandbox_settings):
        admin, data = big
        asf_sandbox_settings(s3_connection_mib_s=4)
        started = time.monotonic()
        assert admin.get_object(Bucket=PRODUCT_BUCKET, Key="tests/bodies.bin")["Body"].read() == data
        assert time.monotonic() - started >= 0.7  # 3 MiB at 4 MiB/s: at least 0.75 s less the first chunk's head start
