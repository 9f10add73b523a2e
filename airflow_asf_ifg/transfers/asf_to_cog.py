"""AsfToCogOperator: one layer of each granule's product, read in place on S3, written as a COG into your bucket."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_asf_ifg.client.cog import GRFN_BUCKET, LAYERS, layer_member, write_cog
from airflow_asf_ifg.client.granule import Granule
from airflow_asf_ifg.client.s3 import parse_s3_url
from airflow_asf_ifg.compat import AirflowFailException
from airflow_asf_ifg.exceptions import AsfIfgError, InvalidInputError
from airflow_asf_ifg.failing import permanent_errors_fail_the_task
from airflow_asf_ifg.hooks import EARTHDATA_DEFAULT_CONN_ID
from airflow_asf_ifg.templates import is_templated
from airflow_asf_ifg.transfers.base import DEFAULT_PREFIX, GranuleTransferOperator, destination_prefix

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFAULT_ASSET_ALIAS = "asf-ifg-cogs"


class AsfToCogOperator(GranuleTransferOperator):
    """Write one layer of each granule's GRFN product as a Cloud-Optimized GeoTIFF into your bucket.

    The layer is read in place through GDAL (``/vsizip//vsis3/<bucket>/<zip>/<member>``, rasterio) with ASF's
    temporary keys, fetched again before they expire; only the zip's directory and the layer's bytes are
    read, not the whole product. Needs the ``gdal`` extra (``pip install 'airflow-asf-ifg[gdal]'``).

    :param granule: one granule dict (templated), e.g. ``.expand(granule=search.output)``.
    :param granules: a list of granule dicts (templated), instead of ``granule``.
    :param dest_bucket: the destination bucket (templated).
    :param dest_prefix: key prefix (templated) with ``{collection}``, ``{granule_ur}``, ``{concept_id}``.
    :param layer: ``amplitude``, ``unwrapped_phase`` or ``coherence`` (templated).
    :param source_bucket: ASF's bucket, for granules whose product has no ``s3://`` URL in CMR.
    :param aws_conn_id: the destination's ``aws`` connection.
    :param earthdata_conn_id: the ``earthdata`` connection.
    :param asset_alias: the AssetAlias that receives an asset event per COG.
    """

    template_fields: Sequence[str] = ("granule", "granules", "dest_bucket", "dest_prefix", "layer")
    ui_color = "#d6eaf8"

    def __init__(
        self,
        *,
        dest_bucket: str,
        granule: dict[str, Any] | None = None,
        granules: list[dict[str, Any]] | None = None,
        dest_prefix: str = DEFAULT_PREFIX,
        layer: str = "unwrapped_phase",
        source_bucket: str = GRFN_BUCKET,
        aws_conn_id: str | None = "aws_default",
        earthdata_conn_id: str = EARTHDATA_DEFAULT_CONN_ID,
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
        if not is_templated(layer) and layer not in LAYERS:
            raise InvalidInputError(f"layer {layer!r} is not one of {sorted(LAYERS)}")
        self.layer = layer
        self.source_bucket = source_bucket
        self._sessions: dict[str | None, Any] = {}

    def _session(self, endpoint: str | None) -> Any:
        """One boto3 session per credentials endpoint; its keys refresh themselves before they expire."""
        if endpoint not in self._sessions:
            self._sessions[endpoint] = self.asf.get_boto3_session(endpoint)
        return self._sessions[endpoint]

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Write the layer of every granule; return one result per COG."""
        with permanent_errors_fail_the_task():  # a bad granule dict or s3:// URL: retrying cannot help
            self.check_destination()
            results = [self._convert(context, granule) for granule in self.granule_list()]
        self.log.info("%d COG(s) of layer %s written to s3://%s", len(results), self.layer, self.dest_bucket)
        return results

    def _convert(self, context: Context, granule: Granule) -> dict[str, Any]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_asf_ifg.client.credentials import gdal_endpoint_options
        from airflow_asf_ifg.hooks.asf import AsfHook

        if not granule.data_files:
            raise AirflowFailException(f"{granule.granule_ur} has no data file in CMR")
        product = granule.data_files[0]
        bucket, key = parse_s3_url(product.s3_url or f"s3://{self.source_bucket}/{product.name}")
        try:
            member, band = layer_member(product.name, self.layer)
        except ValueError as error:
            raise AirflowFailException(str(error)) from error
        source = AsfHook.vsizip_path(bucket, key, member)
        dest_key = f"{destination_prefix(self.dest_prefix, granule)}{self.layer}.tif"
        self.log.info("%s band %d -> s3://%s/%s", source, band, self.dest_bucket, dest_key)
        with tempfile.TemporaryDirectory(prefix="asf-ifg-cog-") as folder:
            try:
                written = write_cog(
                    source,
                    band,
                    Path(folder) / "layer.tif",
                    gdal_endpoint_options(self.asf.earthdata.settings),
                    self._session(granule.s3_credentials_url),
                )
            except (AsfIfgError, ValueError) as error:
                raise AirflowFailException(f"{granule.granule_ur}: {error}") from error
            except Exception as error:  # rasterio's errors carry GDAL's message (403, archived, not found)
                raise AirflowFailException(
                    f"GDAL could not read {source}: {error}. If the product is in long-term storage, put "
                    f"AsfArchiveStatusSensor before this task"
                ) from error
            S3Hook(aws_conn_id=self.aws_conn_id).load_file(written.path, dest_key, self.dest_bucket, replace=True)
        result = {
            **written.to_dict(),
            "path": None,
            "bucket": self.dest_bucket,
            "key": dest_key,
            "layer": self.layer,
            "granule_ur": granule.granule_ur,
            "source": f"s3://{bucket}/{key}",
            "member": member,
        }
        self.record_written(
            context, granule, result["source"], self.dest_bucket, dest_key, layer=self.layer, size=written.size
        )
        return result
