"""AsfToCogOperator in real Airflow (``dag.test()``): one layer per granule, read in place, a COG per granule."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from airflow_asf_ifg.client.cog import layer_member, rasterio_env
from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET
from airflow_asf_ifg.transfers.asf_to_cog import AsfToCogOperator
from tests.cli.conftest import tool
from tests.conftest import task_states, xcom_value
from tests.sandbox.helpers import empty_bucket
from tests.transfers.test_asf_to_s3 import WHEN, asset_events, restore_everything

DEST = "cog-dest"
# GDAL reads the zips on s3:// with the 2018 door's /door/credentials keys (410 today).
pytestmark = pytest.mark.asf_sandbox(era="2018")
DAG_SOURCE = """
from datetime import datetime
from airflow.sdk import DAG
from airflow_asf_ifg.operators.cmr import CmrSearchOperator
from airflow_asf_ifg.transfers.asf_to_cog import AsfToCogOperator

with DAG("__DAG_ID__", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
    search = CmrSearchOperator(task_id="search", collection_concept_id="C1379535600-ASF", temporal=(None, None),
                               aoi=(-118.1445, 34.1478))
    AsfToCogOperator.partial(task_id="cog", dest_bucket="cog-dest", layer="{layer}").expand(granule=search.output)
"""


@pytest.fixture
def destination(asf_sandbox, asf_sandbox_connections, asf_sandbox_settings):
    client = empty_bucket(asf_sandbox, DEST)
    restore_everything(asf_sandbox)
    return client


def served(asf_sandbox) -> dict[str, int]:
    return requests.get(f"{asf_sandbox.urls.sandbox}/__sandbox__/stats", timeout=10).json()["bytes_served"]


class TestAsfToCogOperator:
    def test_mapped_over_a_search_reads_a_fraction_and_writes_cogs(
        self, dag_from_source, asf_sandbox, destination, tmp_path
    ):
        requests.post(f"{asf_sandbox.urls.sandbox}/__sandbox__/stats/reset", timeout=10)
        dag_run = dag_from_source(DAG_SOURCE.replace("{layer}", "unwrapped_phase")).test(logical_date=WHEN)
        states = task_states(dag_run)
        mapped = sorted(k for k in states if k.startswith("cog["))
        assert mapped and all(states[k] == "success" for k in mapped), states
        results = [xcom_value(dag_run, "cog", map_index=i)[0] for i in range(len(mapped))]
        sizes = {f["name"]: f["size"] for g in asf_sandbox.catalogue_document() for f in g["files"]}
        read = served(asf_sandbox)
        for result in results:
            zip_name = result["source"].rsplit("/", 1)[1]
            # The layer's own bytes plus a fixed cost: GDAL's zip reader scans the last 64 KiB or so for the
            # central directory (and a zip64 locator). Never the whole product; benchmarks/layer_to_cog.py
            # shows the fraction on a large one.
            layer_bytes = 4 * result["width"] * result["height"]
            assert layer_bytes <= read[f"{PRODUCT_BUCKET}/{zip_name}"] <= layer_bytes + 128 * 1024
            assert read[f"{PRODUCT_BUCKET}/{zip_name}"] < sizes[zip_name]
            local = tmp_path / f"{result['granule_ur']}.tif"
            destination.download_file(DEST, result["key"], str(local))
            info = json.loads(
                subprocess.run(
                    [tool("gdalinfo"), "-json", "-stats", str(local)], capture_output=True, text=True, check=True
                ).stdout
            )
            assert info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"] == "COG"
            assert info["metadata"]["IMAGE_STRUCTURE"]["COMPRESSION"] == "DEFLATE"
            assert info["size"] == [result["width"], result["height"]] and len(info["bands"]) == 1
            assert info["bands"][0]["description"] == "unwrapped_phase"
            assert 'ID["EPSG",4326]' in info["coordinateSystem"]["wkt"]
            assert result["key"].endswith(f"/{result['granule_ur']}/unwrapped_phase.tif")
        assert sorted(uri for uri, _ in asset_events(dag_run)) == sorted(f"s3://{DEST}/{r['key']}" for r in results)
        assert {extra["layer"] for _, extra in asset_events(dag_run)} == {"unwrapped_phase"}

    def test_the_cog_holds_the_sources_values(self, asf_sandbox, asf_sandbox_connections, destination, tmp_path):
        import numpy
        import rasterio

        from airflow_asf_ifg.hooks.asf import AsfHook

        product = next(
            f for g in asf_sandbox.catalogue_document() for f in g["files"] if f["name"].endswith(".unw_geo.zip")
        )
        granule = {"granule_ur": product["name"], "files": [{"name": product["name"], "role": "data"}]}
        operator = AsfToCogOperator(task_id="cog", dest_bucket=DEST, granule=granule, layer="coherence", asset_alias="")
        result = operator.execute({})[0]
        local = tmp_path / "coherence.tif"
        destination.download_file(DEST, result["key"], str(local))
        member, band = layer_member(product["name"], "coherence")
        hook = AsfHook()
        with (
            rasterio_env(hook.gdal_config()),
            rasterio.open(hook.vsizip_path(PRODUCT_BUCKET, product["name"], member)) as source,
        ):
            expected = source.read(band)
        with rasterio.open(local) as cog:
            assert numpy.array_equal(cog.read(1), expected)
            assert cog.overviews(1) or max(cog.width, cog.height) <= 512

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            pytest.param({"granule": {}, "layer": "phase"}, "layer 'phase' is not one of", id="layer"),
            pytest.param({}, "give granule=", id="no-granule"),
            pytest.param(
                {"granule": {}, "dest_bucket": "B"}, "dest_bucket 'B' is not a valid S3 bucket name", id="bucket"
            ),
            pytest.param({"granule": {}, "dest_prefix": "../"}, "dest_prefix '../' starts with", id="prefix"),
        ],
    )
    def test_bad_arguments(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            AsfToCogOperator(task_id="t", **({"dest_bucket": "cog-dest"} | kwargs))

    def test_a_netcdf_product_is_refused_with_the_reason(self, asf_sandbox, asf_sandbox_connections, destination):
        from airflow_asf_ifg.compat import AirflowFailException

        granule = {"granule_ur": "G", "files": [{"name": "S1-GUNW-x.nc", "role": "data"}]}
        with pytest.raises(AirflowFailException, match="is not a GRFN product zip"):
            AsfToCogOperator(task_id="t", dest_bucket=DEST, granule=granule, asset_alias="").execute({})
