"""AsfToS3Operator: copy a granule's files into the user's bucket, streaming, verified, resumable, idempotent."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import Asset, AssetAlias, BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_asf_ifg.client.destination import check_bucket
from airflow_asf_ifg.client.granule import Granule, ProductFile, check_source, checked_roles, reads_from_s3
from airflow_asf_ifg.exceptions import (
    AsfCredentialsError,
    ChecksumMismatchError,
    EarthdataLoginError,
    ProductArchivedError,
    ProductMissingError,
)
from airflow_asf_ifg.failing import configuration_errors_fail_the_task
from airflow_asf_ifg.hooks import EARTHDATA_DEFAULT_CONN_ID
from airflow_asf_ifg.sensors.archive import outcome
from airflow_asf_ifg.templates import checked_after_rendering, is_templated
from airflow_asf_ifg.triggers.archive import AsfArchiveStatusTrigger, archive_targets

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_asf_ifg.client.transfer import HttpsSource, S3Source, Transfer, TransferResult
    from airflow_asf_ifg.hooks.asf import AsfHook

ON_ARCHIVED = ("fail", "defer")
DEFAULT_ASSET_ALIAS = "asf-ifg-products"
DEFAULT_PREFIX = "{collection}/{granule_ur}/"


def destination_prefix(template: str, granule: Granule) -> str:
    """The key prefix for a granule: ``{collection}``, ``{granule_ur}``, ``{concept_id}`` filled in.

    :param template: e.g. ``{collection}/{granule_ur}/``.
    :param granule: the granule.
    """
    values = {"collection": granule.short_name or granule.collection_concept_id or "unknown-collection",
              "collection_concept_id": granule.collection_concept_id or "unknown-collection",
              "granule_ur": granule.granule_ur, "concept_id": granule.concept_id or granule.granule_ur}
    try:
        prefix = template.format(**values)
    except (KeyError, IndexError) as error:
        raise ValueError(f"dest_prefix {template!r} uses {error}; accepted placeholders: {sorted(values)}") from None
    return prefix.lstrip("/")


def alias_outlets(outlets: Any, asset_alias: str, granule: Any, granules: Any) -> list[Any]:
    """Check that a mappable operator got ``granule`` or ``granules``; return its outlets with the AssetAlias.

    :param outlets: the outlets the DAG gave.
    :param asset_alias: the alias that receives the asset events ('' for none).
    :param granule: the ``granule`` argument.
    :param granules: the ``granules`` argument.
    """
    if granule is None and granules is None:
        raise ValueError("give granule= (one granule dict) or granules= (a list of them)")
    chosen = list(outlets or [])
    if asset_alias and not any(isinstance(o, AssetAlias) and o.name == asset_alias for o in chosen):
        chosen.append(AssetAlias(asset_alias))
    return chosen


class AsfToS3Operator(BaseOperator):
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
    :param concurrency: parts fetched and uploaded at once (memory holds at most this many plus two, up to 128 MiB).
    :param part_size: multipart part size in bytes (raised to fit 10,000 parts).
    :param on_archived: ``fail`` or ``defer`` (wait in the triggerer, then copy).
    :param archive_timeout: with ``defer``, seconds to wait for a retrieval before failing.
    :param archive_poke_interval: with ``defer``, seconds between status polls at first.
    :param asset_alias: the AssetAlias that receives an asset event per written object.
    """

    template_fields: Sequence[str] = ("granule", "granules", "dest_bucket", "dest_prefix", "files")
    template_fields_renderers = {"granule": "json", "granules": "json"}
    ui_color = "#d5f5e3"

    def __init__(self, *, dest_bucket: str, granule: dict[str, Any] | None = None,
                 granules: list[dict[str, Any]] | None = None, dest_prefix: str = DEFAULT_PREFIX,
                 files: Sequence[str] = ("data",), source: str = "auto", aws_conn_id: str | None = "aws_default",
                 earthdata_conn_id: str = EARTHDATA_DEFAULT_CONN_ID, concurrency: int = 8,
                 part_size: int | None = None, on_archived: str = "fail", archive_timeout: float = 6 * 3600,
                 archive_poke_interval: float = 60.0, asset_alias: str = DEFAULT_ASSET_ALIAS, **kwargs: Any) -> None:
        super().__init__(outlets=alias_outlets(kwargs.pop("outlets", None), asset_alias, granule, granules), **kwargs)
        check_source(source)
        if on_archived not in ON_ARCHIVED:
            raise ValueError(f"on_archived {on_archived!r} is not one of {ON_ARCHIVED}")
        if concurrency < 1:
            raise ValueError(f"concurrency {concurrency} must be at least 1")
        self.granule = granule
        self.granules = granules
        self.dest_bucket = dest_bucket
        self.dest_prefix = dest_prefix
        self.files = files if is_templated(files) else checked_roles(files)
        self.source = source
        self.aws_conn_id = aws_conn_id
        self.earthdata_conn_id = earthdata_conn_id
        self.concurrency = concurrency
        self.part_size = part_size
        self.on_archived = on_archived
        self.archive_timeout = archive_timeout
        self.archive_poke_interval = archive_poke_interval
        self.asset_alias = asset_alias
        self._written: list[TransferResult] = []

    @cached_property
    def asf(self) -> AsfHook:
        """Source side: temporary keys and the Earthdata session."""
        from airflow_asf_ifg.hooks.asf import AsfHook  # hooks and the copy engine load boto3: not at parse time

        return AsfHook(self.earthdata_conn_id)

    @cached_property
    def transfer(self) -> Transfer:
        """The copy engine on the destination connection."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_asf_ifg.client.transfer import Transfer

        destination = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
        return Transfer(destination, part_size=self.part_size, concurrency=self.concurrency)

    def _granule_list(self) -> list[Granule]:
        documents = [self.granule] if self.granule is not None else list(self.granules or [])
        try:
            return [Granule.from_dict(document) for document in documents]
        except (TypeError, ValueError) as error:
            raise AirflowFailException(f"not a granule dict (as CmrSearchOperator returns): {error}") from error

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Copy every selected file; return one result per file."""
        self.files = checked_after_rendering(self.files, checked_roles)
        granules = self._granule_list()
        with configuration_errors_fail_the_task():
            # Before any source byte is read: a missing bucket would otherwise cost a whole download.
            check_bucket(self.transfer.destination, self.dest_bucket, self.aws_conn_id)
            return self._copy_all(context, granules)

    def _copy_all(self, context: Context, granules: list[Granule]) -> list[dict[str, Any]]:
        results = []
        for granule in granules:
            prefix = destination_prefix(self.dest_prefix, granule)
            chosen = [f for f in granule.files if f.role in self.files]
            if not chosen:
                self.log.warning("%s has no %s file(s) with a URL; nothing to copy", granule.granule_ur,
                                 "/".join(self.files))
            for product in chosen:
                result = self._copy(granule, product, f"{prefix}{product.name}")
                results.append({**result.to_dict(), "granule_ur": granule.granule_ur,
                                "concept_id": granule.concept_id})
                if result.status == "copied":
                    self._written.append(result)
                    self._emit(context, granule, result)
        copied = sum(r["status"] == "copied" for r in results)
        self.log.info("%d file(s) copied, %d skipped, %d bytes written", copied, len(results) - copied,
                      sum(r["bytes"] for r in results))
        return results

    def _copy(self, granule: Granule, product: ProductFile, key: str) -> TransferResult:
        from botocore.exceptions import ClientError

        from airflow_asf_ifg.client.credentials import explain_s3_error
        from airflow_asf_ifg.client.transfer import HttpsSource, S3Source

        metadata = {"asf-concept-id": granule.concept_id or "", "asf-granule-ur": granule.granule_ur}
        use_s3 = reads_from_s3(product.url, product.s3_url, self.source)
        if use_s3 and not product.s3_url:
            raise AirflowFailException(f"{product.name} has no s3:// URL in CMR; use source='https' or 'auto'")
        if not use_s3 and not product.url:
            raise AirflowFailException(f"{product.name} has no HTTPS URL in CMR; use source='s3' or 'auto'")
        try:
            inside = self._readable_by_destination(product.s3_url) if use_s3 else None
            if inside is not None:  # one identity reads and writes: copy inside S3, no bytes through here
                source: S3Source | HttpsSource = S3Source(self.transfer.destination, *inside)
            elif use_s3:
                source = self._s3_source(granule, product)
            else:
                source = HttpsSource(self.asf.earthdata.get_session(), product.url or "")
            return self.transfer.copy(source, self.dest_bucket, key, size=product.size_bytes,
                                      checksum=product.checksum, checksum_algorithm=product.checksum_algorithm,
                                      metadata=metadata, server_side_from=inside)
        except ProductArchivedError as error:
            return self._archived(granule, error)
        except (ChecksumMismatchError, ProductMissingError, EarthdataLoginError) as error:
            raise AirflowFailException(str(error)) from error
        except ClientError as error:
            explained = explain_s3_error(error, self.asf.region_for(granule.s3_credentials_url), product.s3_url)
            if isinstance(explained, AsfCredentialsError) and use_s3:
                raise AirflowFailException(str(explained)) from error
            raise

    def _readable_by_destination(self, s3_url: str | None) -> tuple[str, str] | None:
        """(bucket, key) when the destination's own identity can read the source object, else None."""
        from botocore.exceptions import ClientError

        bucket, _, key = (s3_url or "").removeprefix("s3://").partition("/")
        try:
            self.transfer.destination.head_object(Bucket=bucket, Key=key)
        except ClientError:
            return None  # ASF's buckets refuse other identities: read them with ASF's keys
        return bucket, key

    def _s3_source(self, granule: Granule, product: ProductFile) -> S3Source:
        from airflow_asf_ifg.client.transfer import S3Source

        bucket, _, key = (product.s3_url or "").removeprefix("s3://").partition("/")
        client = self.asf.get_s3_client(granule.s3_credentials_url)
        return S3Source(client, bucket, key)

    def _archived(self, granule: Granule, error: ProductArchivedError) -> TransferResult:
        if self.on_archived == "defer":
            # Wait in the triggerer for this granule's files, then run again: what was copied is skipped.
            targets = archive_targets([granule.to_dict()], self.files)
            self.log.info("%s; waiting for its retrieval in the triggerer", error)
            self.defer(trigger=AsfArchiveStatusTrigger(
                targets=targets, earthdata_conn_id=self.earthdata_conn_id, poke_interval=self.archive_poke_interval,
                max_interval=600.0, deadline=time.time() + self.archive_timeout),
                method_name="execute_complete", timeout=timedelta(seconds=self.archive_timeout))
        raise AirflowFailException(
            f"{error}. Put AsfArchiveStatusSensor before this task: it requests the retrieval and waits in the "
            f"triggerer without holding a worker; or pass on_archived='defer'") from error

    def execute_complete(self, context: Context, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Back from waiting for an archived product: copy again (finished files are skipped)."""
        if event.get("status") != "success":
            raise AirflowFailException(f"waiting for the archived product failed ({event.get('status')}): "
                                       f"{event.get('message') or event.get('counts')}")
        problem = outcome(event.get("products") or [], fail_on_missing=True)
        if problem:
            raise AirflowFailException(problem)
        return self.execute(context)

    def _emit(self, context: Context, granule: Granule, result: TransferResult) -> None:
        if not self.asset_alias:
            return
        extra = {"concept_id": granule.concept_id, "granule_ur": granule.granule_ur, "size": result.size,
                 "checksum": result.checksum, "checksum_algorithm": result.checksum_algorithm,
                 "source": result.source}
        context["outlet_events"][AssetAlias(self.asset_alias)].add(
            Asset(f"s3://{result.bucket}/{result.key}"), extra=extra)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the sources read and the objects written by this run."""
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        inputs, outputs = [], []
        for result in self._written:
            parts = urlsplit(result.source)
            inputs.append(Dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path.lstrip("/")))
            outputs.append(Dataset(namespace=f"s3://{result.bucket}", name=result.key))
        return OperatorLineage(inputs=inputs, outputs=outputs)
