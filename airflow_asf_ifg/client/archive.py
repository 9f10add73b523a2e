"""Where products stand in long-term storage, read three ways, and how to ask for their retrieval.

The 2018 door's ``/door/status/<file>`` JSON (``archived``/``retrieving``/``available`` with an
``expiration_date``), S3 ``HeadObject`` (``StorageClass`` and the ``Restore`` header, for buckets the
keys can read) and the download URL's own answer (200/206 available, 202 archived and now requested),
per ``asf_cmr_edl.md`` sections 1.4-1.5. Retrieval is one GET of the download URL (the door starts it
on a 202) or ``RestoreObject`` where permitted. Everything here is async: triggers poll many products.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_asf_ifg.client.retry import retry_after_seconds
from airflow_asf_ifg.client.s3 import ARCHIVE_STORAGE_CLASSES, is_not_found, is_retryable
from airflow_asf_ifg.exceptions import AsfIfgError

if TYPE_CHECKING:
    from airflow_asf_ifg.client.earthdata import AsyncEarthdataSession

__all__ = [
    "ArchiveState",
    "ProductStatus",
    "Throttled",
    "door_download_template",
    "door_status",
    "gather_bounded",
    "head_status",
    "request_by_download",
    "state_from_door",
    "state_from_download",
    "state_from_head",
]

_EXPIRY = re.compile(r'expiry-date="([^"]+)"')


class ArchiveState(enum.StrEnum):
    """A product's state in long-term storage."""

    AVAILABLE = "available"
    ARCHIVED = "archived"
    RETRIEVING = "retrieving"
    MISSING = "missing"


class Throttled(AsfIfgError):
    """The service asked to slow down or failed for now (429, 5xx, S3 SlowDown): poll it again later.

    :param retry_after: seconds it asked to wait.
    """

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"throttled; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class ProductStatus:
    """One product's archive state.

    :param name: the product (file name or S3 key).
    :param state: its state.
    :param expires: when the restored copy goes back to the archive, when known.
    :param requested: whether this poll requested its retrieval.
    """

    name: str
    state: ArchiveState
    expires: datetime | None = None
    requested: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for trigger events and XCom)."""
        return {
            "name": self.name,
            "state": self.state.value,
            "expires": self.expires.isoformat() if self.expires else None,
            "requested": self.requested,
        }


def _retry_after(headers: Any) -> float:
    seconds = retry_after_seconds(headers.get("Retry-After") if headers else None)
    return 1.0 if seconds is None else seconds


def state_from_door(name: str, status: int, document: Any, headers: Any = None) -> ProductStatus:
    """Interpret the 2018 door's ``/door/status/<file>`` answer.

    :param name: the product.
    :param status: HTTP status.
    :param document: the JSON body (``{"status": ..., "expiration_date": ...}``).
    :param headers: the response headers (for ``Retry-After``).
    """
    if status == 404:
        return ProductStatus(name, ArchiveState.MISSING)
    if status == 429 or status >= 500:
        raise Throttled(_retry_after(headers))
    if status != 200 or not isinstance(document, dict) or "status" not in document:
        raise AsfIfgError(f"the archive status of {name} answered {status}: {str(document)[:200]}")
    try:
        state = ArchiveState(document["status"])
    except ValueError:
        raise AsfIfgError(
            f"the archive status of {name} is {document['status']!r}, which is none of "
            f"{[s.value for s in ArchiveState if s is not ArchiveState.MISSING]}: is "
            f"archive_status_url the door's /door/status/{{name}}?"
        ) from None
    expires = None
    if document.get("expiration_date"):  # the door writes naive UTC ("2018-05-15 00:00:00")
        expires = datetime.fromisoformat(document["expiration_date"]).replace(tzinfo=UTC)
    return ProductStatus(name, state, expires)


def state_from_head(name: str, head: dict[str, Any] | None) -> ProductStatus:
    """Interpret an S3 HeadObject answer (None when the object does not exist).

    :param name: the product.
    :param head: the HeadObject response.
    """
    if head is None:
        return ProductStatus(name, ArchiveState.MISSING)
    storage = head.get("StorageClass") or "STANDARD"
    restore = head.get("Restore") or ""
    if storage not in ARCHIVE_STORAGE_CLASSES:
        return ProductStatus(name, ArchiveState.AVAILABLE)
    if 'ongoing-request="true"' in restore:
        return ProductStatus(name, ArchiveState.RETRIEVING)
    match = _EXPIRY.search(restore)
    if 'ongoing-request="false"' in restore:
        expires = email.utils.parsedate_to_datetime(match.group(1)) if match else None
        return ProductStatus(name, ArchiveState.AVAILABLE, expires)
    return ProductStatus(name, ArchiveState.ARCHIVED)


def state_from_download(name: str, status: int, headers: Any = None) -> ProductStatus:
    """Interpret the download URL's answer: 200/206 available, 202 archived (and now requested).

    :param name: the product.
    :param status: HTTP status of the final answer.
    :param headers: response headers (for ``Retry-After``).
    """
    if status in (200, 206):
        return ProductStatus(name, ArchiveState.AVAILABLE)
    if status == 202:
        return ProductStatus(name, ArchiveState.RETRIEVING, requested=True)
    if status == 404:
        return ProductStatus(name, ArchiveState.MISSING)
    if status == 429 or status >= 500:
        raise Throttled(_retry_after(headers))
    raise AsfIfgError(f"the download URL of {name} answered {status}")


async def door_status(session: AsyncEarthdataSession, template: str, name: str) -> ProductStatus:
    """Read the door's status JSON of one product.

    :param session: an open asyncio Earthdata session.
    :param template: the ``archive_status_url`` template with ``{name}``.
    :param name: the product's file name.
    """
    response = await session.fetch("GET", template.format(name=name))
    document = None
    if response.status == 200:
        document = response.json()
    return state_from_door(name, response.status, document, response.headers)


async def request_by_download(session: AsyncEarthdataSession, url: str, name: str) -> ProductStatus:
    """Ask the door for a product: 202 means it was archived and the retrieval is now requested.

    Only the first byte is asked for (``Range: bytes=0-0``) so an available product costs nothing.

    :param session: an open asyncio Earthdata session.
    :param url: the product's download URL.
    :param name: the product's name.
    """
    response = await session.fetch("GET", url, headers={"Range": "bytes=0-0"})
    return state_from_download(name, response.status, response.headers)


async def head_status(client: Any, bucket: str, key: str) -> ProductStatus:
    """Read an object's archive state with an aiobotocore S3 client.

    :param client: the aiobotocore S3 client.
    :param bucket: the bucket.
    :param key: the key.
    """
    from botocore.exceptions import ClientError

    try:
        head = await client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if is_not_found(error):
            return state_from_head(key, None)
        if is_retryable(error):
            raise Throttled(1.0) from error
        raise
    return state_from_head(key, head)


async def gather_bounded(limit: int, coroutines: list[Any]) -> list[Any]:
    """Run coroutines with at most ``limit`` at once; return results or exceptions, in order.

    :param limit: the most at once.
    :param coroutines: the coroutines.
    """
    semaphore = asyncio.Semaphore(limit)

    async def one(coroutine: Any) -> Any:
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(one(c) for c in coroutines), return_exceptions=True)


def door_download_template(status_template: str | None) -> str | None:
    """The 2018 door's download URL template beside its status template (``/door/status/`` → ``/door/download/``).

    :param status_template: the ``archive_status_url`` template with ``{name}``.
    """
    if not status_template or "/door/status/" not in status_template:
        return None
    return status_template.replace("/door/status/", "/door/download/")
