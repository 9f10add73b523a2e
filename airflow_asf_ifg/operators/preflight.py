"""AsfPreflightOperator: before any copy, prove the login, the path the copies will take, and the destination."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseOperator

from airflow_asf_ifg.client.granule import Granule, ProductFile, check_source, checked_roles
from airflow_asf_ifg.compat import AirflowFailException
from airflow_asf_ifg.exceptions import ProductMissingError
from airflow_asf_ifg.failing import permanent_errors_fail_the_task
from airflow_asf_ifg.hooks import EARTHDATA_DEFAULT_CONN_ID
from airflow_asf_ifg.templates import checked_after_rendering, is_templated
from airflow_asf_ifg.validation import check_bucket_name

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_asf_ifg.client.preflight import AccessCheck
    from airflow_asf_ifg.hooks.asf import AsfHook


class AsfPreflightOperator(BaseOperator):
    """Check, once per run and before any copy, everything the copies need, reading no product.

    For products served over HTTPS (every GUNW product today) it walks the door's login chain for the
    first product (Earthdata Login's OAuth redirect, the door's cookie, the signed URL) with a one-byte
    ranged GET; for ``s3://`` products it fetches ASF's temporary keys and reads the first product's
    HeadObject with them. With ``dest_bucket`` it also checks that the destination bucket exists and is
    reachable with ``aws_conn_id``. A login, EULA or endpoint problem fails the task at once. Returns what
    was checked (hosts and names only, nothing secret).

    :param granules: granule dicts (templated), e.g. CmrSearchOperator's output.
    :param files: which files the copies take (templated): ``data``, ``browse``, ``metadata``.
    :param source: ``auto``, ``s3`` or ``https``: as the copies are told.
    :param dest_bucket: the copies' destination bucket (templated); None skips that check.
    :param aws_conn_id: the destination's ``aws`` connection.
    :param earthdata_conn_id: the ``earthdata`` connection.
    """

    template_fields: Sequence[str] = ("granules", "files", "dest_bucket")
    template_fields_renderers = {"granules": "json"}
    ui_color = "#fdebd0"

    def __init__(
        self,
        *,
        granules: list[dict[str, Any]] | Any,
        files: Sequence[str] = ("data",),
        source: str = "auto",
        dest_bucket: str | None = None,
        aws_conn_id: str | None = "aws_default",
        earthdata_conn_id: str = EARTHDATA_DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.granules = granules
        self.files = files if is_templated(files) else checked_roles(files)
        self.source = check_source(source)
        if dest_bucket is not None and not is_templated(dest_bucket):
            check_bucket_name(dest_bucket)
        self.dest_bucket = dest_bucket
        self.aws_conn_id = aws_conn_id
        self.earthdata_conn_id = earthdata_conn_id

    @cached_property
    def asf(self) -> AsfHook:
        """Login, sessions and temporary keys."""
        from airflow_asf_ifg.hooks.asf import AsfHook  # not at DAG parse time: it loads boto3

        return AsfHook(self.earthdata_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        """Run the checks; return what each confirmed."""
        from airflow_asf_ifg.client.copy import reads_over_s3  # the copy engine loads boto3: not at parse time

        roles = checked_after_rendering(self.files, checked_roles)
        with permanent_errors_fail_the_task():
            if self.dest_bucket is not None:  # None skips the destination check; '' rendered is a mistake
                self.dest_bucket = check_bucket_name(self.dest_bucket)
            granules = Granule.from_dicts(list(self.granules or []))
            facts: dict[str, Any] = {"granules": len(granules), "source": None, "destination": None}
            if self.dest_bucket is not None:
                facts["destination"] = self._check_destination(self.dest_bucket)
            first = next(((g, f) for g in granules for f in g.files if f.role in roles), None)
            if first is None:
                self.log.info(
                    "No %s file in %d granule(s): nothing will be copied, nothing to check",
                    "/".join(roles),
                    len(granules),
                )
                return facts
            granule, product = first
            over_s3 = reads_over_s3(product, self.source)  # the way the copies will read it
            try:
                check = self._check_s3(granule, product) if over_s3 else self._check_https(product)
            except ProductMissingError as error:
                raise AirflowFailException(str(error)) from error
        self.log.info("Preflight: %s", check.detail)
        self.log.info(
            "Copies of the %d granule(s) will go over %s",
            len(granules),
            "S3 with ASF's temporary keys"
            if check.path == "s3"
            else "HTTPS through the door (no S3 credentials needed)",
        )
        facts["source"] = check.to_dict()
        return facts

    def _check_https(self, product: ProductFile) -> AccessCheck:
        from airflow_asf_ifg.client.preflight import check_https

        return check_https(self.asf.earthdata.get_session(), product.url or "", product.name)

    def _check_s3(self, granule: Granule, product: ProductFile) -> AccessCheck:
        from botocore.exceptions import ClientError

        from airflow_asf_ifg.client.credentials import explain_s3_error
        from airflow_asf_ifg.client.preflight import AccessCheck
        from airflow_asf_ifg.client.s3 import parse_s3_url

        credentials = self.asf.get_credentials(granule.s3_credentials_url)
        bucket, key = parse_s3_url(product.s3_url or "")
        client = self.asf.get_s3_client(granule.s3_credentials_url)
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            explained = explain_s3_error(error, self.asf.region_for(credentials.endpoint), bucket)
            if explained is error:
                raise
            # Refused keys (out of region, unknown) will be refused on every retry as well.
            raise AirflowFailException(str(explained)) from error
        storage = head.get("StorageClass") or "STANDARD"
        return AccessCheck(
            "s3",
            product.name,
            product.s3_url or "",
            [urlsplit(credentials.endpoint or "").netloc],
            200,
            f"{product.name}: temporary S3 keys from {credentials.endpoint} (valid until "
            f"{credentials.expiration.isoformat()}) read its HeadObject ({storage})",
        )

    def _check_destination(self, bucket: str) -> dict[str, Any]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_asf_ifg.client.destination import check_bucket

        check_bucket(S3Hook(aws_conn_id=self.aws_conn_id).get_conn(), bucket, self.aws_conn_id)
        self.log.info("Destination s3://%s exists and answers connection %r", bucket, self.aws_conn_id)
        return {"bucket": bucket, "aws_conn_id": self.aws_conn_id}
