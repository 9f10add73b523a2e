"""Whether a granule's footprint touches an area of interest, decided locally as CMR's spatial search would.

A shared poll searches a whole collection once for every watcher of it; each watcher then keeps the
granules over its own AOI with :func:`touches`. CMR matches a granule when its footprint intersects any
shape of the AOI (``options[spatial][or]``, as :meth:`Aoi.cmr_params` asks), and never matches one that has
no spatial extent; so does this. The test is planar (:mod:`airflow_asf_ifg.client.geometry`).
"""

from __future__ import annotations

from typing import Any

from airflow_asf_ifg.client.aoi import Aoi, Shape
from airflow_asf_ifg.client.geometry import Point, Ring, box_ring, point_in_ring, rings_intersect

__all__ = ["footprint_parts", "touches"]


def footprint_parts(footprint: dict[str, Any] | None) -> tuple[list[Ring], list[Point]]:
    """The outer rings and the points of a GeoJSON footprint (holes only narrow it: CMR ignores them too).

    :param footprint: a GeoJSON geometry (Polygon, MultiPolygon, Point, MultiPoint), or None.
    """
    if not footprint:
        return [], []
    kind, coordinates = footprint.get("type"), footprint.get("coordinates") or []
    if kind == "Polygon":
        return [_ring(coordinates[0])] if coordinates else [], []
    if kind == "MultiPolygon":
        return [_ring(polygon[0]) for polygon in coordinates if polygon], []
    if kind == "Point":
        return [], [(float(coordinates[0]), float(coordinates[1]))]
    if kind == "MultiPoint":
        return [], [(float(p[0]), float(p[1])) for p in coordinates]
    return [], []


def _ring(points: list[Any]) -> Ring:
    return [(float(p[0]), float(p[1])) for p in points]


def _shape_rings(shape: Shape) -> list[Ring]:
    if shape.kind == "polygon":
        return [list(shape.coordinates)]
    west, south, east, north = shape.coordinates
    if west <= east:
        return [box_ring(west, south, east, north)]
    # West > east is a box across the antimeridian: the two halves either side of it.
    return [box_ring(west, south, 180.0, north), box_ring(-180.0, south, east, north)]


def _shape_touches(shape: Shape, rings: list[Ring], points: list[Point]) -> bool:
    if shape.kind == "point":
        return any(point_in_ring(shape.coordinates, ring) for ring in rings) or shape.coordinates in points
    shape_rings = _shape_rings(shape)
    return any(rings_intersect(a, b) for a in shape_rings for b in rings) or any(
        point_in_ring(point, ring) for point in points for ring in shape_rings
    )


def touches(aoi: Aoi | None, footprint: dict[str, Any] | None) -> bool:
    """Whether CMR would return a granule with this footprint to a search over the AOI.

    :param aoi: the parsed AOI; None matches every granule (a search without spatial condition).
    :param footprint: the granule's GeoJSON footprint (:attr:`Granule.footprint`).
    """
    if aoi is None:
        return True
    rings, points = footprint_parts(footprint)
    return any(_shape_touches(shape, rings, points) for shape in aoi.shapes)
