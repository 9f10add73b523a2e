"""The synthetic catalogue: deterministic, the 2018 collections and today's, names by the real rules."""

from __future__ import annotations

import re

from airflow_asf_ifg.client.geometry import point_in_ring, signed_area
from airflow_asf_ifg.sandbox.catalogue import COLLECTIONS, PASADENA, build_catalogue

BETA_NAME = re.compile(r"^S1-IFG_RM_M1S1_TN\d{3}_\d{8}T\d{6}-\d{8}T\d{6}_s1-resorb-[0-9a-f]{4}-v1\.2\.1-standard$")
GUNW_NAME = re.compile(r"^S1-GUNW-[AD]-R-\d{3}-tops-\d{8}_\d{8}-\d{6}-\d{5}[EW]_\d{5}[NS]-PP-[0-9a-f]{4}-v3_0_1$")


class TestCatalogue:
    def test_same_seed_same_catalogue(self):
        first = build_catalogue(11, 4, 0.25)
        second = build_catalogue(11, 4, 0.25)
        assert [(g.concept_id, g.granule_ur, g.footprint) for g in first] == [
            (g.concept_id, g.granule_ur, g.footprint) for g in second
        ]
        assert [g.granule_ur for g in build_catalogue(12, 4, 0.25)] != [g.granule_ur for g in first]

    def test_every_collection_of_the_2018_page_and_today(self):
        concept_ids = {g.collection.concept_id for g in build_catalogue(1, 3, 0)}
        assert concept_ids == {c.concept_id for c in COLLECTIONS}
        assert {"C1379535891-ASF", "C1379522387-ASF", "C1379535600-ASF", "C2859376221-ASF"} <= concept_ids

    def test_names_follow_the_real_rules(self):
        for granule in build_catalogue(2, 6, 0):
            if granule.collection.is_beta:
                assert BETA_NAME.match(granule.producer_granule_id), granule.producer_granule_id
                assert granule.data_file.name.endswith(".zip")
            elif granule.collection.family == "gunw-v3":
                assert GUNW_NAME.match(granule.granule_ur), granule.granule_ur
                assert granule.data_file.name == granule.granule_ur + ".nc"
        unwrapped = [g for g in build_catalogue(2, 2, 0) if g.collection.concept_id == "C1379535600-ASF"]
        assert all(g.granule_ur == g.producer_granule_id + "-Unwrapped" for g in unwrapped)
        assert all(g.data_file.name == g.producer_granule_id + ".unw_geo.zip" for g in unwrapped)

    def test_pasadena_is_covered_in_every_collection(self):
        catalogue = build_catalogue(2018, 6, 0)
        for collection in COLLECTIONS:
            covering = [g for g in catalogue if g.collection is collection and point_in_ring(PASADENA, g.footprint)]
            assert covering, collection.short_name

    def test_footprints_are_closed_counter_clockwise_over_california(self):
        for granule in build_catalogue(5, 6, 0):
            ring = granule.footprint
            assert ring[0] == ring[-1] and signed_area(ring) > 0
            assert all(-126 < lon < -112 and 31 < lat < 43 for lon, lat in ring)

    def test_archived_fraction(self):
        catalogue = build_catalogue(3, 40, 0.25)
        archived = sum(g.data_file.archived for g in catalogue) / len(catalogue)
        assert 0.15 < archived < 0.35
        assert not any(f.archived for g in catalogue for f in g.files[1:])  # browse/metadata never archived
