"""The extra links of the sensors and copies: ASF's search of their products, CMR's records of their granules."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from airflow_asf_ifg.links import MAX_LINKED_PRODUCTS, AsfSearchLink, CmrRecordsLink, asf_search_url
from airflow_asf_ifg.sensors.archive import AsfArchiveStatusSensor
from airflow_asf_ifg.transfers.asf_to_s3 import AsfToS3Operator

GRANULES = [
    {
        "granule_ur": "S1-GUNW-A-R-061-tops-20211128_20211110-025325-00119W_00033N-PP-4284-v3_0_1",
        "concept_id": "G1-ASF",
    },
    {
        "granule_ur": "S1-GUNW-A-R-061-tops-20211128_20211122-025325-00119W_00033N-PP-2909-v3_0_1",
        "concept_id": "G2-ASF",
    },
]


def vertex_list(url: str) -> list[str]:
    """The product names in a Vertex list-search URL."""
    fragment = urlsplit(url).fragment  # Vertex keeps its query after "#/"
    query = parse_qs(fragment.split("?", 1)[1])
    assert query["searchType"] == ["List Search"]
    return query["searchList"][0].split(",")


class TestLinks:
    def test_a_copy_links_to_its_granule_in_asf_search_and_cmr(self, airflow_db, asf_sandbox_connections, asf_sandbox):
        copy = AsfToS3Operator(task_id="copy", dest_bucket="my-bucket", granule=GRANULES[0])
        url = AsfSearchLink().get_link(copy, ti_key=None)
        assert url.startswith("https://search.asf.alaska.edu/#/?") and vertex_list(url) == [GRANULES[0]["granule_ur"]]
        records = CmrRecordsLink().get_link(copy, ti_key=None)
        assert records == f"{asf_sandbox.urls.cmr}/search/granules.umm_json?concept_id=G1-ASF"  # the connection's CMR

    def test_a_sensor_links_to_every_product_it_waits_for(self):
        sensor = AsfArchiveStatusSensor(task_id="wait", granules=GRANULES)
        assert vertex_list(AsfSearchLink().get_link(sensor, ti_key=None)) == [g["granule_ur"] for g in GRANULES]
        by_name = AsfArchiveStatusSensor(task_id="wait", names=["a/S1-IFG_RM_M1D_x.full_res.zip", "b.nc"])
        assert vertex_list(AsfSearchLink().get_link(by_name, ti_key=None)) == ["S1-IFG_RM_M1D_x", "b"]
        assert CmrRecordsLink().get_link(by_name, ti_key=None) == ""  # names alone carry no concept ids

    def test_a_long_list_is_cut_to_what_asf_search_takes(self):
        assert len(vertex_list(asf_search_url([f"P{i}" for i in range(500)]))) == MAX_LINKED_PRODUCTS
        assert asf_search_url([]) == ""
