"""AsfArchiveStatusSensor: request the retrieval of archived products and wait until all are available."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import PokeReturnValue

from airflow_asf_ifg.client.archive import ArchiveState, ProductStatus
from airflow_asf_ifg.client.archive_poll import (
    ArchivePoller,
    ArchiveTarget,
    archive_targets,
    finished,
    outcome,
    targets_from_names,
)
from airflow_asf_ifg.client.granule import checked_roles
from airflow_asf_ifg.client.limits import check_number, check_positive
from airflow_asf_ifg.client.polling import PollRound
from airflow_asf_ifg.client.wait_progress import WaitProgress
from airflow_asf_ifg.compat import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    conf,
)
from airflow_asf_ifg.exceptions import InvalidInputError
from airflow_asf_ifg.failing import permanent_errors_fail_the_task
from airflow_asf_ifg.hooks import EARTHDATA_DEFAULT_CONN_ID
from airflow_asf_ifg.links import AsfSearchLink, CmrRecordsLink
from airflow_asf_ifg.sensors.base import PokeThenDeferSensor
from airflow_asf_ifg.templates import checked_after_rendering, is_templated
from airflow_asf_ifg.triggers.archive import AsfArchiveStatusTrigger, archive_poller
from airflow_asf_ifg.triggers.progress import WAITING_XCOM_KEY

if TYPE_CHECKING:
    from airflow.sdk import Context


class AsfArchiveStatusSensor(PokeThenDeferSensor):
    """Wait until products are out of long-term storage, requesting each archived one's retrieval once.

    Deferrable by default when ``[operators] default_deferrable`` is on: the first poke runs on the
    worker (and requests retrievals), then :class:`AsfArchiveStatusTrigger` waits in the triggerer and
    holds no worker slot. Returns each product's state and the restored copy's expiry.

    :param granules: granule dicts (templated), e.g. CmrSearchOperator's output.
    :param names: instead of granules: file names (the door's status) or ``s3://`` URLs (templated).
    :param files: which files of the granules (templated): ``data``, ``browse``, ``metadata``.
    :param earthdata_conn_id: the ``earthdata`` connection.
    :param request_retrieval: request the retrieval of archived products.
    :param max_retrievals: the most retrievals this run may request (None: no cap).
    :param fail_on_missing: fail when a product does not exist (else report it ``missing``).
    :param max_concurrency: status requests in flight at once.
    :param max_interval: the longest wait between polls in the triggerer (the wait grows to a quarter of the
        time waited, up to it).
    :param deferrable: wait in the triggerer.
    """

    template_fields: Sequence[str] = ("granules", "names", "files")
    template_fields_renderers = {"granules": "json"}
    operator_extra_links = (AsfSearchLink(), CmrRecordsLink())
    ui_color = "#fcf3cf"

    def __init__(
        self,
        *,
        granules: list[dict[str, Any]] | None = None,
        names: list[str] | None = None,
        files: Sequence[str] = ("data",),
        earthdata_conn_id: str = EARTHDATA_DEFAULT_CONN_ID,
        request_retrieval: bool = True,
        max_retrievals: int | None = None,
        fail_on_missing: bool = True,
        max_concurrency: int = 20,
        max_interval: float = 600.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(deferrable=deferrable, **kwargs)
        if granules is None and names is None:
            raise InvalidInputError("give granules= (granule dicts) or names= (file names or s3:// URLs)")
        if max_retrievals is not None:
            check_number("max_retrievals", max_retrievals, above_minimum=False, integer=True)
        check_positive("max_concurrency", max_concurrency, integer=True)
        check_positive("max_interval", max_interval)
        if isinstance(names, str) and not is_templated(names):
            names = [names]  # one name, not a sequence of one-character names
        self.granules = granules
        self.names = names
        self.files = files if is_templated(files) else checked_roles(files)
        self.earthdata_conn_id = earthdata_conn_id
        self.request_retrieval = request_retrieval
        self.max_retrievals = max_retrievals
        self.fail_on_missing = fail_on_missing
        self.max_concurrency = max_concurrency
        self.max_interval = max_interval
        self._poller: ArchivePoller | None = None
        self._explained = False
        self._progress = WaitProgress()  # what the pokes saw, for the ASF retrievals page and the trigger
        self._last_states: dict[str, ProductStatus] = {}

    def targets(self) -> list[ArchiveTarget]:
        """The products to watch (names and URLs only)."""
        if self.granules is not None:
            roles = checked_after_rendering(self.files, checked_roles)
            return archive_targets(list(self.granules), roles)
        names = self.names
        # A template renders to a string: one name ("x.zip"), never its characters.
        return targets_from_names([names] if isinstance(names, str) else list(names or []))

    @property
    def poller(self) -> ArchivePoller:
        """The poller; it remembers the retrievals requested by this task across pokes."""
        if self._poller is None:
            self._poller = archive_poller(
                self.earthdata_conn_id,
                max_concurrency=self.max_concurrency,
                request_retrieval=self.request_retrieval,
                max_retrievals=self.max_retrievals,
            )
        return self._poller

    def _poll_once(self, targets: list[ArchiveTarget]) -> dict[str, ProductStatus]:
        async def poll() -> dict[str, ProductStatus]:
            async with self.poller as poller:
                return (await poller.poll(targets)).states

        with permanent_errors_fail_the_task():  # a refused login must not be retried (EDL locks accounts)
            states = asyncio.run(poll())
        for status in states.values():
            if status.requested:
                self.log.info("%s: retrieval requested", status.name)
        return states

    def poke(self, context: Context) -> PokeReturnValue:
        """One poll of every product (requesting retrievals of archived ones)."""
        targets = self.targets()
        if not targets:
            return PokeReturnValue(True, [])
        if not self._explained:
            self._explain(targets)
        states = self._poll_once(targets)
        counts = {state.value: sum(s.state is state for s in states.values()) for state in ArchiveState}
        self.log.info("%d product(s): %s", len(targets), ", ".join(f"{v} {k}" for k, v in counts.items() if v))
        done = finished(states, len(targets), self.poller.stays_archived)
        self._publish(context, states, done)
        products = [s.to_dict() for s in states.values()]
        if done:
            self._fail_if(outcome(products, self.fail_on_missing))
        return PokeReturnValue(done, products)

    def _publish(self, context: Context, states: dict[str, ProductStatus], done: bool) -> None:
        """Put the products' states in this task's ``asf_ifg_waiting`` XCom when one changed (the page's source)."""
        previous, self._last_states = self._last_states, {**self._last_states, **states}
        changes = [s for n, s in states.items() if n not in previous or previous[n].state is not s.state]
        poll_round = PollRound(changes, self._last_states, 0.0, None if done else float(self.poke_interval))
        if self._progress.update(poll_round):
            context["ti"].xcom_push(key=WAITING_XCOM_KEY, value=self._progress.snapshot())

    def _explain(self, targets: list[ArchiveTarget]) -> None:
        """Say once how the states are read, so a pass in seconds under today's services is not a mystery."""
        self._explained = True
        methods = {self.poller.method_for(target) for target in targets}
        if methods == {"download"}:
            self.log.info(
                "No archive status endpoint is configured and the products have no s3:// URL, as with "
                "today's ASF services, which keep no GUNW product in long-term storage: each product is "
                "read through its download URL (one byte), and one that answers is available"
            )
        elif "status" in methods:
            self.log.info(
                "Reading archive states from the door's status endpoint %s (the 2018 door)", self.poller.status_template
            )
        else:
            self.log.info("Reading archive states with S3 HeadObject (StorageClass and Restore)")

    def trigger(self) -> AsfArchiveStatusTrigger:
        """The trigger that waits on, knowing which retrievals the first poke requested."""
        return AsfArchiveStatusTrigger(
            targets=self.targets(),
            earthdata_conn_id=self.earthdata_conn_id,
            poke_interval=self.poke_interval,
            max_interval=self.max_interval,
            deadline=time.time() + self.timeout,
            max_concurrency=self.max_concurrency,
            request_retrieval=self.request_retrieval,
            max_retrievals=self.max_retrievals,
            requested=sorted(self.poller.requested),
            seen=self._progress.seen(),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Turn the trigger's envelope into the per-product states, or a clear failure."""
        status = event.get("status")
        products = event.get("products") or []
        if status == "success":
            self._fail_if(outcome(products, self.fail_on_missing))
            self.log.info("All products are available: %s", event.get("counts"))
            return products
        if status == "timeout":
            waiting = [p["name"] for p in products if p["state"] != ArchiveState.AVAILABLE.value]
            message = (
                f"timed out after {self.timeout} s waiting for {len(waiting)} product(s) to leave long-term "
                f"storage: {', '.join(waiting[:5])}"
            )
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        if event.get("permanent"):  # a login, EULA or endpoint problem: retrying cannot help
            raise AirflowFailException(f"the archive status trigger failed: {event.get('message')}")
        raise AirflowException(f"the archive status trigger failed: {event.get('message')}")

    def _fail_if(self, problem: str | None) -> None:
        if problem is None:
            return
        if self.soft_fail:
            raise AirflowSkipException(problem)
        raise AirflowException(problem)
