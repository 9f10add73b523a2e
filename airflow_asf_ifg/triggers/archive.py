"""AsfArchiveStatusTrigger: wait in the triggerer until archived products are retrieved, polling them concurrently."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_asf_ifg.client.archive import (
    ArchiveState,
    ProductStatus,
    Throttled,
    door_status,
    gather_bounded,
    head_status,
    request_by_download,
)
from airflow_asf_ifg.failing import is_permanent

if TYPE_CHECKING:
    from airflow_asf_ifg.hooks.asf import AsfHook

TERMINAL = (ArchiveState.AVAILABLE, ArchiveState.MISSING)


def archive_targets(granules: list[dict[str, Any]], roles: tuple[str, ...] = ("data",)) -> list[dict[str, Any]]:
    """What the archive polling needs of each file of some granule dicts (names and URLs, no secrets).

    :param granules: granule dicts (CmrSearchOperator's output).
    :param roles: which files.
    """
    from airflow_asf_ifg.client.granule import Granule

    targets = []
    for document in granules:
        granule = Granule.from_dict(document)
        for product in granule.files:
            if product.role in roles:
                targets.append({"name": product.name, "url": product.url, "s3_url": product.s3_url,
                                "s3_credentials_url": granule.s3_credentials_url})
    return targets


class ArchivePoller:
    """One round of polling many products, and the retrieval requests, shared by the trigger and the sensor.

    Products are read with the door's status JSON when the connection has ``archive_status_url``, else
    with HeadObject when they have an ``s3://`` URL, else with their download URL (whose 202 is also
    the request). A retrieval is requested only for products seen ``archived``, so each is asked once.

    :param earthdata_conn_id: the ``earthdata`` connection.
    :param max_concurrency: requests in flight at once.
    :param request_retrieval: request the retrieval of archived products.
    :param max_retrievals: the most retrievals to request (None: no cap).
    """

    def __init__(self, earthdata_conn_id: str, max_concurrency: int = 20, request_retrieval: bool = True,
                 max_retrievals: int | None = None) -> None:
        from airflow_asf_ifg.hooks.asf import AsfHook  # the sensor imports this module at DAG parse time

        self.hook: AsfHook = AsfHook(earthdata_conn_id)
        self.max_concurrency = max_concurrency
        self.request_retrieval = request_retrieval
        self.max_retrievals = max_retrievals
        self.requested: set[str] = set()

    async def __aenter__(self) -> ArchivePoller:
        self._stack = contextlib.AsyncExitStack()
        await self._stack.__aenter__()
        self._session = await self._stack.enter_async_context(self.hook.earthdata.get_async_session())
        self._clients: dict[str | None, Any] = {}
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._stack.__aexit__(*exc_info)

    async def _client(self, endpoint: str | None) -> Any:
        # One refreshing S3 client per credentials endpoint, kept for every poll.
        if endpoint not in self._clients:
            self._clients[endpoint] = await self._stack.enter_async_context(self.hook.get_async_s3_client(endpoint))
        return self._clients[endpoint]

    def method_for(self, target: dict[str, Any]) -> str:
        """How a product's state is read: ``status`` (the 2018 door's JSON), ``head`` (S3) or ``download``.

        :param target: a product from :func:`archive_targets`.
        """
        if self.hook.earthdata.settings.archive_status_url:
            return "status"
        return "head" if target.get("s3_url") else "download"

    async def poll(self, targets: list[dict[str, Any]]) -> tuple[dict[str, ProductStatus], float]:
        """Read every product once (requesting retrievals); return states and the longest Retry-After.

        :param targets: products from :func:`archive_targets`.
        """
        template = self.hook.earthdata.settings.archive_status_url
        session = self._session

        async def one(target: dict[str, Any]) -> ProductStatus:
            if template:
                status = await door_status(session, template, target["name"])
            elif target.get("s3_url"):
                bucket, _, key = target["s3_url"].removeprefix("s3://").partition("/")
                client = await self._client(target.get("s3_credentials_url"))
                found = await head_status(client, bucket, key)
                status = ProductStatus(target["name"], found.state, found.expires)
            else:
                return await self._by_download(session, target)
            url = target.get("url") or _door_download_url(template, target["name"])
            if status.state is ArchiveState.ARCHIVED and url and self.may_request(target["name"]):
                self.requested.add(target["name"])  # before awaiting: concurrent polls must see the cap
                try:
                    requested = await request_by_download(session, url, target["name"])
                except BaseException:
                    self.requested.discard(target["name"])  # not asked after all: ask again next poll
                    raise
                return ProductStatus(target["name"], requested.state, None, requested=True)
            return status

        results = await gather_bounded(self.max_concurrency, [one(t) for t in targets])
        states: dict[str, ProductStatus] = {}
        wait = 0.0
        for target, result in zip(targets, results, strict=True):
            if isinstance(result, Throttled):
                wait = max(wait, result.retry_after)
                continue
            if isinstance(result, BaseException):
                raise result
            states[target["name"]] = result
        return states, wait

    def may_request(self, name: str) -> bool:
        """Whether a retrieval may still be requested for ``name`` (not yet asked, under the cap).

        :param name: the product.
        """
        if not self.request_retrieval or name in self.requested:
            return False
        return self.max_retrievals is None or len(self.requested) < self.max_retrievals

    async def _by_download(self, session: Any, target: dict[str, Any]) -> ProductStatus:
        if not target.get("url"):
            raise ValueError(f"{target['name']} has neither a status URL, an s3:// URL nor a download URL")
        if target["name"] in self.requested or self.may_request(target["name"]):
            # The 202 path cannot tell archived from retrieving: every poll asks, and a 202 is the request.
            status = await request_by_download(session, target["url"], target["name"])
            if status.requested:
                self.requested.add(target["name"])
            return status
        return ProductStatus(target["name"], ArchiveState.ARCHIVED)


def _door_download_url(template: str | None, name: str) -> str | None:
    """The 2018 door's download URL beside its status URL (``/door/status/`` → ``/door/download/``)."""
    if template and "/door/status/" in template:
        return template.replace("/door/status/", "/door/download/").format(name=name)
    return None


def finished(states: dict[str, ProductStatus], poller: ArchivePoller, total: int) -> bool:
    """Whether waiting longer cannot change anything: all available or missing, or archived beyond the cap.

    :param states: the latest states.
    :param poller: the poller (for what was requested).
    :param total: how many products there are.
    """
    if len(states) < total:
        return False
    for status in states.values():
        if status.state in TERMINAL:
            continue
        if status.state is ArchiveState.ARCHIVED and not poller.may_request(status.name) and \
                status.name not in poller.requested:
            continue  # over the retrieval cap: it will not come back in this run
        return False
    return True


class AsfArchiveStatusTrigger(BaseTrigger):
    """Poll products until all are available (or missing, or over the retrieval cap), then fire once.

    Never raises: yields ``{"status": "success"|"timeout"|"error", "products": [...], "message": ...}``.

    :param targets: products (names and URLs only) from :func:`archive_targets`.
    :param earthdata_conn_id: the ``earthdata`` connection.
    :param poke_interval: seconds between polls at first.
    :param max_interval: the longest wait between polls (the interval doubles up to it).
    :param deadline: epoch seconds after which the trigger gives up with ``timeout``.
    :param max_concurrency: requests in flight at once.
    :param request_retrieval: request the retrieval of archived products.
    :param max_retrievals: the most retrievals to request.
    :param requested: products whose retrieval was already requested (by the sensor's first poke).
    """

    def __init__(self, *, targets: list[dict[str, Any]], earthdata_conn_id: str, poke_interval: float,
                 max_interval: float, deadline: float, max_concurrency: int = 20, request_retrieval: bool = True,
                 max_retrievals: int | None = None, requested: list[str] | None = None) -> None:
        super().__init__()
        self.targets = targets
        self.earthdata_conn_id = earthdata_conn_id
        self.poke_interval = poke_interval
        self.max_interval = max_interval
        self.deadline = deadline
        self.max_concurrency = max_concurrency
        self.request_retrieval = request_retrieval
        self.max_retrievals = max_retrievals
        self.requested = list(requested or [])

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and every argument (names and URLs only: no secrets)."""
        return ("airflow_asf_ifg.triggers.archive.AsfArchiveStatusTrigger", {
            "targets": self.targets, "earthdata_conn_id": self.earthdata_conn_id,
            "poke_interval": self.poke_interval, "max_interval": self.max_interval, "deadline": self.deadline,
            "max_concurrency": self.max_concurrency, "request_retrieval": self.request_retrieval,
            "max_retrievals": self.max_retrievals, "requested": self.requested})

    @cached_property
    def poller(self) -> ArchivePoller:
        """The poller (keeps what was requested across polls)."""
        poller = ArchivePoller(self.earthdata_conn_id, self.max_concurrency, self.request_retrieval,
                               self.max_retrievals)
        poller.requested.update(self.requested)
        return poller

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until done or the deadline; yield one envelope."""
        states: dict[str, ProductStatus] = {}
        try:
            async with self.poller as poller:
                async for event in self._wait(poller, states):
                    yield event
        except Exception as error:  # a trigger reports; it never raises
            envelope = self._envelope("error", states, f"{type(error).__name__}: {error}")
            envelope["permanent"] = is_permanent(error)  # the task fails at once rather than retrying
            yield TriggerEvent(envelope)

    async def _wait(self, poller: ArchivePoller, states: dict[str, ProductStatus]) -> AsyncIterator[TriggerEvent]:
        interval = self.poke_interval
        while True:
            fresh, wait = await poller.poll(self.targets)
            for name, status in fresh.items():
                previous = states.get(name)
                if previous is None or previous.state != status.state:
                    self.log.info("%s: %s%s", name, status.state.value,
                                  " (retrieval requested)" if status.requested else "")
            states.update(fresh)
            if finished(states, poller, len(self.targets)):
                yield TriggerEvent(self._envelope("success", states))
                return
            remaining = self.deadline - time.time()
            if remaining <= 0:
                yield TriggerEvent(self._envelope("timeout", states, "the deadline passed while waiting"))
                return
            await asyncio.sleep(min(max(interval, wait), remaining))
            interval = min(interval * 2, self.max_interval)

    def _envelope(self, status: str, states: dict[str, ProductStatus], message: str = "") -> dict[str, Any]:
        counts: dict[str, int] = {}
        for product in states.values():
            counts[product.state.value] = counts.get(product.state.value, 0) + 1
        return {"status": status, "message": message, "counts": counts,
                "products": [s.to_dict() for s in states.values()], "requested": sorted(self.poller.requested)}
