"""``asf-ifg search`` against the sandbox's CMR: a table, JSON lines and GeoJSON."""

from __future__ import annotations

import itertools
import json

from airflow_asf_ifg.client.granule import Granule

PASADENA = "-118.1445,34.1478"
UNWRAPPED = "C1379535600-ASF"


class TestSearch:
    def test_jsonl_gives_granule_dicts_over_the_point(self, run_cli, asf_sandbox):
        result = run_cli("search", UNWRAPPED, f"--aoi={PASADENA}", "--start", "2016-01-01", "--format", "jsonl")
        assert result.returncode == 0, result.stderr
        granules = [Granule.from_dict(json.loads(line)) for line in result.stdout.splitlines()]
        expected = {
            g["granule_ur"]
            for g in asf_sandbox.catalogue_document()
            if g["collection_concept_id"] == UNWRAPPED and _covers(g["footprint"], -118.1445, 34.1478)
        }
        assert {g.granule_ur for g in granules} == expected and expected
        assert all(g.data_files[0].checksum for g in granules)
        assert f"{len(expected)} of {len(expected)} granule(s)" in result.stderr

    def test_geojson_is_a_feature_collection_of_footprints(self, run_cli):
        result = run_cli("search", UNWRAPPED, "--format", "geojson", "--max", "2")
        document = json.loads(result.stdout)
        assert document["type"] == "FeatureCollection" and len(document["features"]) == 2
        feature = document["features"][0]
        assert feature["geometry"]["type"] == "Polygon"
        assert feature["properties"]["granule_ur"].endswith("-Unwrapped") and "footprint" not in feature["properties"]

    def test_table_has_a_row_per_granule_and_max_limits(self, run_cli):
        result = run_cli("search", "SENTINEL-1_INSAR_UNWRAPPED_INTERFEROGRAM_AND_COHERENCE_MAP", "--max", "3")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].split() == ["GRANULE_UR", "START", "FILE", "SIZE_MB"]
        assert len(lines) == 4 and all(line.split()[2].endswith(".unw_geo.zip") for line in lines[1:])


def _covers(ring: list, lon: float, lat: float) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
