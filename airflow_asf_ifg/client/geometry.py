"""Planar lon/lat geometry: ring checks and footprint intersection, for the sandbox's CMR and for the event
trigger's AOI filter on a shared poll.

CMR treats polygons as geodetic (great-circle edges); footprints span a degree or two, where planar edges
differ by far less than a footprint, so planar tests decide the same matches except along the edges of an
AOI many degrees wide (there a great-circle edge bows towards the pole).
"""

from __future__ import annotations

import itertools

__all__ = [
    "Point",
    "Ring",
    "bounds",
    "box_ring",
    "point_in_ring",
    "rings_intersect",
    "segments_intersect",
    "self_intersection",
    "signed_area",
]

Point = tuple[float, float]  # (lon, lat)
Ring = list[Point]


def signed_area(ring: Ring) -> float:
    """Twice the signed area of a closed ring: positive when counter-clockwise.

    :param ring: closed ring of (lon, lat) points.
    """
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))


def _orientation(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def segments_intersect(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether segment a-b touches segment c-d (end points included).

    :param a: first end of the first segment.
    :param b: second end of the first segment.
    :param c: first end of the second segment.
    :param d: second end of the second segment.
    """
    o1, o2, o3, o4 = _orientation(a, b, c), _orientation(a, b, d), _orientation(c, d, a), _orientation(c, d, b)
    if ((o1 > 0) != (o2 > 0)) and o1 != 0 and o2 != 0 and ((o3 > 0) != (o4 > 0)) and o3 != 0 and o4 != 0:
        return True
    return (
        (o1 == 0 and _on_segment(a, b, c))
        or (o2 == 0 and _on_segment(a, b, d))
        or (o3 == 0 and _on_segment(c, d, a))
        or (o4 == 0 and _on_segment(c, d, b))
    )


def self_intersection(ring: Ring) -> Point | None:
    """Return a point where a closed ring crosses itself, or None for a simple ring.

    :param ring: closed ring of (lon, lat) points.
    """
    edges = list(itertools.pairwise(ring))
    count = len(edges)
    for i in range(count):
        for j in range(i + 1, count):
            if j == i + 1 or (i == 0 and j == count - 1):
                continue  # neighbours share a vertex by construction
            (a, b), (c, d) = edges[i], edges[j]
            if segments_intersect(a, b, c, d):
                return c if _orientation(a, b, c) == 0 else _crossing(a, b, c, d)
    return None


def _crossing(a: Point, b: Point, c: Point, d: Point) -> Point:
    denominator = (a[0] - b[0]) * (c[1] - d[1]) - (a[1] - b[1]) * (c[0] - d[0])
    if denominator == 0:
        return c
    t = ((a[0] - c[0]) * (c[1] - d[1]) - (a[1] - c[1]) * (c[0] - d[0])) / denominator
    return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))


def point_in_ring(point: Point, ring: Ring) -> bool:
    """Whether a point lies inside a closed ring or on its boundary.

    :param point: (lon, lat).
    :param ring: closed ring of (lon, lat) points.
    """
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if _orientation((x1, y1), (x2, y2), point) == 0 and _on_segment((x1, y1), (x2, y2), point):
            return True
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def rings_intersect(first: Ring, second: Ring) -> bool:
    """Whether two closed rings overlap, touch, or one contains the other.

    :param first: closed ring of (lon, lat) points.
    :param second: closed ring of (lon, lat) points.
    """
    if not _boxes_overlap(bounds(first), bounds(second)):
        return False
    if point_in_ring(first[0], second) or point_in_ring(second[0], first):
        return True
    return any(
        segments_intersect(a, b, c, d) for a, b in itertools.pairwise(first) for c, d in itertools.pairwise(second)
    )


def bounds(ring: Ring) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a ring.

    :param ring: (lon, lat) points.
    """
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    return min(lons), min(lats), max(lons), max(lats)


def box_ring(west: float, south: float, east: float, north: float) -> Ring:
    """A counter-clockwise closed ring for a bounding box.

    :param west: western longitude.
    :param south: southern latitude.
    :param east: eastern longitude.
    :param north: northern latitude.
    """
    return [(west, south), (east, south), (east, north), (west, north), (west, south)]


def _boxes_overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
