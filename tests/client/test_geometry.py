"""Planar ring checks used by the sandbox's CMR."""

from __future__ import annotations

import pytest

from airflow_asf_ifg.client import geometry

SQUARE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]


class TestRings:
    def test_orientation(self):
        assert geometry.signed_area(SQUARE) > 0
        assert geometry.signed_area(list(reversed(SQUARE))) < 0

    @pytest.mark.parametrize(
        ("point", "inside"),
        [
            pytest.param((0.5, 0.5), True, id="inside"),
            pytest.param((1.0, 0.5), True, id="on-edge"),
            pytest.param((0.0, 0.0), True, id="on-corner"),
            pytest.param((1.5, 0.5), False, id="outside"),
        ],
    )
    def test_point_in_ring(self, point, inside):
        assert geometry.point_in_ring(point, SQUARE) is inside

    def test_bowtie_crosses_itself_at_its_middle(self):
        bowtie = [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]
        assert geometry.self_intersection(bowtie) == pytest.approx((0.5, 0.5))
        assert geometry.self_intersection(SQUARE) is None

    @pytest.mark.parametrize(
        ("other", "overlaps"),
        [
            pytest.param(geometry.box_ring(0.5, 0.5, 2, 2), True, id="overlap"),
            pytest.param(geometry.box_ring(0.2, 0.2, 0.4, 0.4), True, id="contained"),
            pytest.param(geometry.box_ring(-1, -1, 3, 3), True, id="contains"),
            pytest.param(geometry.box_ring(1, 1, 2, 2), True, id="touching-corner"),
            pytest.param(geometry.box_ring(2, 2, 3, 3), False, id="apart"),
            pytest.param([(-1.0, 0.5), (0.5, -1.0), (3.0, -1.0), (-1.0, 3.0), (-1.0, 0.5)], True, id="edges-cross"),
        ],
    )
    def test_rings_intersect(self, other, overlaps):
        assert geometry.rings_intersect(SQUARE, other) is overlaps
        assert geometry.rings_intersect(other, SQUARE) is overlaps
