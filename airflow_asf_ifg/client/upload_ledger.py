"""A record of each multipart upload a copy starts, so that the next try of the same task can abort those a
killed try left behind (S3 bills their parts until someone does).

S3 lists an unfinished upload with its key, id, initiator and start time, never its metadata, so an upload
cannot say whose it is. Each copy therefore writes a small JSON entry beside the key when it creates an
upload and deletes it when the upload completes or is aborted: ``<folder>/.asf-ifg-uploads/<file>/<id>.json``
holding the upload id, the owning task and its try. Before a retry (try 2 or later) copies a key, it reads the
entries of that key and aborts the uploads whose entry names the same task and an earlier try. A killed try
can do nothing more, so its uploads are stale; the uploads of another task, another run or another tool have
no entry of that task and are never touched. A first try looks for nothing, so a normal run makes no extra
request but the entry's put and delete for an object of more than one part.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from airflow_asf_ifg.client.s3 import abort_upload, is_not_found

__all__ = ["LEDGER_FOLDER", "UploadLedger", "UploadOwner", "entry_key", "ledger_prefix"]

log = logging.getLogger(__name__)

LEDGER_FOLDER = ".asf-ifg-uploads"


@dataclass(frozen=True)
class UploadOwner:
    """Who starts uploads: a name of the task that is the same on every try, and which try this is.

    :param task: e.g. ``dag_id/run_id/task_id/map_index``.
    :param attempt: the try number, from 1.
    """

    task: str
    attempt: int


def ledger_prefix(key: str) -> str:
    """The prefix under which the entries of ``key``'s uploads are kept (beside the key, in a hidden folder).

    :param key: the destination key.
    """
    folder, name = posixpath.split(key)
    return posixpath.join(folder, LEDGER_FOLDER, name) + "/"


def entry_key(key: str, upload_id: str) -> str:
    """The key of one upload's entry (upload ids are long and may hold any character, so a hash names it).

    :param key: the destination key.
    :param upload_id: the multipart upload's id.
    """
    return f"{ledger_prefix(key)}{hashlib.sha256(upload_id.encode()).hexdigest()[:24]}.json"


class UploadLedger:
    """Entries of one task's multipart uploads in the destination bucket.

    Writing or reading an entry never fails a copy: without ``s3:ListBucket`` or ``s3:PutObject`` on the
    hidden folder, a warning says so and stale uploads are left to the bucket's lifecycle rule.

    :param client: a boto3 S3 client of the destination identity.
    :param owner: the task and try starting the uploads.
    """

    def __init__(self, client: Any, owner: UploadOwner) -> None:
        self.client = client
        self.owner = owner
        # Entry key → the version S3 gave it, in a versioned bucket: deleting that version removes the entry
        # for good, where a plain delete would leave it behind a delete marker, still stored and billed.
        self._versions: dict[str, str | None] = {}

    def record(self, bucket: str, key: str, upload_id: str) -> None:
        """Write the entry of an upload just created.

        :param bucket: destination bucket.
        :param key: destination key.
        :param upload_id: the upload's id.
        """
        entry = {"upload_id": upload_id, "key": key, "task": self.owner.task, "attempt": self.owner.attempt}
        entry["created"] = time.time()
        name = entry_key(key, upload_id)
        try:
            written = self.client.put_object(
                Bucket=bucket,
                Key=name,
                Body=json.dumps(entry).encode(),
                ContentType="application/json",
            )
            self._versions[name] = written.get("VersionId")
        except (ClientError, BotoCoreError) as error:
            log.warning(
                "Could not record multipart upload %s of s3://%s/%s (%s): if this try is killed, a retry cannot "
                "abort it; a lifecycle rule (AbortIncompleteMultipartUpload) will",
                upload_id,
                bucket,
                key,
                error,
            )

    def forget(self, bucket: str, key: str, upload_id: str) -> None:
        """Delete the entry of an upload that was completed or aborted.

        :param bucket: destination bucket.
        :param key: destination key.
        :param upload_id: the upload's id.
        """
        name = entry_key(key, upload_id)
        try:
            self._delete(bucket, name, self._versions.pop(name, None))
        except (ClientError, BotoCoreError) as error:
            log.warning("Could not delete the record of upload %s of s3://%s/%s: %s", upload_id, bucket, key, error)

    def abort_stale(self, bucket: str, key: str) -> int:
        """Abort the uploads of ``key`` that an earlier try of this task started and left; return how many.

        :param bucket: destination bucket.
        :param key: destination key.
        """
        if self.owner.attempt <= 1:
            return 0  # a first try has no earlier try whose uploads it could find
        aborted = 0
        try:
            for entry_name, version, entry in self._entries(bucket, key):
                if entry.get("task") != self.owner.task or not isinstance(entry.get("attempt"), int):
                    continue  # another task's (another run's) upload of the same key: it may still be running
                if entry["attempt"] >= self.owner.attempt:
                    continue
                upload_id = str(entry.get("upload_id"))
                abort_upload(self.client, bucket, key, upload_id)
                self._delete(bucket, entry_name, version)
                aborted += 1
                log.warning(
                    "Aborted multipart upload %s of s3://%s/%s, left unfinished by try %d of this task",
                    upload_id,
                    bucket,
                    key,
                    entry["attempt"],
                )
        except (ClientError, BotoCoreError) as error:
            log.warning(
                "Could not look for uploads of s3://%s/%s left by an earlier try (%s); a lifecycle rule "
                "(AbortIncompleteMultipartUpload) will abort them",
                bucket,
                key,
                error,
            )
        return aborted

    def _delete(self, bucket: str, name: str, version: str | None) -> None:
        """Delete an entry: its version if the bucket gave it one, else the key."""
        self.client.delete_object(Bucket=bucket, Key=name, **({"VersionId": version} if version else {}))

    def _entries(self, bucket: str, key: str) -> list[tuple[str, str | None, dict[str, Any]]]:
        """The entries kept for ``key``: (entry key, its version, its content); unreadable ones are skipped."""
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=ledger_prefix(key)):
            for item in page.get("Contents", []):
                try:
                    stored = self.client.get_object(Bucket=bucket, Key=item["Key"])
                    entry = json.loads(stored["Body"].read())
                except ClientError as error:
                    if is_not_found(error):
                        continue  # deleted meanwhile: its upload was completed or aborted
                    raise
                except ValueError:
                    log.warning("s3://%s/%s is not an upload record of this package; left alone", bucket, item["Key"])
                    continue
                if isinstance(entry, dict) and entry.get("key") == key:
                    found.append((item["Key"], stored.get("VersionId"), entry))
        return found
