"""S3RestoreObjectOperator: ask S3 to restore objects of your own bucket that a lifecycle rule moved to Glacier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_asf_ifg.client.limits import check_number
from airflow_asf_ifg.client.s3_restore import TIERS
from airflow_asf_ifg.exceptions import InvalidInputError

if TYPE_CHECKING:
    from airflow.sdk import Context


class S3RestoreObjectOperator(BaseOperator):
    """Request the restore of archived objects (GLACIER, DEEP_ARCHIVE); objects not archived are left alone.

    Returns, per key: ``started``, ``in-progress``, ``restored`` (already), ``not-archived`` or ``missing``.
    Pair it with :class:`~airflow_asf_ifg.sensors.s3_restore.S3ObjectRestoredSensor` to wait.

    :param bucket: the bucket (templated).
    :param keys: the keys (templated).
    :param days: how long the restored copies stay.
    :param tier: ``Expedited``, ``Standard`` or ``Bulk``.
    :param aws_conn_id: the ``aws`` connection.
    """

    template_fields: Sequence[str] = ("bucket", "keys")

    def __init__(
        self,
        *,
        bucket: str,
        keys: list[str],
        days: int = 7,
        tier: str = "Standard",
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if tier not in TIERS:
            raise InvalidInputError(f"tier {tier!r} is not one of {TIERS}")
        check_number("days", days, minimum=1, above_minimum=False, integer=True)
        self.bucket = bucket
        self.keys = keys
        self.days = days
        self.tier = tier
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Context) -> dict[str, str]:
        """Request each archived object's restore once."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # loads boto3: not at DAG parse time

        from airflow_asf_ifg.client.s3_restore import request_restore

        client = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
        outcome: dict[str, str] = {}
        for key in self.keys:
            outcome[key] = request_restore(client, self.bucket, key, self.days, self.tier)
            self.log.info("s3://%s/%s: %s", self.bucket, key, outcome[key])
        return outcome
