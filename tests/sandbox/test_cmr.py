"""The sandbox's CMR over HTTP: formats, parameters, spatial matching, Search-After paging and errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests

from airflow_asf_ifg.sandbox.catalogue import PASADENA

GUNW = "C2859376221-ASF"
BETA = ("C1379535891-ASF", "C1379522387-ASF", "C1379535600-ASF")


@pytest.fixture
def cmr(asf_sandbox):
    """Call a CMR search path with GET (or POST) and return the response."""

    def call(path: str, params=None, method: str = "GET", headers=None) -> requests.Response:
        url = f"{asf_sandbox.urls.cmr}/search/{path}"
        if method == "POST":
            return requests.post(url, data=params, headers=headers, timeout=30)
        return requests.get(url, params=params, headers=headers, timeout=30)

    return call


def catalogue_items(sandbox, collection: str) -> list[dict]:
    return [g for g in sandbox.catalogue_document() if g["collection_concept_id"] == collection]


class TestGranuleFormats:
    def test_umm_json_is_shaped_like_cmr(self, cmr, asf_sandbox):
        response = cmr("granules.umm_json", {"collection_concept_id": GUNW, "page_size": 2})
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/vnd.nasa.cmr.umm_results+json")
        for header in ("CMR-Hits", "CMR-Took", "CMR-Request-Id", "CMR-Search-After"):
            assert header in response.headers
        body = response.json()
        assert body["hits"] == int(response.headers["CMR-Hits"]) == asf_sandbox.config.granules
        item = body["items"][0]
        assert set(item["meta"]) >= {
            "concept-type",
            "concept-id",
            "revision-id",
            "native-id",
            "collection-concept-id",
            "provider-id",
            "format",
            "revision-date",
        }
        assert item["meta"]["collection-concept-id"] == GUNW
        umm = item["umm"]
        assert umm["CollectionReference"] == {"ShortName": "ARIA_S1_GUNW", "Version": "1"}
        assert umm["GranuleUR"].startswith("S1-GUNW-") and umm["GranuleUR"].endswith("-v3_0_1")
        types = [u["Type"] for u in umm["RelatedUrls"]]
        assert types[:2] == ["GET DATA", "GET RELATED VISUALIZATION"]
        assert umm["RelatedUrls"][0]["URL"] == f"{asf_sandbox.urls.asf}/door/download/{umm['GranuleUR']}.nc"
        archive = umm["DataGranule"]["ArchiveAndDistributionInformation"]
        assert [a["Name"].rsplit(".", 1)[1] for a in archive] == ["nc", "png", "json"]
        assert all(a["Checksum"]["Algorithm"] == "MD5" and len(a["Checksum"]["Value"]) == 32 for a in archive)
        points = umm["SpatialExtent"]["HorizontalSpatialDomain"]["Geometry"]["GPolygons"][0]["Boundary"]["Points"]
        assert points[0] == points[-1] and len(points) >= 4

    def test_atom_json_has_cmr_entry_fields(self, cmr, asf_sandbox):
        response = cmr("granules.json", {"collection_concept_id": BETA[2], "page_size": 1})
        assert response.status_code == 200
        feed = response.json()["feed"]
        assert feed["title"] == "ECHO granule metadata"
        entry = feed["entry"][0]
        for name in (
            "id",
            "title",
            "producer_granule_id",
            "dataset_id",
            "collection_concept_id",
            "time_start",
            "time_end",
            "updated",
            "granule_size",
            "polygons",
            "links",
            "online_access_flag",
        ):
            assert name in entry
        assert entry["title"].endswith("-Unwrapped")
        assert entry["links"][0]["rel"] == "http://esipfed.org/ns/fedsearch/1.1/data#"
        assert entry["links"][0]["href"].endswith(".unw_geo.zip")
        lat, lon = map(float, entry["polygons"][0][0].split()[:2])
        assert 30 < lat < 43 and -126 < lon < -113  # CMR writes "lat lon" pairs

    def test_post_form_gives_the_same_results_as_get(self, cmr):
        params = {"collection_concept_id[]": list(BETA), "point": f"{PASADENA[0]},{PASADENA[1]}", "page_size": 50}
        by_get = cmr("granules.umm_json", params).json()
        by_post = cmr("granules.umm_json", params, method="POST").json()
        assert by_get["hits"] == by_post["hits"] > 0
        assert [i["meta"]["concept-id"] for i in by_get["items"]] == [i["meta"]["concept-id"] for i in by_post["items"]]

    def test_page_size_zero_counts_only(self, cmr, asf_sandbox):
        response = cmr("granules.umm_json", {"collection_concept_id": GUNW, "page_size": 0})
        assert response.json()["items"] == []
        assert int(response.headers["CMR-Hits"]) == asf_sandbox.config.granules
        assert "CMR-Search-After" not in response.headers

    def test_collections_json(self, cmr):
        response = cmr("collections.json", {"concept_id": [*BETA, GUNW]})
        assert response.status_code == 200
        entries = {e["id"]: e for e in response.json()["feed"]["entry"]}
        assert set(entries) == {*BETA, GUNW}
        assert entries[GUNW]["short_name"] == "ARIA_S1_GUNW"
        assert "(BETA)" in entries["C1379535600-ASF"]["title"]
        umm = cmr("collections.umm_json", {"short_name": "ARIA_S1_GUNW"}).json()
        assert umm["hits"] == 1 and umm["items"][0]["meta"]["concept-id"] == GUNW


class TestGranuleFilters:
    @pytest.mark.parametrize(
        "params",
        [
            pytest.param({"collection_concept_id": GUNW}, id="collection_concept_id"),
            pytest.param({"short_name": "ARIA_S1_GUNW"}, id="short_name"),
            pytest.param({"short_name": "ARIA_S1_GUNW", "version": "1"}, id="short_name+version"),
            pytest.param({"concept_id": GUNW}, id="concept_id-of-collection"),
        ],
    )
    def test_collection_selectors(self, cmr, asf_sandbox, params):
        body = cmr("granules.umm_json", {**params, "page_size": 2000}).json()
        assert body["hits"] == asf_sandbox.config.granules
        assert {i["meta"]["collection-concept-id"] for i in body["items"]} == {GUNW}

    def test_provider_alone_selects_every_collection(self, cmr, asf_sandbox):
        body = cmr("granules.umm_json", {"provider": "ASF", "page_size": 0})
        assert int(body.headers["CMR-Hits"]) == len(asf_sandbox.catalogue)

    def test_several_collections(self, cmr, asf_sandbox):
        body = cmr("granules.umm_json", {"collection_concept_id[]": list(BETA), "page_size": 2000}).json()
        assert {i["meta"]["collection-concept-id"] for i in body["items"]} == set(BETA)
        assert body["hits"] == 3 * asf_sandbox.config.granules

    def test_point_matches_footprints_that_contain_it(self, cmr, asf_sandbox):
        from airflow_asf_ifg.client.geometry import point_in_ring

        body = cmr(
            "granules.umm_json",
            {"collection_concept_id": GUNW, "point": f"{PASADENA[0]},{PASADENA[1]}", "page_size": 2000},
        ).json()
        expected = {
            g["concept_id"]
            for g in catalogue_items(asf_sandbox, GUNW)
            if point_in_ring(PASADENA, [tuple(p) for p in g["footprint"]])
        }
        assert expected, "the catalogue must cover the Pasadena point"
        assert {i["meta"]["concept-id"] for i in body["items"]} == expected
        assert len(expected) < asf_sandbox.config.granules  # and some granules do not

    def test_point_far_away_matches_nothing(self, cmr):
        body = cmr("granules.umm_json", {"collection_concept_id": GUNW, "point": "10.0,50.0"}).json()
        assert body["hits"] == 0 and body["items"] == []

    def test_bounding_box_and_polygon_agree(self, cmr):
        west, south, east, north = -118.3, 34.0, -118.0, 34.3
        ring = [west, south, east, south, east, north, west, north, west, south]
        by_box = cmr(
            "granules.umm_json",
            {"collection_concept_id": GUNW, "page_size": 2000, "bounding_box": f"{west},{south},{east},{north}"},
        ).json()
        by_polygon = cmr(
            "granules.umm_json", {"collection_concept_id": GUNW, "page_size": 2000, "polygon": ",".join(map(str, ring))}
        ).json()
        assert by_box["hits"] == by_polygon["hits"] > 0

    def test_polygon_that_only_overlaps_an_edge_matches(self, cmr, asf_sandbox):
        granule = catalogue_items(asf_sandbox, GUNW)[0]
        lon, lat = granule["footprint"][0]  # a corner: a small square around it overlaps only that corner
        ring = [
            lon - 0.01,
            lat - 0.01,
            lon + 0.01,
            lat - 0.01,
            lon + 0.01,
            lat + 0.01,
            lon - 0.01,
            lat + 0.01,
            lon - 0.01,
            lat - 0.01,
        ]
        body = cmr(
            "granules.umm_json", {"collection_concept_id": GUNW, "page_size": 2000, "polygon": ",".join(map(str, ring))}
        ).json()
        assert granule["concept_id"] in {i["meta"]["concept-id"] for i in body["items"]}

    def test_temporal_with_open_ends(self, cmr, asf_sandbox):
        items = catalogue_items(asf_sandbox, GUNW)
        cut = sorted(g["start"] for g in items)[len(items) // 2]
        after = cmr(
            "granules.umm_json", {"collection_concept_id": GUNW, "temporal": f"{cut},", "page_size": 2000}
        ).json()
        before = cmr(
            "granules.umm_json", {"collection_concept_id": GUNW, "temporal": f",{cut}", "page_size": 2000}
        ).json()
        expected_after = {g["concept_id"] for g in items if g["end"] >= cut}
        assert {i["meta"]["concept-id"] for i in after["items"]} == expected_after
        assert {i["meta"]["concept-id"] for i in before["items"]} == {
            g["concept_id"] for g in items if g["start"] <= cut
        }

    def test_temporal_iso_interval_and_z_suffix(self, cmr):
        body = cmr(
            "granules.umm_json",
            {"collection_concept_id": GUNW, "temporal": "2019-01-01T00:00:00Z/2025-12-31T23:59:59Z"},
        ).json()
        assert body["hits"] > 0
        none = cmr(
            "granules.umm_json",
            {"collection_concept_id": GUNW, "temporal": "2010-01-01T00:00:00Z,2010-12-31T00:00:00Z"},
        ).json()
        assert none["hits"] == 0

    def test_revision_date_and_updated_since(self, cmr, asf_sandbox):
        items = catalogue_items(asf_sandbox, GUNW)
        cut = sorted(g["revision_date"] for g in items)[len(items) // 2]
        expected = {g["concept_id"] for g in items if g["revision_date"] >= cut}
        for params in ({"revision_date": f"{cut},"}, {"updated_since": cut}):
            body = cmr("granules.umm_json", {"collection_concept_id": GUNW, "page_size": 2000, **params}).json()
            assert {i["meta"]["concept-id"] for i in body["items"]} == expected

    def test_granule_ur(self, cmr, asf_sandbox):
        wanted = [g["granule_ur"] for g in catalogue_items(asf_sandbox, GUNW)[:2]]
        body = cmr("granules.umm_json", {"collection_concept_id": GUNW, "granule_ur[]": wanted}).json()
        assert sorted(i["umm"]["GranuleUR"] for i in body["items"]) == sorted(wanted)

    @pytest.mark.parametrize("direction", ["ascending", "descending"])
    def test_attribute_string(self, cmr, direction):
        body = cmr(
            "granules.umm_json",
            {
                "collection_concept_id": GUNW,
                "page_size": 2000,
                "attribute[]": f"string,ASCENDING_DESCENDING,{direction}",
            },
        ).json()
        for item in body["items"]:
            attributes = {a["Name"]: a["Values"] for a in item["umm"]["AdditionalAttributes"]}
            assert attributes["ASCENDING_DESCENDING"] == [direction]

    def test_attribute_int_value_and_range(self, cmr, asf_sandbox):
        paths = sorted(
            int(i["umm"]["AdditionalAttributes"][6]["Values"][0])
            for i in cmr("granules.umm_json", {"collection_concept_id": GUNW, "page_size": 2000}).json()["items"]
        )
        exact = cmr(
            "granules.umm_json", {"collection_concept_id": GUNW, "attribute[]": f"int,PATH_NUMBER,{paths[0]}"}
        ).json()
        assert exact["hits"] == paths.count(paths[0])
        low, high = paths[1], paths[-2]
        ranged = cmr(
            "granules.umm_json", {"collection_concept_id": GUNW, "attribute[]": f"int,PATH_NUMBER,{low},{high}"}
        ).json()
        assert ranged["hits"] == sum(low <= p <= high for p in paths)

    @pytest.mark.parametrize(
        ("sort_key", "field", "reverse"),
        [
            ("-start_date", "BeginningDateTime", True),
            ("start_date", "BeginningDateTime", False),
            ("granule_ur", "GranuleUR", False),
        ],
    )
    def test_sort_key(self, cmr, sort_key, field, reverse):
        body = cmr(
            "granules.umm_json", {"collection_concept_id": GUNW, "sort_key[]": sort_key, "page_size": 2000}
        ).json()

        def value(item: dict) -> str:
            umm = item["umm"]
            return umm["GranuleUR"].lower() if field == "GranuleUR" else umm["TemporalExtent"]["RangeDateTime"][field]

        values = [value(i) for i in body["items"]]
        assert values == sorted(values, reverse=reverse)


class TestSearchAfter:
    def test_pages_cover_every_result_once_and_end_with_an_empty_page(self, cmr, asf_sandbox):
        params = {"provider": "ASF", "page_size": 7}
        seen, header, pages = [], None, 0
        while True:
            response = cmr("granules.umm_json", params, headers={"CMR-Search-After": header} if header else None)
            assert response.status_code == 200, response.text
            items = response.json()["items"]
            pages += 1
            if not items:
                assert "CMR-Search-After" not in response.headers
                break
            assert isinstance(json.loads(response.headers["CMR-Search-After"]), list)
            seen += [i["meta"]["concept-id"] for i in items]
            header = response.headers["CMR-Search-After"]
        assert len(seen) == len(set(seen)) == len(asf_sandbox.catalogue)
        assert pages == -(-len(asf_sandbox.catalogue) // 7) + 1
        starts = [g.start for g in sorted(asf_sandbox.catalogue, key=lambda g: (g.start, g.sequence))]
        by_id = {g.concept_id: g.start for g in asf_sandbox.catalogue}
        assert [by_id[c] for c in seen] == starts  # CMR's default order: provider, then start_date

    def test_search_after_value_looks_like_cmrs(self, cmr):
        response = cmr("granules.umm_json", {"collection_concept_id": GUNW, "page_size": 1})
        provider, start_ms, sequence = json.loads(response.headers["CMR-Search-After"])
        assert provider == "asf" and isinstance(start_ms, int) and isinstance(sequence, int)

    def test_with_page_num_is_refused(self, cmr):
        first = cmr("granules.umm_json", {"collection_concept_id": GUNW, "page_size": 2})
        response = cmr(
            "granules.umm_json",
            {"collection_concept_id": GUNW, "page_size": 2, "page_num": 2},
            headers={"CMR-Search-After": first.headers["CMR-Search-After"]},
        )
        assert response.status_code == 400
        assert response.json() == {"errors": ["page_num is not allowed with search-after"]}

    @pytest.mark.parametrize("value", ["not json", '{"a": 1}', "[1]"])
    def test_invalid_value_is_refused(self, cmr, value):
        response = cmr("granules.umm_json", {"collection_concept_id": GUNW}, headers={"CMR-Search-After": value})
        assert response.status_code == 400
        assert response.json()["errors"] == [
            "search-after header value is invalid, must be in the form of a JSON array."
        ]

    def test_different_parameters_are_refused(self, cmr):
        first = cmr("granules.umm_json", {"collection_concept_id": GUNW, "page_size": 2})
        response = cmr(
            "granules.umm_json",
            {"collection_concept_id": BETA[0], "page_size": 2},
            headers={"CMR-Search-After": first.headers["CMR-Search-After"]},
        )
        assert response.status_code == 400
        assert "different query" in response.json()["errors"][0]

    def test_page_num_paging_still_works(self, cmr):
        first = cmr("granules.umm_json", {"collection_concept_id": GUNW, "page_size": 3}).json()["items"]
        second = cmr("granules.umm_json", {"collection_concept_id": GUNW, "page_size": 3, "page_num": 2}).json()
        assert not {i["meta"]["concept-id"] for i in first} & {i["meta"]["concept-id"] for i in second["items"]}


class TestErrors:
    @pytest.mark.parametrize(
        ("params", "message"),
        [
            pytest.param(
                {"point": "-118,34"},
                "The CMR does not allow querying across granules in all collections",
                id="no-collection",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "page_size": 2001},
                "page_size must be a number between 0 and 2000",
                id="page_size-too-big",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "page_size": -1},
                "page_size must be a number between 0 and 2000",
                id="page_size-negative",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "bogus": 1},
                "Parameter [bogus] was not recognized.",
                id="unknown-parameter",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "polygon": "-118,34,-117,34,-117,35,-118,35"},
                "The polygon boundary was not closed",
                id="polygon-open",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "polygon": "-118,34,-118,35,-117,35,-117,34,-118,34"},
                "listed in the wrong order (clockwise vs counter clockwise)",
                id="polygon-clockwise",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "polygon": "-118,34,-117,35,-117,34,-118,35,-118,34"},
                "The polygon boundary intersected itself",
                id="polygon-bowtie",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "point": "-190,34"}, "Point longitude [-190.0]", id="point-out-of-range"
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "bounding_box": "-118,35,-117,34"},
                "north value [34.0] was less than the south value [35.0]",
                id="bbox-upside-down",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "temporal": "yesterday,"},
                "[yesterday] is not a valid datetime",
                id="temporal-garbage",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "sort_key": "size"},
                "The sort key [size] is not a valid field",
                id="sort-key",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "page_size": 2000, "page_num": 501},
                "The paging depth (page_num * page_size) of [1002000] exceeds the limit of 1000000.",
                id="paging-depth",
            ),
        ],
    )
    def test_bad_queries_get_cmr_errors(self, cmr, params, message):
        response = cmr("granules.umm_json", params)
        assert response.status_code == 400
        assert "CMR-Request-Id" in response.headers
        errors = response.json()["errors"]
        assert len(errors) == 1 and message in errors[0]

    def test_counter_clockwise_closed_polygon_is_accepted(self, cmr):
        response = cmr(
            "granules.umm_json", {"collection_concept_id": GUNW, "polygon": "-118,34,-117,34,-117,35,-118,35,-118,34"}
        )
        assert response.status_code == 200


def test_every_date_is_in_range(asf_sandbox):
    starts = [datetime.fromisoformat(g["start"]) for g in asf_sandbox.catalogue_document()]
    assert min(starts) >= datetime(2016, 1, 1, tzinfo=UTC)
    assert max(starts) <= datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
