"""Objects in S3 archive storage (GLACIER, DEEP_ARCHIVE): their state from HeadObject, and asking for a restore.

For buckets the caller may restore in (its own, after a lifecycle rule): ``RestoreObject`` starts a
retrieval, ``HeadObject``'s ``Restore`` header tells how it goes (S3 "Restoring an archived object").
"""

from __future__ import annotations

from typing import Any

from airflow_asf_ifg.client.archive import ArchiveState, ProductStatus, state_from_head
from airflow_asf_ifg.client.s3 import error_code, is_not_found

__all__ = [
    "TIERS",
    "object_state",
    "request_restore",
    "restore_request",
]

#: Retrieval tiers of RestoreObject, fastest (and dearest) first.
TIERS = ("Expedited", "Standard", "Bulk")


def object_state(client: Any, bucket: str, key: str) -> ProductStatus:
    """An object's archive state from HeadObject (``missing`` when it does not exist).

    :param client: a boto3 S3 client that can read the object.
    :param bucket: the bucket.
    :param key: the key.
    """
    from botocore.exceptions import ClientError  # botocore loads only when a task runs

    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if not is_not_found(error):
            raise
        head = None
    return state_from_head(key, head)


def restore_request(days: int, tier: str) -> dict[str, Any]:
    """The ``RestoreRequest`` of RestoreObject: keep the restored copy ``days`` days, retrieved at ``tier``.

    :param days: how long the restored copy stays.
    :param tier: ``Expedited``, ``Standard`` or ``Bulk``.
    """
    return {"Days": days, "GlacierJobParameters": {"Tier": tier}}


def request_restore(client: Any, bucket: str, key: str, days: int = 7, tier: str = "Standard") -> str:
    """Ask S3 to restore an archived object once; return what became of it.

    ``started`` (this call asked), ``in-progress`` (a restore is under way), ``restored`` (already),
    ``not-archived`` (nothing to restore) or ``missing``.

    :param client: a boto3 S3 client allowed ``s3:RestoreObject``.
    :param bucket: the bucket.
    :param key: the key.
    :param days: how long the restored copy stays.
    :param tier: ``Expedited``, ``Standard`` or ``Bulk``.
    """
    from botocore.exceptions import ClientError

    state = object_state(client, bucket, key)
    if state.state is ArchiveState.MISSING:
        return "missing"
    if state.state is ArchiveState.RETRIEVING:
        return "in-progress"
    if state.state is ArchiveState.AVAILABLE:
        return "restored" if state.expires else "not-archived"
    try:
        client.restore_object(Bucket=bucket, Key=key, RestoreRequest=restore_request(days, tier))
    except ClientError as error:
        if error_code(error) != "RestoreAlreadyInProgress":  # another run asked since the HeadObject
            raise
        return "in-progress"
    return "started"
