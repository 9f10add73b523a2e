"""AsfToS3Operator: copy a granule's files into the user's bucket, streaming, verified, resumable, idempotent."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_asf_ifg.client.archive_poll import archive_targets, outcome
from airflow_asf_ifg.client.destination import check_bucket
from airflow_asf_ifg.client.granule import Granule, ProductFile, check_source, checked_roles
from airflow_asf_ifg.client.limits import S3_MIN_PART_SIZE, check_number, check_positive
from airflow_asf_ifg.compat import AirflowFailException
from airflow_asf_ifg.exceptions import InvalidInputError, ProductArchivedError
from airflow_asf_ifg.failing import permanent_errors_fail_the_task
from airflow_asf_ifg.hooks import EARTHDATA_DEFAULT_CONN_ID
from airflow_asf_ifg.templates import checked_after_rendering, is_templated
from airflow_asf_ifg.transfers.base import (
    DEFAULT_PREFIX,
    GranuleTransferOperator,
    destination_prefix,
    object_key,
    upload_owner,
)
from airflow_asf_ifg.triggers.archive import AsfArchiveStatusTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_asf_ifg.client.transfer import Transfer, TransferResult

__all__ = ["DEFAULT_ASSET_ALIAS", "ON_ARCHIVED", "AsfToS3Operator", "destination_prefix"]

ON_ARCHIVED = ("fail", "defer")
DEFAULT_ASSET_ALIAS = "asf-ifg-products"


class AsfToS3Operator(GranuleTransferOperator):
    """Copy granules' files from ASF into an S3 bucket of yours; re-running copies nothing twice.

    Each file is read from its ``s3://`` URL with ASF's refreshing temporary keys, or from its HTTPS URL
    through Earthdata Login (the granule's URLs decide unless ``source`` forces one), streamed into a
    multipart upload, and completed only if size and checksum match CMR's. An archived product fails the
    task with advice (``on_archived="fail"``) or waits for it in the triggerer (``"defer"``).

    :param granule: one granule dict (templated), e.g. ``.expand(granule=search.output)``.
    :param granules: a list of granule dicts (templated), instead of ``granule``.
    :param dest_bucket: the destination bucket (templated).
    :param dest_prefix: key prefix (templated) with ``{collection}``, ``{granule_ur}``, ``{concept_id}``.
    :param files: which files (templated): ``data`` (the product), ``browse``, ``metadata``.
    :param source: ``auto``, ``s3`` or ``https``.
    :param aws_conn_id: the destination's ``aws`` connection.
    :param earthdata_conn_id: the ``earthdata`` connection.
    :param concurrency: parts fetched and uploaded at once (part buffers: at most twice this plus two, 80 MiB).
    :param part_size: multipart part size in bytes (raised to fit 10,000 parts); by default up to 8 MiB, evened
        out so that the parts fetched at once finish together.
    :param on_archived: ``fail`` or ``defer`` (wait in the triggerer, then copy).
    :param archive_timeout: with ``defer``, seconds to wait for a retrieval before failing.
    :param archive_poke_interval: with ``defer``, seconds between status polls at first.
    :param asset_alias: the AssetAlias that receives an asset event per written object.
    """

    template_fields: Sequence[str] = ("granule", "granules", "dest_bucket", "dest_prefix", "files")
    ui_color = "#d5f5e3"

    def __init__(
        self,
        *,
        dest_bucket: str,
        granule: dict[str, Any] | None = None,
        granules: list[dict[str, Any]] | None = None,
        dest_prefix: str = DEFAULT_PREFIX,
        files: Sequence[str] = ("data",),
        source: str = "auto",
        aws_conn_id: str | None = "aws_default",
        earthdata_conn_id: str = EARTHDATA_DEFAULT_CONN_ID,
        concurrency: int = 8,
        part_size: int | None = None,
        on_archived: str = "fail",
        archive_timeout: float = 6 * 3600,
        archive_poke_interval: float = 60.0,
        asset_alias: str = DEFAULT_ASSET_ALIAS,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            dest_bucket=dest_bucket,
            granule=granule,
            granules=granules,
            dest_prefix=dest_prefix,
            aws_conn_id=aws_conn_id,
            earthdata_conn_id=earthdata_conn_id,
            asset_alias=asset_alias,
            **kwargs,
        )
        check_source(source)
        if on_archived not in ON_ARCHIVED:
            raise InvalidInputError(f"on_archived {on_archived!r} is not one of {ON_ARCHIVED}")
        check_positive("concurrency", concurrency, integer=True)
        if part_size is not None:
            check_number("part_size", part_size, minimum=S3_MIN_PART_SIZE, above_minimum=False, integer=True)
        check_positive("archive_timeout", archive_timeout)
        check_positive("archive_poke_interval", archive_poke_interval)
        self.files = files if is_templated(files) else checked_roles(files)
        self.source = source
        self.concurrency = concurrency
        self.part_size = part_size
        self.on_archived = on_archived
        self.archive_timeout = archive_timeout
        self.archive_poke_interval = archive_poke_interval

    @cached_property
    def transfer(self) -> Transfer:
        """The copy engine on the destination connection."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # loads boto3: not at DAG parse time

        from airflow_asf_ifg.client.transfer import Transfer

        destination = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
        owner = getattr(self, "_upload_owner", None)
        return Transfer(destination, part_size=self.part_size, concurrency=self.concurrency, owner=owner)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Copy every selected file; return one result per file."""
        self._upload_owner = upload_owner(context)
        self.files = checked_after_rendering(self.files, checked_roles)
        with permanent_errors_fail_the_task():  # a login, checksum, missing product or refused key: retrying is vain
            self.check_destination()
            granules = self.granule_list()
            # Before any source byte is read: a missing bucket would otherwise cost a whole download.
            check_bucket(self.transfer.destination, self.dest_bucket, self.aws_conn_id)
            return self._copy_all(context, granules)

    def _copy_all(self, context: Context, granules: list[Granule]) -> list[dict[str, Any]]:
        results = []
        for granule in granules:
            prefix = destination_prefix(self.dest_prefix, granule)
            chosen = [f for f in granule.files if f.role in self.files]
            if not chosen:
                self.log.warning(
                    "%s has no %s file(s) with a URL; nothing to copy", granule.granule_ur, "/".join(self.files)
                )
            for product in chosen:
                result = self._copy(granule, product, object_key(prefix, product))
                results.append({**result.to_dict(), "granule_ur": granule.granule_ur, "concept_id": granule.concept_id})
                if result.status == "copied":
                    self.record_written(
                        context,
                        granule,
                        result.source,
                        result.bucket,
                        result.key,
                        size=result.size,
                        checksum=result.checksum,
                        checksum_algorithm=result.checksum_algorithm,
                    )
        copied = sum(r["status"] == "copied" for r in results)
        self.log.info(
            "%d file(s) copied, %d skipped, %d bytes written",
            copied,
            len(results) - copied,
            sum(r["bytes"] for r in results),
        )
        return results

    def _copy(self, granule: Granule, product: ProductFile, key: str) -> TransferResult:
        from airflow_asf_ifg.client.copy import copy_product

        try:
            return copy_product(
                self.transfer,
                granule,
                product,
                self.dest_bucket,
                key,
                asf_s3_client=self.asf.get_s3_client,
                earthdata_session=self.asf.earthdata.get_session,
                source=self.source,
            )
        except ProductArchivedError as error:
            return self._archived(granule, error)

    def _archived(self, granule: Granule, error: ProductArchivedError) -> TransferResult:
        if self.on_archived == "defer":
            # Wait in the triggerer for this granule's files, then run again: what was copied is skipped.
            targets = archive_targets([granule.to_dict()], self.files)
            self.log.info("%s; waiting for its retrieval in the triggerer", error)
            self.defer(
                trigger=AsfArchiveStatusTrigger(
                    targets=targets,
                    earthdata_conn_id=self.earthdata_conn_id,
                    poke_interval=self.archive_poke_interval,
                    max_interval=600.0,
                    deadline=time.time() + self.archive_timeout,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.archive_timeout),
            )
        raise AirflowFailException(
            f"{error}. Put AsfArchiveStatusSensor before this task: it requests the retrieval and waits in the "
            f"triggerer without holding a worker; or pass on_archived='defer'"
        ) from error

    def execute_complete(self, context: Context, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Back from waiting for an archived product: copy again (finished files are skipped)."""
        if event.get("status") != "success":
            raise AirflowFailException(
                f"waiting for the archived product failed ({event.get('status')}): "
                f"{event.get('message') or event.get('counts')}"
            )
        problem = outcome(event.get("products") or [], fail_on_missing=True)
        if problem:
            raise AirflowFailException(problem)
        return self.execute(context)
