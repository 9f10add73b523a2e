"""Areas of interest in every accepted form, and every bad one refused with a message naming the problem."""

from __future__ import annotations

import json
import math
import re
import time

import pytest

from airflow_asf_ifg.client.aoi import (
    MAX_AOI_CHARACTERS,
    MAX_CROSSING_CHECK_POINTS,
    MAX_POLYGON_POINTS,
    MAX_SHAPES,
    Aoi,
    parse_aoi,
)
from airflow_asf_ifg.exceptions import InvalidInputError

PASADENA = (-118.1445, 34.1478)
CCW = [[-118.3, 34.0], [-118.0, 34.0], [-118.0, 34.3], [-118.3, 34.3], [-118.3, 34.0]]
CW = list(reversed(CCW))
CCW_TEXT = "-118.3,34,-118,34,-118,34.3,-118.3,34.3,-118.3,34"


class TestAcceptedForms:
    @pytest.mark.parametrize(
        "value",
        [
            pytest.param(PASADENA, id="tuple"),
            pytest.param(list(PASADENA), id="list"),
            pytest.param("-118.1445,34.1478", id="text"),
            pytest.param("[-118.1445, 34.1478]", id="json-list-text"),
            pytest.param("POINT (-118.1445 34.1478)", id="wkt"),
            pytest.param("point(-118.1445 34.1478)", id="wkt-lowercase"),
            pytest.param("SRID=4326;POINT Z (-118.1445 34.1478 100)", id="ewkt-3d"),
            pytest.param({"type": "Point", "coordinates": list(PASADENA)}, id="geojson"),
            pytest.param(
                json.dumps(
                    {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": PASADENA}}
                ),
                id="feature-text",
            ),
        ],
    )
    def test_point(self, value):
        assert parse_aoi(value).cmr_params() == [("point", "-118.1445,34.1478")]

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param((-118.3, 34.0, -118.0, 34.3), id="tuple"),
            pytest.param("-118.3, 34.0, -118.0, 34.3", id="text"),
        ],
    )
    def test_bbox(self, value):
        assert parse_aoi(value).cmr_params() == [("bounding_box", "-118.3,34,-118,34.3")]

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param((170, -10, -170, 10), "170,-10,-170,10", id="20-degrees"),
            pytest.param("170,-10,-170,10", "170,-10,-170,10", id="text"),
            pytest.param((90, -10, -90, 10), "90,-10,-90,10", id="exactly-180-degrees"),
        ],
    )
    def test_bbox_across_the_antimeridian_is_kept(self, value, expected):
        assert parse_aoi(value).cmr_params() == [("bounding_box", expected)]

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("POLYGON ((-118.3 34, -118 34, -118 34.3, -118.3 34.3, -118.3 34))", id="wkt-ccw"),
            pytest.param("POLYGON ((-118.3 34, -118.3 34.3, -118 34.3, -118 34, -118.3 34))", id="wkt-clockwise"),
            pytest.param("POLYGON ((-118.3 34, -118 34, -118 34.3, -118.3 34.3))", id="wkt-open"),
            pytest.param({"type": "Polygon", "coordinates": [CW]}, id="geojson-clockwise"),
            pytest.param(
                {
                    "type": "Polygon",
                    "coordinates": [CCW, [[-118.2, 34.1], [-118.1, 34.1], [-118.1, 34.2], [-118.2, 34.1]]],
                },
                id="geojson-with-hole",
            ),
            pytest.param({"type": "Polygon", "coordinates": [[CCW[0], CCW[0], *CCW[1:]]]}, id="repeated-point"),
            pytest.param({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [CCW]}}, id="feature"),
        ],
    )
    def test_polygon_is_closed_and_counter_clockwise(self, value):
        assert parse_aoi(value).cmr_params() == [("polygon", CCW_TEXT)]

    def test_multipolygon_and_collections_are_ored(self):
        second = [[-117.0, 33.0], [-116.5, 33.0], [-116.5, 33.5], [-117.0, 33.0]]
        wkt = parse_aoi(
            "MULTIPOLYGON (((-118.3 34, -118 34, -118 34.3, -118.3 34.3, -118.3 34)), "
            "((-117 33, -116.5 33, -116.5 33.5, -117 33)))"
        )
        geojson = parse_aoi(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [CCW]}},
                    {"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": [[second]]}},
                ],
            }
        )
        assert wkt.cmr_params() == geojson.cmr_params()
        params = wkt.cmr_params()
        assert [name for name, _ in params] == ["polygon[]", "polygon[]", "options[spatial][or]"]

    def test_mixed_collection(self):
        aoi = parse_aoi(
            {
                "type": "GeometryCollection",
                "geometries": [{"type": "Point", "coordinates": PASADENA}, {"type": "Polygon", "coordinates": [CCW]}],
            }
        )
        assert [name for name, _ in aoi.cmr_params()] == ["point[]", "polygon[]", "options[spatial][or]"]

    def test_geojson_round_trip_and_idempotence(self):
        aoi = parse_aoi({"type": "Polygon", "coordinates": [CW]})
        assert parse_aoi(aoi) is aoi
        assert parse_aoi(aoi.geojson()).cmr_params() == aoi.cmr_params()
        assert isinstance(aoi, Aoi) and str(aoi).startswith("polygon ")


class TestRefused:
    @pytest.mark.parametrize(
        ("value", "message"),
        [
            pytest.param(None, "the AOI is empty", id="none"),
            pytest.param("", "the AOI is empty", id="empty-text"),
            pytest.param({}, "the AOI is empty", id="empty-dict"),
            pytest.param("POLYGON EMPTY", "WKT POLYGON EMPTY has no coordinates", id="wkt-empty"),
            pytest.param((-200, 34), "longitude -200.0 is out of range", id="lon-range"),
            pytest.param((34.1, -118.1), "latitude -118.1 is out of range", id="swapped-lat-lon"),
            pytest.param((1, 2, 3), "needs 2 numbers (lon, lat) or 4", id="three-numbers"),
            pytest.param((-118, 35, -117, 34), "bbox south 35.0 is north of north 34.0", id="bbox-upside-down"),
            pytest.param(
                "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))", "ring crosses itself at (0.50000, 0.50000)", id="bowtie"
            ),
            pytest.param("POLYGON ((0 0, 1 1, 2 2, 0 0))", "has no area", id="collinear"),
            pytest.param("POLYGON ((0 0, 1 1, 0 0))", "has 2 distinct point(s)", id="too-few-points"),
            pytest.param("LINESTRING (0 0, 1 1)", "WKT type LINESTRING is not supported", id="wkt-linestring"),
            pytest.param(
                {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                "type 'LineString' is not supported",
                id="geojson-linestring",
            ),
            pytest.param(
                {"type": "FeatureCollection", "features": []},
                "FeatureCollection has no features",
                id="empty-collection",
            ),
            pytest.param('{"type": "Point",', "looks like JSON but is not valid JSON", id="broken-json"),
            pytest.param("POINT (1 2", "a parenthesis is not closed", id="wkt-unclosed"),
            pytest.param("POINT (a b)", "unexpected 'a' inside coordinates", id="wkt-garbage"),
            pytest.param("POINT (1 2) ;", "cannot read", id="wkt-stray-character"),
            pytest.param(12.5, "cannot use float 12.5 as an AOI", id="number"),
            pytest.param({"type": "Point", "coordinates": ["x", 1]}, "coordinates must be numbers", id="non-numeric"),
        ],
    )
    def test_bad_aoi(self, value, message):
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_aoi(value)

    @pytest.mark.parametrize(
        ("value", "width", "fix"),
        [
            pytest.param("-118,34,-118.3,34.3", "359.7", "-118.3,34,-118,34.3", id="pasadena-text"),
            pytest.param((10, 0, -80, 5), "270", "-80,0,10,5", id="wider-than-half"),
            pytest.param([-170.5, -10, -170.75, 10], "359.75", "-170.75,-10,-170.5,10", id="near-the-antimeridian"),
        ],
    )
    def test_swapped_west_and_east_is_not_read_across_the_antimeridian(self, value, width, fix):
        with pytest.raises(ValueError, match="look swapped") as caught:
            parse_aoi(value)
        message = str(caught.value)
        assert f"span {width}° of longitude" in message and f"give {fix}," in message
        assert "for a box across the antimeridian" in message


class TestLimitsAndMalformedInput:
    @pytest.mark.parametrize("value", ["", "   ", "\n\t"], ids=["empty", "spaces", "whitespace"])
    def test_an_empty_or_blank_aoi_says_how_to_search_without_one(self, value):
        with pytest.raises(InvalidInputError, match=r"the AOI is empty .*aoi=None.*allow_global=True"):
            parse_aoi(value)

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            pytest.param(
                {"type": "Polygon", "coordinates": [5]}, "expected a list of [lon, lat] pairs, got 5", id="ring-5"
            ),
            pytest.param({"type": "Polygon", "coordinates": 5}, "expected a list of rings", id="coords-5"),
            pytest.param({"type": "MultiPolygon", "coordinates": [5]}, "expected a list of rings", id="multi-5"),
            pytest.param({"type": "MultiPoint", "coordinates": 5}, "must be a list", id="multipoint-5"),
            pytest.param({"type": "FeatureCollection", "features": ["x"]}, "expected a GeoJSON object", id="feature-x"),
            pytest.param({"type": "FeatureCollection", "features": {"a": 1}}, "features must be a list", id="dict"),
            pytest.param({"type": "Feature", "geometry": [1, 2]}, "expected a GeoJSON object", id="geometry-list"),
            pytest.param("[" * 100_000 + "]" * 100_000, "nested too deeply", id="deep-json"),
            pytest.param("POLYGON " + "(" * 5_000 + ")" * 5_000, "nested more than 8 deep", id="deep-wkt"),
            pytest.param(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Feature",
                        "geometry": {
                            "type": "Feature",
                            "geometry": {
                                "type": "Feature",
                                "geometry": {
                                    "type": "Feature",
                                    "geometry": {
                                        "type": "Feature",
                                        "geometry": {
                                            "type": "Feature",
                                            "geometry": {"type": "Feature", "geometry": {"type": "Point"}},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
                "nested more than 8 deep",
                id="deep-features",
            ),
        ],
    )
    def test_malformed_input_is_an_input_error_naming_the_problem(self, value, message):
        with pytest.raises(InvalidInputError, match=re.escape(message)):
            parse_aoi(value)

    def test_a_polygon_of_too_many_points_is_refused(self):
        ring = circle(MAX_POLYGON_POINTS + 1)
        with pytest.raises(InvalidInputError, match=f"at most {MAX_POLYGON_POINTS} are accepted per polygon"):
            parse_aoi({"type": "Polygon", "coordinates": [ring]})

    def test_too_many_shapes_are_refused(self):
        with pytest.raises(InvalidInputError, match=f"at most {MAX_SHAPES} shapes"):
            parse_aoi({"type": "MultiPoint", "coordinates": [[0, 0]] * (MAX_SHAPES + 1)})

    def test_too_long_a_text_is_refused(self):
        with pytest.raises(InvalidInputError, match="characters; at most"):
            parse_aoi("POINT (1 2)" + " " * MAX_AOI_CHARACTERS)

    def test_the_largest_accepted_polygon_parses_quickly(self):
        ring = circle(MAX_POLYGON_POINTS)
        started = time.monotonic()
        aoi = parse_aoi({"type": "Polygon", "coordinates": [ring]})
        assert time.monotonic() - started < 5.0  # the pairwise crossing check alone took minutes
        assert len(aoi.shapes[0].coordinates) == MAX_POLYGON_POINTS + 1

    def test_small_rings_are_still_checked_for_crossings(self):
        bowtie = [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]
        assert len(bowtie) < MAX_CROSSING_CHECK_POINTS
        with pytest.raises(InvalidInputError, match="ring crosses itself"):
            parse_aoi({"type": "Polygon", "coordinates": [bowtie]})


def circle(points: int) -> list[list[float]]:
    """A convex ring of ``points`` distinct corners (closed), around (10, 10)."""
    ring = [
        [10 + 5 * math.cos(2 * math.pi * i / points), 10 + 5 * math.sin(2 * math.pi * i / points)]
        for i in range(points)
    ]
    return [*ring, ring[0]]
