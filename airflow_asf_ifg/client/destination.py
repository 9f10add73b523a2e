"""The user's destination bucket: checked before any source byte is read, so a typo costs no download."""

from __future__ import annotations

from typing import Any

from airflow_asf_ifg.client.s3 import error_code, error_status, is_not_found
from airflow_asf_ifg.exceptions import DestinationBucketError

__all__ = [
    "check_bucket",
]

#: HTTP statuses of HeadBucket that mean the bucket is missing or refused to this identity: final.
_FINAL = {404: "does not exist", 403: "is not accessible", 301: "is in another region than the connection's"}


def check_bucket(client: Any, bucket: str, conn_id: str | None) -> None:
    """HeadBucket ``bucket`` with the destination's client; raise a DestinationBucketError naming it if refused.

    :param client: a boto3 S3 client of the destination connection.
    :param bucket: the bucket.
    :param conn_id: the connection's id, for the message.
    """
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as error:
        status = error_status(error)
        if is_not_found(error) or status in _FINAL:
            reason = _FINAL.get(status, "does not exist")
            raise DestinationBucketError(
                f"bucket {bucket!r} {reason} or is not writable by connection {conn_id!r} (HeadBucket answered "
                f"{status or error_code(error)}); create it, fix dest_bucket, or give the connection access"
            ) from error
        raise
