"""S3ObjectRestoredSensor: wait until objects of your own bucket are out of Glacier (deferrable)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import PokeReturnValue

from airflow_asf_ifg.client.archive import ArchiveState
from airflow_asf_ifg.client.archive_poll import finished
from airflow_asf_ifg.client.limits import check_positive
from airflow_asf_ifg.client.s3_restore import object_state
from airflow_asf_ifg.compat import AirflowException, AirflowSensorTimeout, AirflowSkipException, conf
from airflow_asf_ifg.sensors.base import PokeThenDeferSensor
from airflow_asf_ifg.triggers.s3_restore import S3ObjectRestoredTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class S3ObjectRestoredSensor(PokeThenDeferSensor):
    """Wait until no key is archived or being restored; returns each key's state and restore expiry.

    :param bucket: the bucket (templated).
    :param keys: the keys (templated).
    :param aws_conn_id: the ``aws`` connection.
    :param fail_on_missing: fail when a key does not exist.
    :param max_interval: the longest wait between polls in the triggerer.
    :param deferrable: wait in the triggerer.
    """

    template_fields: Sequence[str] = ("bucket", "keys")

    def __init__(
        self,
        *,
        bucket: str,
        keys: list[str],
        aws_conn_id: str | None = "aws_default",
        fail_on_missing: bool = True,
        max_interval: float = 600.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(deferrable=deferrable, **kwargs)
        check_positive("max_interval", max_interval)
        self.bucket = bucket
        self.keys = keys
        self.aws_conn_id = aws_conn_id
        self.fail_on_missing = fail_on_missing
        self.max_interval = max_interval

    def poke(self, context: Context) -> PokeReturnValue:
        """HeadObject of every key once."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # loads boto3: not at DAG parse time

        client = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
        states = {key: object_state(client, self.bucket, key) for key in self.keys}
        products = [s.to_dict() for s in states.values()]
        done = finished(states, len(states))
        if done:
            self._check(products)
        return PokeReturnValue(done, products)

    def trigger(self) -> S3ObjectRestoredTrigger:
        """The trigger that waits on."""
        return S3ObjectRestoredTrigger(
            bucket=self.bucket,
            keys=list(self.keys),
            aws_conn_id=self.aws_conn_id,
            poke_interval=self.poke_interval,
            max_interval=self.max_interval,
            deadline=time.time() + self.timeout,
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Turn the trigger's envelope into the per-key states, or a clear failure."""
        products = event.get("products") or []
        if event.get("status") == "success":
            self._check(products)
            return products
        if event.get("status") == "timeout":
            message = f"timed out after {self.timeout} s waiting for restores in s3://{self.bucket}"
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        raise AirflowException(f"the restore trigger failed: {event.get('message')}")

    def _check(self, products: list[dict[str, Any]]) -> None:
        missing = [p["name"] for p in products if p["state"] == ArchiveState.MISSING.value]
        if missing and self.fail_on_missing:
            raise AirflowException(
                f"{len(missing)} key(s) do not exist in s3://{self.bucket}: {', '.join(missing[:5])}"
            )
