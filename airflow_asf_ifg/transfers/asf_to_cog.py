"""AsfToCogOperator: one layer of each granule's product, read in place on S3, written as a COG into your bucket."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, AssetAlias, BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_asf_ifg.client.cog import GRFN_BUCKET, LAYERS, layer_member, write_cog
from airflow_asf_ifg.client.granule import Granule
from airflow_asf_ifg.exceptions import AsfIfgError
from airflow_asf_ifg.hooks import EARTHDATA_DEFAULT_CONN_ID
from airflow_asf_ifg.templates import is_templated
from airflow_asf_ifg.transfers.asf_to_s3 import DEFAULT_PREFIX, alias_outlets, destination_prefix

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_asf_ifg.hooks.asf import AsfHook

DEFAULT_ASSET_ALIAS = "asf-ifg-cogs"


class AsfToCogOperator(BaseOperator):
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
    template_fields_renderers = {"granule": "json", "granules": "json"}
    ui_color = "#d6eaf8"

    def __init__(self, *, dest_bucket: str, granule: dict[str, Any] | None = None,
                 granules: list[dict[str, Any]] | None = None, dest_prefix: str = DEFAULT_PREFIX,
                 layer: str = "unwrapped_phase", source_bucket: str = GRFN_BUCKET,
                 aws_conn_id: str | None = "aws_default", earthdata_conn_id: str = EARTHDATA_DEFAULT_CONN_ID,
                 asset_alias: str = DEFAULT_ASSET_ALIAS, **kwargs: Any) -> None:
        super().__init__(outlets=alias_outlets(kwargs.pop("outlets", None), asset_alias, granule, granules), **kwargs)
        if not is_templated(layer) and layer not in LAYERS:
            raise ValueError(f"layer {layer!r} is not one of {sorted(LAYERS)}")
        self.granule = granule
        self.granules = granules
        self.dest_bucket = dest_bucket
        self.dest_prefix = dest_prefix
        self.layer = layer
        self.source_bucket = source_bucket
        self.aws_conn_id = aws_conn_id
        self.earthdata_conn_id = earthdata_conn_id
        self.asset_alias = asset_alias
        self._sessions: dict[str | None, Any] = {}
        self._written: list[dict[str, Any]] = []

    @cached_property
    def asf(self) -> AsfHook:
        """Source side: temporary keys and GDAL options."""
        from airflow_asf_ifg.hooks.asf import AsfHook  # hooks load boto3: not at DAG parse time

        return AsfHook(self.earthdata_conn_id)

    def _session(self, endpoint: str | None) -> Any:
        """One boto3 session per credentials endpoint; its keys refresh themselves before they expire."""
        if endpoint not in self._sessions:
            self._sessions[endpoint] = self.asf.get_boto3_session(endpoint)
        return self._sessions[endpoint]

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Write the layer of every granule; return one result per COG."""
        documents = [self.granule] if self.granule is not None else list(self.granules or [])
        try:
            granules = [Granule.from_dict(document) for document in documents]
        except (TypeError, ValueError) as error:
            raise AirflowFailException(f"not a granule dict (as CmrSearchOperator returns): {error}") from error
        results = [self._convert(context, granule) for granule in granules]
        self.log.info("%d COG(s) of layer %s written to s3://%s", len(results), self.layer, self.dest_bucket)
        return results

    def _convert(self, context: Context, granule: Granule) -> dict[str, Any]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_asf_ifg.client.credentials import gdal_endpoint_options
        from airflow_asf_ifg.hooks.asf import AsfHook

        if not granule.data_files:
            raise AirflowFailException(f"{granule.granule_ur} has no data file in CMR")
        product = granule.data_files[0]
        bucket, _, key = (product.s3_url or f"s3://{self.source_bucket}/{product.name}").removeprefix(
            "s3://").partition("/")
        try:
            member, band = layer_member(product.name, self.layer)
        except ValueError as error:
            raise AirflowFailException(str(error)) from error
        source = AsfHook.vsizip_path(bucket, key, member)
        dest_key = f"{destination_prefix(self.dest_prefix, granule)}{self.layer}.tif"
        self.log.info("%s band %d -> s3://%s/%s", source, band, self.dest_bucket, dest_key)
        with tempfile.TemporaryDirectory(prefix="asf-ifg-cog-") as folder:
            try:
                written = write_cog(source, band, Path(folder) / "layer.tif",
                                    gdal_endpoint_options(self.asf.earthdata.settings),
                                    self._session(granule.s3_credentials_url))
            except (AsfIfgError, ValueError) as error:
                raise AirflowFailException(f"{granule.granule_ur}: {error}") from error
            except Exception as error:  # rasterio's errors carry GDAL's message (403, archived, not found)
                raise AirflowFailException(
                    f"GDAL could not read {source}: {error}. If the product is in long-term storage, put "
                    f"AsfArchiveStatusSensor before this task") from error
            S3Hook(aws_conn_id=self.aws_conn_id).load_file(written.path, dest_key, self.dest_bucket, replace=True)
        result = {**written.to_dict(), "path": None, "bucket": self.dest_bucket, "key": dest_key, "layer": self.layer,
                  "granule_ur": granule.granule_ur, "source": f"s3://{bucket}/{key}", "member": member}
        self._written.append(result)
        if self.asset_alias:
            context["outlet_events"][AssetAlias(self.asset_alias)].add(
                Asset(f"s3://{self.dest_bucket}/{dest_key}"),
                extra={"granule_ur": granule.granule_ur, "concept_id": granule.concept_id, "layer": self.layer,
                       "source": result["source"], "size": written.size})
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the products read and the COGs written by this run."""
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        inputs = [Dataset(namespace=f"s3://{r['source'].split('/')[2]}", name=r["source"].split("/", 3)[3])
                  for r in self._written]
        outputs = [Dataset(namespace=f"s3://{r['bucket']}", name=r["key"]) for r in self._written]
        return OperatorLineage(inputs=inputs, outputs=outputs)
