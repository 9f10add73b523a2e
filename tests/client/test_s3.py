"""The S3 helpers: s3:// URLs, S3's errors read from the sandbox's real answers, and aborting uploads."""

from __future__ import annotations

import logging

import pytest
from botocore.exceptions import ClientError

from airflow_asf_ifg.client.s3 import (
    abort_upload,
    error_code,
    error_status,
    is_not_found,
    is_retryable,
    parse_s3_url,
)
from airflow_asf_ifg.exceptions import InvalidInputError
from tests.sandbox.helpers import empty_bucket

BUCKET = "s3-helpers"


def refusal(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )


def raised(call) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


@pytest.fixture
def bucket(asf_sandbox):
    return empty_bucket(asf_sandbox, BUCKET)


class TestParseS3Url:
    @pytest.mark.parametrize(
        ("url", "parts"),
        [
            ("s3://bucket/key.nc", ("bucket", "key.nc")),
            ("s3://bucket/a/b/c.zip", ("bucket", "a/b/c.zip")),
        ],
        ids=["flat", "nested"],
    )
    def test_bucket_and_key(self, url, parts):
        assert parse_s3_url(url) == parts

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("https://host/key", "is not an s3:// URL; give s3://bucket/key"),
            ("s3://bucket-only", "is not an s3://bucket/key URL: it names no key"),
            ("s3://bucket/", "is not an s3://bucket/key URL: it names no key"),
            ("s3:///key", "is not an s3://bucket/key URL: it names no bucket"),
            (None, "is not an s3:// URL"),
        ],
        ids=["https", "no-key", "empty-key", "no-bucket", "none"],
    )
    def test_anything_else_is_refused_naming_it(self, url, message):
        with pytest.raises(InvalidInputError, match=message):
            parse_s3_url(url)


class TestErrors:
    def test_a_missing_object_is_not_found(self, bucket):
        error = raised(lambda: bucket.head_object(Bucket=BUCKET, Key="nothing-here"))
        assert (error_code(error), error_status(error)) == ("404", 404)  # HEAD has no body to name a code
        assert is_not_found(error) and not is_retryable(error)

    def test_a_missing_bucket_on_get_is_not_found(self, bucket):
        error = raised(lambda: bucket.get_object(Bucket="no-such-bucket-here", Key="k"))
        assert error_code(error) == "NoSuchBucket" and is_not_found(error)

    @pytest.mark.parametrize(
        ("code", "status", "retryable"),
        [
            ("SlowDown", 503, True),
            ("InternalError", 500, True),
            ("ExpiredToken", 400, True),
            ("TooManyRequests", 429, True),
            ("AccessDenied", 403, False),
            ("InvalidObjectState", 403, False),
        ],
        ids=["throttled", "fault", "lapsed-keys", "429", "refused", "archived"],
    )
    def test_retryable(self, code, status, retryable):
        assert is_retryable(refusal(code, status)) is retryable

    def test_other_errors_have_no_code(self):
        assert (error_code(ValueError("x")), error_status(ValueError("x"))) == ("", 0)
        assert not is_not_found(ValueError("x"))


class TestAbort:
    def test_an_upload_is_aborted_and_aborting_again_is_fine(self, bucket):
        upload = bucket.create_multipart_upload(Bucket=BUCKET, Key="partial.bin")["UploadId"]
        abort_upload(bucket, BUCKET, "partial.bin", upload)
        assert bucket.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
        abort_upload(bucket, BUCKET, "partial.bin", upload)  # NoSuchUpload: already gone
        with pytest.raises(ClientError, match="NoSuchBucket"):
            abort_upload(bucket, "no-such-bucket-here", "partial.bin", upload)

    def test_a_failed_copy_logs_rather_than_raises(self, bucket, caplog):
        upload = bucket.create_multipart_upload(Bucket=BUCKET, Key="partial.bin")["UploadId"]
        with caplog.at_level(logging.WARNING, logger="airflow_asf_ifg.client.s3"):
            abort_upload(bucket, BUCKET, "partial.bin", upload, failed_copy=True)
            abort_upload(bucket, "no-such-bucket-here", "partial.bin", upload, failed_copy=True)  # refused: logged
        assert bucket.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
        assert "Aborted the multipart upload of s3://s3-helpers/partial.bin" in caplog.text
        assert "Could not abort multipart upload" in caplog.text
