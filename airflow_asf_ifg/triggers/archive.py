"""AsfArchiveStatusTrigger: wait in the triggerer until archived products are retrieved, polling them concurrently."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_asf_ifg.client.archive import ProductStatus
from airflow_asf_ifg.client.archive_poll import ArchivePoller, ArchiveTarget, finished
from airflow_asf_ifg.client.limits import check_number, check_positive
from airflow_asf_ifg.client.polling import wait_until_settled
from airflow_asf_ifg.failing import is_permanent
from airflow_asf_ifg.triggers.progress import WaitReporter


def archive_poller(
    earthdata_conn_id: str,
    *,
    max_concurrency: int = 20,
    request_retrieval: bool = True,
    max_retrievals: int | None = None,
    requested: Iterable[str] = (),
) -> ArchivePoller:
    """An :class:`ArchivePoller` on the connection's sessions, status URL and refreshing S3 clients.

    :param earthdata_conn_id: the ``earthdata`` connection.
    :param max_concurrency: requests in flight at once.
    :param request_retrieval: request the retrieval of archived products.
    :param max_retrievals: the most retrievals to request (None: no cap).
    :param requested: products whose retrieval was already requested.
    """
    from airflow_asf_ifg.hooks.asf import AsfHook  # the sensor imports this module at DAG parse time

    hook = AsfHook(earthdata_conn_id)
    return ArchivePoller(
        hook.earthdata.get_async_session,
        status_template=hook.earthdata.settings.archive_status_url,
        open_s3_client=hook.get_async_s3_client,
        max_concurrency=max_concurrency,
        request_retrieval=request_retrieval,
        max_retrievals=max_retrievals,
        requested=requested,
    )


class AsfArchiveStatusTrigger(BaseTrigger):
    """Poll products until all are available (or missing, or over the retrieval cap), then fire once.

    While it waits it logs each state change and, every few minutes, a summary; it publishes the states in
    its task instance's ``asf_ifg_waiting`` XCom for the "ASF retrievals" page (:mod:`.progress`).

    Never raises: yields ``{"status": "success"|"timeout"|"error", "products": [...], "message": ...}``.

    :param targets: products (names and URLs only), as :class:`ArchiveTarget` or its dicts.
    :param earthdata_conn_id: the ``earthdata`` connection.
    :param poke_interval: seconds between polls at first.
    :param max_interval: the longest wait between polls (the wait grows to a quarter of the time waited, up to it).
    :param deadline: epoch seconds after which the trigger gives up with ``timeout``.
    :param max_concurrency: requests in flight at once.
    :param request_retrieval: request the retrieval of archived products.
    :param max_retrievals: the most retrievals to request.
    :param requested: products whose retrieval was already requested (by the sensor's first poke).
    :param seen: each product's state and since when (epoch seconds) as the sensor's pokes saw them.
    """

    def __init__(
        self,
        *,
        targets: Sequence[ArchiveTarget | Mapping[str, Any]],
        earthdata_conn_id: str,
        poke_interval: float,
        max_interval: float,
        deadline: float,
        max_concurrency: int = 20,
        request_retrieval: bool = True,
        max_retrievals: int | None = None,
        requested: list[str] | None = None,
        seen: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        check_positive("poke_interval", poke_interval)
        check_positive("max_interval", max_interval)
        check_number("deadline", deadline, above_minimum=False)
        check_positive("max_concurrency", max_concurrency, integer=True)
        if max_retrievals is not None:
            check_number("max_retrievals", max_retrievals, above_minimum=False, integer=True)
        # Trigger rows hold JSON: the targets arrive as dicts when the triggerer rebuilds the trigger.
        self.targets = [t if isinstance(t, ArchiveTarget) else ArchiveTarget.from_dict(t) for t in targets]
        self.earthdata_conn_id = earthdata_conn_id
        self.poke_interval = poke_interval
        self.max_interval = max_interval
        self.deadline = deadline
        self.max_concurrency = max_concurrency
        self.request_retrieval = request_retrieval
        self.max_retrievals = max_retrievals
        self.requested = list(requested or [])
        self.seen = list(seen or [])

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and every argument (names and URLs only: no secrets)."""
        return (
            "airflow_asf_ifg.triggers.archive.AsfArchiveStatusTrigger",
            {
                "targets": [t.to_dict() for t in self.targets],
                "earthdata_conn_id": self.earthdata_conn_id,
                "poke_interval": self.poke_interval,
                "max_interval": self.max_interval,
                "deadline": self.deadline,
                "max_concurrency": self.max_concurrency,
                "request_retrieval": self.request_retrieval,
                "max_retrievals": self.max_retrievals,
                "requested": self.requested,
                "seen": self.seen,
            },
        )

    def poller(self) -> ArchivePoller:
        """The poller this trigger reads products with (S3 clients shared with the loop's other triggers)."""
        return archive_poller(
            self.earthdata_conn_id,
            max_concurrency=self.max_concurrency,
            request_retrieval=self.request_retrieval,
            max_retrievals=self.max_retrievals,
            requested=self.requested,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until done or the deadline; yield one envelope."""
        states: dict[str, ProductStatus] = {}
        requested: set[str] = set(self.requested)  # the poller's own set once it is built
        try:
            # Built in here: reading the connection may fail, and that, too, becomes an envelope.
            poller = self.poller()
            requested = poller.requested
            async with poller:
                settled = await wait_until_settled(
                    lambda: poller.poll(self.targets),
                    settled=lambda latest: finished(latest, len(self.targets), poller.stays_archived),
                    interval=self.poke_interval,
                    max_interval=self.max_interval,
                    deadline=self.deadline,
                    states=states,
                    report=WaitReporter(self.log, self.task_instance, seen=self.seen),
                )
        except Exception as error:  # a trigger reports; it never raises
            envelope = self._envelope("error", states, requested, f"{type(error).__name__}: {error}")
            envelope["permanent"] = is_permanent(error)  # the task fails at once rather than retrying
            yield TriggerEvent(envelope)
            return
        if settled:
            yield TriggerEvent(self._envelope("success", states, requested))
        else:
            yield TriggerEvent(self._envelope("timeout", states, requested, "the deadline passed while waiting"))

    @staticmethod
    def _envelope(
        status: str, states: dict[str, ProductStatus], requested: Iterable[str], message: str = ""
    ) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for product in states.values():
            counts[product.state.value] = counts.get(product.state.value, 0) + 1
        return {
            "status": status,
            "message": message,
            "counts": counts,
            "products": [s.to_dict() for s in states.values()],
            "requested": sorted(requested),
        }
