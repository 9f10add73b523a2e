"""Watching many products in long-term storage: what to watch, one round of polls with the retrieval
requests, when waiting is over and what a finished wait means. Shared by the sensor, the triggers and the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airflow_asf_ifg.client.archive import (
    ArchiveState,
    ProductStatus,
    Throttled,
    door_download_template,
    door_status,
    gather_bounded,
    head_status,
    request_by_download,
)
from airflow_asf_ifg.client.granule import Granule
from airflow_asf_ifg.client.polling import PollResult, PollRound, wait_until_settled
from airflow_asf_ifg.client.s3 import parse_s3_url
from airflow_asf_ifg.exceptions import ProductArchivedError, ProductMissingError

if TYPE_CHECKING:
    from airflow_asf_ifg.client.earthdata import AsyncEarthdataSession

__all__ = [
    "TERMINAL",
    "ArchivePoller",
    "ArchiveTarget",
    "archive_targets",
    "finished",
    "head_states",
    "outcome",
    "poll_each",
    "retrieve",
    "targets_from_names",
    "transient_errors",
]

#: States no wait can change.
TERMINAL = frozenset({ArchiveState.AVAILABLE, ArchiveState.MISSING})
log = logging.getLogger(__name__)


def transient_errors() -> tuple[type[BaseException], ...]:
    """Failures of one read that the next round may not meet: the connection dropped or timed out, or the body
    (the door's JSON, a download's first byte) was cut off mid-way; the product is read again then."""
    import aiohttp  # here, not at import: DAG files import the sensor at every parse

    return (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, asyncio.TimeoutError)


@dataclass(frozen=True)
class ArchiveTarget:
    """A product to watch: names and URLs only (trigger kwargs carry it, so no secrets).

    :param name: the product's file name.
    :param url: its download URL (whose 202 requests a retrieval), when known.
    :param s3_url: its ``s3://bucket/key``, to read its state with HeadObject.
    :param s3_credentials_url: where keys for ``s3_url`` come from (None: the connection's).
    """

    name: str
    url: str | None = None
    s3_url: str | None = None
    s3_credentials_url: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-able dict (trigger kwargs)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> ArchiveTarget:
        """Read :meth:`to_dict`'s output (and trigger rows written before this class, which are the same dicts).

        :param document: a dict with ``name`` and optionally ``url``, ``s3_url``, ``s3_credentials_url``.
        """
        if not document.get("name"):
            raise ValueError(f"an archive target needs a name: {dict(document)!r}")
        return cls(document["name"], document.get("url"), document.get("s3_url"), document.get("s3_credentials_url"))


def archive_targets(granules: Iterable[Mapping[str, Any]], roles: Collection[str] = ("data",)) -> list[ArchiveTarget]:
    """What the archive polling needs of each file of some granule dicts.

    :param granules: granule dicts (CmrSearchOperator's output).
    :param roles: which files.
    """
    targets: list[ArchiveTarget] = []
    for document in granules:
        granule = Granule.from_dict(dict(document))
        targets.extend(
            ArchiveTarget(product.name, product.url, product.s3_url, granule.s3_credentials_url)
            for product in granule.files
            if product.role in roles
        )
    return targets


def targets_from_names(names: Iterable[str]) -> list[ArchiveTarget]:
    """Targets for products given by file name (read through the door's status) or ``s3://`` URL.

    :param names: file names or ``s3://bucket/key`` URLs.
    """
    targets = []
    for name in names:
        if name.startswith("s3://"):
            _, key = parse_s3_url(name)
            targets.append(ArchiveTarget(key.rsplit("/", 1)[-1], s3_url=name))
        else:
            targets.append(ArchiveTarget(name))
    return targets


async def poll_each(reads: Sequence[Awaitable[ProductStatus]], limit: int) -> PollResult:
    """Run the reads, at most ``limit`` at once: the states by name and the longest Retry-After of those throttled.

    A read that was throttled or failed for now (:func:`transient_errors`) is left out: its product is read
    again next round. Any other error propagates.

    :param reads: one read of one product each.
    :param limit: the most at once.
    """
    states: dict[str, ProductStatus] = {}
    retry_after = 0.0
    failed: list[str] = []
    transient = transient_errors()
    for result in await gather_bounded(limit, list(reads)):
        if isinstance(result, Throttled):
            retry_after = max(retry_after, result.retry_after)
        elif isinstance(result, transient):
            failed.append(f"{type(result).__name__}: {result}")
        elif isinstance(result, BaseException):
            raise result
        else:
            states[result.name] = result
    if failed:
        log.warning("%d read(s) failed for now and are asked again next round; first: %s", len(failed), failed[0])
    return PollResult(states, retry_after)


async def head_states(client: Any, bucket: str, keys: Sequence[str], limit: int = 20) -> PollResult:
    """One round of HeadObject of some keys of one bucket.

    :param client: an aiobotocore S3 client.
    :param bucket: the bucket.
    :param keys: the keys.
    :param limit: requests in flight at once.
    """
    return await poll_each([head_status(client, bucket, key) for key in keys], limit)


def _never(name: str) -> bool:
    return False


def finished(states: Mapping[str, ProductStatus], total: int, stays_archived: Callable[[str], bool] = _never) -> bool:
    """Whether waiting longer cannot change anything: every product available or missing, or archived for good.

    :param states: the latest states.
    :param total: how many products there are (one not read yet is not finished).
    :param stays_archived: whether an archived product will stay so in this wait (no retrieval will be asked).
    """
    if len(states) < total:
        return False
    return all(
        status.state in TERMINAL or (status.state is ArchiveState.ARCHIVED and stays_archived(status.name))
        for status in states.values()
    )


def outcome(products: Iterable[Mapping[str, Any]], fail_on_missing: bool) -> str | None:
    """Why a finished wait is a failure, or None when every product is available.

    :param products: per-product state dicts (:meth:`ProductStatus.to_dict`).
    :param fail_on_missing: whether a missing product fails the wait.
    """
    products = list(products)
    missing = [p["name"] for p in products if p["state"] == ArchiveState.MISSING.value]
    archived = [p["name"] for p in products if p["state"] == ArchiveState.ARCHIVED.value]
    problems = []
    if missing and fail_on_missing:
        problems.append(f"{len(missing)} product(s) do not exist: {', '.join(missing[:5])}")
    if archived:
        problems.append(
            f"{len(archived)} product(s) are still archived because max_retrievals was reached: "
            f"{', '.join(archived[:5])}; a later run will request them"
        )
    return "; ".join(problems) or None


class ArchivePoller:
    """One round of polling many products, and the retrieval requests; use it with ``async with``.

    Products are read with the door's status JSON when ``status_template`` is set, else with HeadObject
    when they have an ``s3://`` URL, else with their download URL (whose 202 is also the request). A
    retrieval is requested only for products seen ``archived``, so each is asked once.

    :param open_session: makes a new Earthdata asyncio session (entered for each ``async with``).
    :param status_template: the door's ``archive_status_url`` with ``{name}``, or None.
    :param open_s3_client: makes an aiobotocore S3 client with refreshing keys from a credentials endpoint
        (None: the default one); needed only for targets with an ``s3://`` URL.
    :param max_concurrency: requests in flight at once.
    :param request_retrieval: request the retrieval of archived products.
    :param max_retrievals: the most retrievals to request (None: no cap).
    :param requested: products whose retrieval was already requested (by an earlier poll elsewhere).
    """

    def __init__(
        self,
        open_session: Callable[[], AbstractAsyncContextManager[AsyncEarthdataSession]],
        *,
        status_template: str | None,
        open_s3_client: Callable[[str | None], AbstractAsyncContextManager[Any]] | None = None,
        max_concurrency: int = 20,
        request_retrieval: bool = True,
        max_retrievals: int | None = None,
        requested: Iterable[str] = (),
    ) -> None:
        self.open_session = open_session
        self.status_template = status_template
        self.open_s3_client = open_s3_client
        self.max_concurrency = max_concurrency
        self.request_retrieval = request_retrieval
        self.max_retrievals = max_retrievals
        self.requested: set[str] = set(requested)
        self._download_template = door_download_template(status_template)

    async def __aenter__(self) -> ArchivePoller:
        self._stack = contextlib.AsyncExitStack()
        await self._stack.__aenter__()
        self._session = await self._stack.enter_async_context(self.open_session())
        self._clients: dict[str | None, Any] = {}
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._stack.__aexit__(*exc_info)

    async def _client(self, endpoint: str | None) -> Any:
        # One refreshing S3 client per credentials endpoint, kept for every poll.
        if endpoint not in self._clients:
            if self.open_s3_client is None:
                raise ValueError("an s3:// product needs S3 clients; give ArchivePoller open_s3_client")
            self._clients[endpoint] = await self._stack.enter_async_context(self.open_s3_client(endpoint))
        return self._clients[endpoint]

    def method_for(self, target: ArchiveTarget) -> str:
        """How a product's state is read: ``status`` (the 2018 door's JSON), ``head`` (S3) or ``download``.

        :param target: the product.
        """
        if self.status_template:
            return "status"
        return "head" if target.s3_url else "download"

    async def poll(self, targets: Sequence[ArchiveTarget]) -> PollResult:
        """Read every product once (requesting retrievals); return states and the longest Retry-After.

        :param targets: the products.
        """
        return await poll_each([self._read(target) for target in targets], self.max_concurrency)

    async def request_all(self, targets: Sequence[ArchiveTarget]) -> PollResult:
        """Ask for every product at its download URL, as the 2018 scripts did first: a 202 starts its retrieval.

        :param targets: the products (each with a download URL).
        """
        return await poll_each([self._by_download(target) for target in targets], self.max_concurrency)

    async def _read(self, target: ArchiveTarget) -> ProductStatus:
        if self.status_template:
            status = await door_status(self._session, self.status_template, target.name)
        elif target.s3_url:
            bucket, key = parse_s3_url(target.s3_url)
            found = await head_status(await self._client(target.s3_credentials_url), bucket, key)
            status = ProductStatus(target.name, found.state, found.expires)
        else:
            return await self._by_download(target)
        url = target.url or (self._download_template.format(name=target.name) if self._download_template else None)
        if status.state is ArchiveState.ARCHIVED and url and self.may_request(target.name):
            self.requested.add(target.name)  # before awaiting: concurrent polls must see the cap
            try:
                requested = await request_by_download(self._session, url, target.name)
            except BaseException:
                self.requested.discard(target.name)  # not asked after all: ask again next poll
                raise
            return ProductStatus(target.name, requested.state, None, requested=True)
        return status

    async def _by_download(self, target: ArchiveTarget) -> ProductStatus:
        if not target.url:
            raise ValueError(f"{target.name} has neither a status URL, an s3:// URL nor a download URL")
        if target.name in self.requested or self.may_request(target.name):
            # The 202 path cannot tell archived from retrieving: every poll asks, and a 202 is the request.
            status = await request_by_download(self._session, target.url, target.name)
            if status.requested:
                self.requested.add(target.name)
            return status
        return ProductStatus(target.name, ArchiveState.ARCHIVED)

    def may_request(self, name: str) -> bool:
        """Whether a retrieval may still be requested for ``name`` (not yet asked, under the cap).

        :param name: the product.
        """
        if not self.request_retrieval or name in self.requested:
            return False
        return self.max_retrievals is None or len(self.requested) < self.max_retrievals

    def stays_archived(self, name: str) -> bool:
        """Whether an archived ``name`` stays so in this wait: nobody here asked for it and nobody may.

        :param name: the product.
        """
        return name not in self.requested and not self.may_request(name)


async def retrieve(
    open_session: Callable[[], AbstractAsyncContextManager[AsyncEarthdataSession]],
    products: Mapping[str, str],
    *,
    status_template: str | None,
    poll_interval: float = 30.0,
    timeout: float = 6 * 3600.0,
    report: Callable[[PollRound], Awaitable[None] | None] = lambda poll_round: None,
) -> list[ProductStatus]:
    """Ask for archived products and wait, polling every ``poll_interval`` s, until every one is available.

    As the 2018 scripts did: every download URL is asked first (a 202 starts the retrieval); then the door's
    status (or, without one, the download URL again) is polled until ``available``. A missing product ends
    the wait.

    :param open_session: makes a new Earthdata asyncio session.
    :param products: file name → download URL.
    :param status_template: the door's ``archive_status_url`` with ``{name}``, or None.
    :param poll_interval: seconds between polls.
    :param timeout: seconds to wait in all before giving up.
    :param report: called after each round.
    """
    targets = [ArchiveTarget(name, url) for name, url in products.items()]
    states: dict[str, ProductStatus] = {}
    started = time.time()

    def waiting() -> list[ArchiveTarget]:
        # An available product stays so for days: only the others are asked again.
        return [t for t in targets if t.name not in states or states[t.name].state is not ArchiveState.AVAILABLE]

    async def poll() -> PollResult:
        return await (poller.request_all(targets) if not states else poller.poll(waiting()))

    def settled(latest: Mapping[str, ProductStatus]) -> bool:
        return any(s.state is ArchiveState.MISSING for s in latest.values()) or finished(latest, len(targets))

    async with ArchivePoller(open_session, status_template=status_template) as poller:
        await wait_until_settled(
            poll,
            settled=settled,
            interval=poll_interval,
            max_interval=poll_interval,
            deadline=started + timeout,
            states=states,
            report=report,
        )
    missing = [s.name for s in states.values() if s.state is ArchiveState.MISSING]
    if missing:
        raise ProductMissingError(f"not found (404): {', '.join(missing)}; check the names against a search")
    left = [t.name for t in waiting()]
    if left:
        elapsed = time.time() - started
        raise ProductArchivedError(
            f"{len(left)} file(s) still in long-term storage after {elapsed:.0f} s: "
            f"{', '.join(left)}; run again later (the retrieval goes on)",
            left[0],
        )
    return [states[t.name] for t in targets]
