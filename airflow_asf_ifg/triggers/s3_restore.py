"""S3ObjectRestoredTrigger: wait in the triggerer until objects of your own bucket are restored from Glacier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_asf_ifg.client.archive import ProductStatus
from airflow_asf_ifg.client.archive_poll import finished, head_states
from airflow_asf_ifg.client.limits import check_number, check_positive
from airflow_asf_ifg.client.polling import wait_until_settled
from airflow_asf_ifg.triggers.progress import WaitReporter


class S3ObjectRestoredTrigger(BaseTrigger):
    """Poll HeadObject of some keys until none is archived or being restored; never raises.

    :param bucket: the bucket.
    :param keys: the keys.
    :param aws_conn_id: the ``aws`` connection.
    :param poke_interval: seconds between polls at first (growing with the time waited, up to ``max_interval``).
    :param max_interval: the longest wait between polls.
    :param deadline: epoch seconds after which the trigger gives up with ``timeout``.
    :param max_concurrency: requests in flight at once.
    """

    def __init__(
        self,
        *,
        bucket: str,
        keys: list[str],
        aws_conn_id: str | None,
        poke_interval: float,
        max_interval: float,
        deadline: float,
        max_concurrency: int = 20,
    ) -> None:
        super().__init__()
        check_positive("poke_interval", poke_interval)
        check_positive("max_interval", max_interval)
        check_number("deadline", deadline, above_minimum=False)
        check_positive("max_concurrency", max_concurrency, integer=True)
        self.bucket = bucket
        self.keys = keys
        self.aws_conn_id = aws_conn_id
        self.poke_interval = poke_interval
        self.max_interval = max_interval
        self.deadline = deadline
        self.max_concurrency = max_concurrency

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and every argument."""
        return (
            "airflow_asf_ifg.triggers.s3_restore.S3ObjectRestoredTrigger",
            {
                "bucket": self.bucket,
                "keys": self.keys,
                "aws_conn_id": self.aws_conn_id,
                "poke_interval": self.poke_interval,
                "max_interval": self.max_interval,
                "deadline": self.deadline,
                "max_concurrency": self.max_concurrency,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until every key is available or missing, or the deadline passes."""
        states: dict[str, ProductStatus] = {}
        try:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # the sensor imports this module at parse

            async with await S3Hook(aws_conn_id=self.aws_conn_id).get_async_conn() as client:
                settled = await wait_until_settled(
                    lambda: head_states(client, self.bucket, self.keys, self.max_concurrency),
                    settled=lambda latest: finished(latest, len(set(self.keys))),
                    interval=self.poke_interval,
                    max_interval=self.max_interval,
                    deadline=self.deadline,
                    states=states,
                    report=WaitReporter(self.log, self.task_instance, lambda key: f"s3://{self.bucket}/{key}"),
                )
        except Exception as error:  # a trigger reports; it never raises
            yield TriggerEvent(self._envelope("error", states, f"{type(error).__name__}: {error}"))
            return
        if settled:
            yield TriggerEvent(self._envelope("success", states))
        else:
            yield TriggerEvent(self._envelope("timeout", states, "the deadline passed while waiting"))

    @staticmethod
    def _envelope(status: str, states: dict[str, ProductStatus], message: str = "") -> dict[str, Any]:
        return {"status": status, "message": message, "products": [s.to_dict() for s in states.values()]}
