"""What every piece says about S3 in one place: ``s3://`` URLs, which errors mean "not found" or "try again",
archive storage classes, and aborting an upload. Plain functions over boto3/aiobotocore errors; no Airflow."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from airflow_asf_ifg.exceptions import InvalidInputError

log = logging.getLogger(__name__)

__all__ = [
    "ARCHIVE_STORAGE_CLASSES",
    "RETRYABLE_CODES",
    "abort_upload",
    "complete_upload",
    "error_code",
    "error_status",
    "is_not_found",
    "is_retryable",
    "parse_s3_url",
]

#: Storage classes whose objects must be restored before a GET (S3 "Working with archived objects").
ARCHIVE_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
#: S3 error codes after which the same request may succeed: throttling, S3's own faults, and keys that lapsed
#: while the request travelled (a refreshing client signs the retry anew).
RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "RequestTimeTooSkewed",
        "500",
        "503",
        "ExpiredToken",
        "TokenRefreshRequired",
    }
)
#: Codes of a missing object or bucket; HeadObject has no body, so it says only "404" or "NotFound".
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key) of ``s3://bucket/key``; a ValueError naming the URL for anything else.

    :param url: the URL.
    """
    if not isinstance(url, str) or not url.startswith("s3://"):
        raise InvalidInputError(f"{url!r} is not an s3:// URL; give s3://bucket/key")
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise InvalidInputError(
            f"{url!r} is not an s3://bucket/key URL: it names no {'bucket' if not bucket else 'key'}"
        )
    return bucket, key


def error_code(error: BaseException) -> str:
    """The S3 error code of a botocore ``ClientError`` ('' for other errors).

    :param error: the error.
    """
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def error_status(error: BaseException) -> int:
    """The HTTP status of a botocore ``ClientError`` (0 for other errors).

    :param error: the error.
    """
    return int(getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_not_found(error: BaseException) -> bool:
    """Whether S3 said the object or bucket does not exist (by code, or by status where HEAD has no body).

    :param error: a botocore ``ClientError``.
    """
    return error_code(error) in _NOT_FOUND_CODES or error_status(error) == 404


def is_retryable(error: BaseException) -> bool:
    """Whether the same S3 request may succeed later (throttling, 5xx, lapsed keys).

    :param error: a botocore ``ClientError``.
    """
    status = error_status(error)
    return error_code(error) in RETRYABLE_CODES or status == 429 or status >= 500


def abort_upload(client: Any, bucket: str, key: str, upload_id: str, *, failed_copy: bool = False) -> bool:
    """Abort a multipart upload so its parts are not billed; an upload already gone is fine.

    :param client: a boto3 S3 client.
    :param bucket: the bucket.
    :param key: the key.
    :param upload_id: the upload.
    :param failed_copy: the upload's copy failed: log the abort, and log rather than raise S3's refusal of it,
        as the copy's own error is the one to raise.
    :returns: whether the upload is gone (aborted now or before).
    """
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception as error:  # only "already gone" is swallowed, and anything after a failed copy
        if error_code(error) == "NoSuchUpload":
            return True
        if not failed_copy:
            raise
        log.error("Could not abort multipart upload %s of s3://%s/%s: %s", upload_id, bucket, key, error)
        return False
    if failed_copy:
        log.warning("Aborted the multipart upload of s3://%s/%s: nothing was written", bucket, key)
    return True


def complete_upload(
    client: Any, bucket: str, key: str, upload_id: str, parts: Sequence[dict[str, Any]], size: int
) -> None:
    """CompleteMultipartUpload, taking an object already made of these parts as done when the answer failed.

    A Complete that goes through but whose answer is lost (a timeout while the server joins a large object,
    a reset) is sent again by botocore. AWS and moto answer the repeat of a finished upload with success;
    MinIO and S3Mock have forgotten the upload (NoSuchUpload). The object at the key is this
    upload's when it has ``size`` bytes and the ETag S3 gives an object completed from these parts: the MD5
    of the parts' MD5s, then ``-`` and their count.

    :param client: a boto3 S3 client.
    :param bucket: the bucket.
    :param key: the key.
    :param upload_id: the upload.
    :param parts: the ``Parts`` of the request, in order, with the ETags UploadPart answered.
    :param size: the object's bytes in all.
    """
    try:
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": list(parts)}
        )
    except Exception as error:
        if not _completed_from(client, bucket, key, parts, size):
            raise
        log.warning(
            "CompleteMultipartUpload of s3://%s/%s failed (%s), but the key holds the object made of its %d "
            "parts: its first answer was lost; kept",
            bucket,
            key,
            error,
            len(parts),
        )
        try:  # gone when the Complete went through; if it did not (the same object was there), its parts go now
            abort_upload(client, bucket, key, upload_id)
        except Exception as refused:  # the object is whole: a lifecycle rule can take the parts
            log.warning("Could not abort multipart upload %s of s3://%s/%s: %s", upload_id, bucket, key, refused)


def _completed_from(client: Any, bucket: str, key: str, parts: Sequence[dict[str, Any]], size: int) -> bool:
    """Whether ``s3://bucket/key`` is the object a Complete of ``parts`` makes (by size and composite ETag)."""
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        digests = b"".join(bytes.fromhex(str(part["ETag"]).strip('"')) for part in parts)
    except Exception:  # no object, or ETags that are no MD5s: nothing shows the upload was completed
        return False
    expected = f"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(parts)}"
    return int(head.get("ContentLength", -1)) == size and str(head.get("ETag", "")).strip('"') == expected
