"""What a waiting trigger tells: each state change and a summary every few minutes in the task log, and
the products' states in an XCom of its task instance, where the "ASF retrievals" page reads them.

The XCom goes through the triggerer's supervisor and the Task Execution API like any other, so the page
(in the API server) sees it whichever process or host runs the trigger. It is written only when a state
changes, and holds names, states and times: nothing secret, nothing a browser may not see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from airflow_asf_ifg.client.polling import PollRound
from airflow_asf_ifg.client.wait_progress import SUMMARY_EVERY, WaitProgress

__all__ = ["WAITING_XCOM_KEY", "WaitReporter"]

#: The XCom key of the document a waiting trigger publishes (:meth:`WaitProgress.snapshot`).
WAITING_XCOM_KEY = "asf_ifg_waiting"


class WaitReporter:
    """The ``report`` of a trigger's :func:`~airflow_asf_ifg.client.polling.wait_until_settled`.

    :param log: the trigger's logger (its lines go to the task's log).
    :param task_instance: the trigger's task instance (None outside a triggerer: nothing is published).
    :param describe: how a product is named in the log (e.g. with its bucket).
    :param summary_every: seconds between two summaries.
    :param seen: what the sensor's pokes saw before it deferred (names, states, since when).
    """

    def __init__(
        self,
        log: logging.Logger | Any,
        task_instance: Any,
        describe: Callable[[str], str] = str,
        summary_every: float = SUMMARY_EVERY,
        seen: list[dict[str, Any]] | None = None,
    ) -> None:
        self.log = log
        self.task_instance = task_instance
        self.describe = describe
        self.progress = WaitProgress(summary_every)
        self.progress.seed(seen or [])
        self._publishing_failed = False
        self._published = False

    async def __call__(self, poll_round: PollRound) -> None:
        """Log the round's changes and a summary when due; publish the states when any changed.

        :param poll_round: the round.
        """
        for status in poll_round.changes:
            self.log.info(
                "%s: %s%s",
                self.describe(status.name),
                status.state.value,
                " (retrieval requested)" if status.requested else "",
            )
        changed = self.progress.update(poll_round)
        if poll_round.next_wait is not None and self.progress.summary_due():
            self.log.info("%s", self.progress.summary())
        if changed or not self._published:  # the first round too: the page learns when the next check is
            await self.publish()

    async def publish(self) -> None:
        """Write the snapshot into the task instance's XCom; a failure is logged once and never raised."""
        ti = self.task_instance
        if ti is None or self._publishing_failed:
            return
        self._published = True
        try:
            from airflow.sdk.execution_time.xcom import XCom

            await XCom.aset(
                key=WAITING_XCOM_KEY,
                value=self.progress.snapshot(),
                dag_id=ti.dag_id,
                task_id=ti.task_id,
                run_id=ti.run_id,
                map_index=ti.map_index,
            )
        except Exception as error:  # the page shows less; the wait goes on
            self._publishing_failed = True
            self.log.warning("Could not publish the products' states for the ASF retrievals page: %s", error)
