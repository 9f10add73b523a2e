"""Granule parsing, field by field, of every real CMR sample in shared/reference/samples, and XCom round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from airflow_asf_ifg.client.granule import Granule, ProductFile, check_key_prefix, file_name, safe_file_name
from airflow_asf_ifg.exceptions import InvalidInputError

# Verbatim public CMR fixtures (provenance in SOURCES.md beside them), copied from shared/reference/samples.
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"


def sample(name: str):
    text = (SAMPLES / name).read_text()
    return json.loads(text) if name.endswith((".json", ".umm_json")) else yaml.safe_load(text)


def cassette_bodies(name: str) -> list[dict]:
    return [
        json.loads(i["response"]["body"]["string"])
        for i in sample(name)["interactions"]
        if i["response"]["body"]["string"].startswith("{")
    ]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


class TestAsfSamples:
    def test_aria_s1_gunw_item(self):
        document = sample("asf_search__ARIAS1-GUNW_response.yml")
        granule = Granule.from_umm({"meta": document["meta"], "umm": document["umm"]})
        name = "S1-GUNW-A-R-035-tops-20240816_20230717-020815-00124W_00037N-PP-cf9c-v3_0_1"
        assert granule.concept_id == "G3240626260-ASF"
        assert granule.granule_ur == name
        assert granule.collection_concept_id == "C2859376221-ASF"
        assert (granule.short_name, granule.version) == ("ARIA_S1_GUNW", "1")
        assert granule.revision_date == datetime(2024, 9, 16, 22, 41, 27, 238000, tzinfo=UTC)
        assert granule.start == utc(2024, 8, 16, 2, 7, 49)
        assert granule.end == utc(2024, 8, 16, 2, 8, 41)
        assert granule.footprint["type"] == "Polygon"
        ring = granule.footprint["coordinates"][0]
        assert ring[0] == [-123.7455988640273, 37.312559137129604] and ring[0] == ring[-1] and len(ring) == 21
        assert [f.name for f in granule.files] == [f"{name}.nc", f"{name}.png"]  # the .json has no URL
        product = granule.files[0]
        assert product == ProductFile(
            name=f"{name}.nc",
            role="data",
            url=f"https://grfn.asf.alaska.edu/door/download/{name}.nc",
            s3_url=None,
            size_bytes=136887876,
            checksum="1da292d57037f6a3aabcbe2f0e513a5b",
            checksum_algorithm="MD5",
        )
        assert granule.files[1].role == "browse" and granule.files[1].size_bytes == 519881
        assert granule.browse_urls == [f"https://grfn-public-prod.asf.alaska.edu/{name}.png"]
        assert granule.s3_credentials_url is None
        assert granule.attributes["PATH_NUMBER"] == ["35"]
        assert granule.attributes["ASCENDING_DESCENDING"] == ["ascending"]
        assert granule.attributes["WEATHER_MODEL"] == ["HRRR"]
        assert granule.platforms == ["Sentinel-1A"]

    def test_grfn_ingest_bare_umm_g(self):
        granule = Granule.from_umm(sample("grfn-ingest__granule1.granule.umm.json"))
        name = "S1-GUNW-D-R-123-tops-20240212_20240107-032647-00038E_00036N-PP-2e78-v3_0_0"
        assert granule.granule_ur == name
        assert granule.concept_id is None and granule.collection_concept_id is None  # a posted document
        assert granule.revision_date == utc(2024, 3, 2, 22, 12, 36)  # ProviderDates "Update"
        assert granule.start == datetime(2024, 2, 12, 3, 26, 21, 285000, tzinfo=UTC)
        assert granule.files[0].url == f"https://grfn-test.asf.alaska.edu/door/download/{name}.nc"
        assert granule.files[0].size_bytes == 456 and granule.files[0].checksum is None
        assert granule.attributes["FRAME_NUMBER"] == ["19116"]
        assert len(granule.footprint["coordinates"][0]) == 21

    def test_sentinel1_slc_with_s3_link_typed_get_data(self):
        document = sample("asf_search__Fairbanks_SLC.yml")
        granule = Granule.from_umm({"meta": document["meta"], "umm": document["umm"]})
        name = "S1B_IW_SLC__1SDV_20210102T032031_20210102T032058_024970_02F8C3_C081"
        assert granule.concept_id == "G1989758351-ASF"
        assert granule.producer_granule_id == name
        product = granule.data_files[0]
        assert product.name == f"{name}.zip"
        assert product.url == f"https://datapool.asf.alaska.edu/SLC/SB/{name}.zip"
        assert product.s3_url == f"s3://asf-ngap2w-p-s1-slc-7b420b89/{name}.zip"
        assert product.size_bytes == round(3999.446469306946 * 1024 * 1024)  # Size + SizeUnit "MB"

    def test_alos2_cumulus_item_with_s3credentials(self):
        document = sample("asf_search__ALOS_2.yml")
        granule = Granule.from_umm({"meta": document["meta"], "umm": document["umm"]})
        assert granule.s3_credentials_url == "https://cumulus.asf.earthdatacloud.nasa.gov/s3credentials"
        product = granule.data_files[0]
        assert product.name == "ALOS2478123150-230331-WBDR1.1__D.zip"
        assert product.s3_url == "s3://asf-cumulus-prod-alos2-products/ALOS2478123150-230331-WBDR1.1__D.zip"
        assert product.url.startswith("https://cumulus.asf.earthdatacloud.nasa.gov/")
        assert (product.size_bytes, product.checksum) == (60018405388, "0f558597e19d964f24ca3a4bff11696c")
        assert granule.producer_granule_id == "ALOS2478123150-230331"

    def test_collection_records_are_refused(self):
        item = sample("asf_search__S1_Interferogram_beta_cmr_collections.umm_json")["items"][0]
        with pytest.raises(ValueError, match="not a UMM-G record: no GranuleUR"):
            Granule.from_umm(item)


class TestOtherSamples:
    def test_umm_json_and_atom_json_of_one_granule_agree(self):
        from_umm = Granule.from_umm(sample("earthaccess__G1593453400-LAADS_umm.json")["items"][0])
        from_json = Granule.from_json_entry(sample("earthaccess__G1593453400-LAADS.json")["feed"]["entry"][0])
        for name in ("concept_id", "granule_ur", "start", "end"):
            assert getattr(from_umm, name) == getattr(from_json, name), name
        assert from_json.concept_id == "G1593453400-LAADS"
        assert from_json.collection_concept_id == "C203234523-LAADS"
        assert from_umm.collection_concept_id is None  # this older meta block has no collection-concept-id
        assert from_json.producer_granule_id == "MYD021KM.A2019051.0430.006.2019051235515.hdf"
        assert from_json.data_files[0].url == from_umm.data_files[0].url
        assert from_json.data_files[0].size_bytes == round(65.8373498916626 * 1024 * 1024)
        ring = from_json.footprint["coordinates"][0]
        assert ring[0] == [-51.923123, 62.328467]  # Atom writes "lat lon"; GeoJSON is lon, lat

    def test_earthaccess_cassette_with_bounding_rectangles_and_s3(self):
        body = cassette_bodies("earthaccess__TestResults.test_data_links.yaml")[-1]
        granule = Granule.from_umm(body["items"][0])
        assert granule.concept_id == "G2546526969-POCLOUD"
        assert granule.footprint["type"] == "MultiPolygon" and len(granule.footprint["coordinates"]) == 2
        data = granule.data_files[0]
        assert data.name == "ssh_grids_v2205_2020010212.nc"
        assert data.s3_url.startswith("s3://podaac-ops-cumulus-protected/")
        assert (data.size_bytes, data.checksum) == (9695609, "9002febf17632e5921eba5b8f62237e6")
        metadata = [f for f in granule.files if f.role == "metadata"]
        assert [f.name for f in metadata] == ["ssh_grids_v2205_2020010212.nc.md5"]
        assert granule.s3_credentials_url == "https://archive.podaac.earthdata.nasa.gov/s3credentials"

    def test_python_cmr_atom_pages(self):
        pages = cassette_bodies("python_cmr__TestMultipleQueries.test_results.yaml")
        granules = [Granule.from_json_entry(entry) for page in pages for entry in page["feed"]["entry"]]
        assert len(granules) == 163  # the cassette's CMR-Hits
        assert len({g.concept_id for g in granules}) == 163
        assert all(g.start is not None and g.granule_ur for g in granules)
        assert pages[-1]["feed"]["entry"] == []

    def test_python_cmr_umm_pages(self):
        pages = cassette_bodies("python_cmr__TestMultipleQueries.test_results_unparsed_format.yaml")
        granules = [Granule.from_umm(item) for page in pages for item in page["items"]]
        assert len(granules) == 2 * len(pages)
        assert all(g.concept_id.endswith("-LAADS") and g.data_files for g in granules)

    def test_zero_hits(self):
        pages = cassette_bodies("python_cmr__TestMultipleQueries.test_zero_hits_query.yaml")
        assert [Granule.from_json_entry(e) for page in pages for e in page["feed"]["entry"]] == []


class TestRoundTrip:
    @pytest.mark.parametrize(
        "name", ["asf_search__ARIAS1-GUNW_response.yml", "asf_search__ALOS_2.yml", "asf_search__Fairbanks_SLC.yml"]
    )
    def test_to_dict_survives_json(self, name):
        document = sample(name)
        granule = Granule.from_umm({"meta": document["meta"], "umm": document["umm"]})
        through_xcom = json.loads(json.dumps(granule.to_dict()))
        assert Granule.from_dict(through_xcom) == granule

    def test_from_dict_refuses_strangers(self):
        with pytest.raises(ValueError, match="unknown keys \\['bogus'\\]"):
            Granule.from_dict({"granule_ur": "x", "bogus": 1})
        with pytest.raises(ValueError, match="granule_ur is missing"):
            Granule.from_dict({})


class TestSafeFileName:
    @pytest.mark.parametrize("name", ["S1-GUNW-A-R-064-tops-20180101-v2_0_4.nc", "a.b.zip", "x"])
    def test_plain_names_pass(self, name):
        assert safe_file_name(name) == name

    @pytest.mark.parametrize(
        "url",
        [
            "https://host/x/..%2F..%2Fescaped.txt",
            "https://host/x/..%5Cescaped.txt",
            "https://host/x/%2E%2E",
            "https://host/x/.bashrc",
            "https://host/x/a%00b.zip",
            "https://host/x/",
        ],
        ids=["slash", "backslash", "dotdot", "leading-dot", "nul", "empty"],
    )
    def test_names_that_climb_out_are_refused(self, url):
        with pytest.raises(InvalidInputError, match=r"refused|names no file"):
            safe_file_name(file_name(url), url)


class TestCheckKeyPrefix:
    @pytest.mark.parametrize("prefix", ["", "a/b/", "ARIA_S1_GUNW/G-UR/", "a..b/"])
    def test_relative_prefixes_pass(self, prefix):
        assert check_key_prefix(prefix) == prefix

    @pytest.mark.parametrize("prefix", ["../../", "/abs/", "a/../b/", "a/./b", "\\x", "a\0b"])
    def test_prefixes_that_climb_or_start_at_the_root_are_refused(self, prefix):
        with pytest.raises(InvalidInputError, match="dest_prefix"):
            check_key_prefix(prefix)
