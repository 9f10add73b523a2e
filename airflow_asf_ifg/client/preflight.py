"""Check, before any copy, the path the copies will take: the door's login chain for HTTPS, ASF's keys for ``s3://``.

Today every GUNW product comes over HTTPS: ``/door/download/<file>`` redirects through Earthdata Login's
OAuth to the door's cookie, then to a CloudFront URL signed for 15 s (asfadmin/grfn-distribution
``routes.py``). One ranged GET of the first byte walks that whole chain and reads nothing more.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_asf_ifg.client.retry import RETRYABLE_STATUSES
from airflow_asf_ifg.exceptions import AsfIfgError, ProductMissingError, ServiceError

__all__ = [
    "AccessCheck",
    "check_https",
]


@dataclass(frozen=True)
class AccessCheck:
    """What a preflight confirmed about one product's path (names and hosts only: no signed query strings).

    :param path: ``https`` (through the door) or ``s3`` (with temporary keys).
    :param product: the file name checked.
    :param url: the URL checked (the granule's, as CMR lists it).
    :param hops: the hosts the request passed through, in order, ending where the bytes come from.
    :param status: the final HTTP status (206 or 200 available, 202 archived and requested).
    :param detail: one sentence for the log.
    """

    path: str
    product: str
    url: str
    hops: list[str] = field(default_factory=list)
    status: int | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for XCom)."""
        return asdict(self)


def _host(url: str) -> str:
    return urlsplit(url).netloc


def check_https(session: Any, url: str, name: str, timeout: tuple[float, float] = (10.0, 60.0)) -> AccessCheck:
    """Ask for the first byte of ``url`` through every login redirect; say where it ended.

    :param session: an :class:`~airflow_asf_ifg.client.earthdata.EarthdataSession` (raises on a refused login).
    :param url: the product's HTTPS URL from CMR.
    :param name: the product's file name.
    :param timeout: (connect, read) timeout in seconds.
    """
    response = session.get_checked(url, headers={"Range": "bytes=0-0"}, stream=True, timeout=timeout)
    try:
        hops = [_host(hop.url) for hop in response.history] + [_host(response.url)]
        status = response.status_code
        content_type = response.headers.get("Content-Type", "")
    finally:
        response.close()  # the first byte at most: nothing of the product is read
    through_edl = any(session.policy.is_edl(hop.url) for hop in response.history)
    login = "logged in through Earthdata Login, " if through_edl else "already logged in, "
    detail = None
    if status in (200, 206) and "text/html" not in content_type:
        signed = _host(response.url) != _host(url)
        where = f"a signed URL on {hops[-1]}" if signed else f"{hops[-1]} itself"
        detail = f"{name}: {login}{_host(url)} hands out {where} ({status}, first byte only)"
    elif status == 202:
        detail = (
            f"{name}: {login}{_host(url)} answered 202: the product is in long-term storage and its "
            f"retrieval is now requested; the archive sensor waits for it"
        )
    if detail is not None:
        return AccessCheck("https", name, url, hops, status, detail)
    if status == 404:
        raise ProductMissingError(
            f"{url} does not exist (404): the product CMR lists is not at the door; "
            f"search again (it may have been reprocessed under a new name)"
        )
    if status in RETRYABLE_STATUSES:
        raise ServiceError(f"{_host(response.url)} answered {status} to the preflight; try again later", status)
    if "text/html" in content_type:
        raise AsfIfgError(
            f"{url} ended at an HTML page on {hops[-1]} ({status}) instead of the product; "
            f"open it in a browser logged in to Earthdata Login to see why"
        )
    raise AsfIfgError(f"{url} answered {status} at {hops[-1]}; expected 206 (the product) or 202 (archived)")
