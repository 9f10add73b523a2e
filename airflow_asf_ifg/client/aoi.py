"""Areas of interest: WKT, GeoJSON, a bbox or a point, validated and turned into CMR spatial parameters.

CMR wants polygons closed and counter-clockwise, without repeated or crossing points (CMR api.md
"Polygon"); everything is checked here so a bad AOI fails before any request, naming the problem.
Polygon holes are dropped: CMR's ``polygon`` parameter has none, so a hole only widens the search.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_asf_ifg.exceptions import InvalidInputError

__all__ = [
    "ACCEPTED",
    "MAX_AOI_CHARACTERS",
    "MAX_CROSSING_CHECK_POINTS",
    "MAX_POLYGON_POINTS",
    "MAX_SHAPES",
    "Aoi",
    "Shape",
    "parse_aoi",
    "polygon_ring",
]

Point = tuple[float, float]  # (lon, lat)

ACCEPTED = (
    "WKT (POINT, POLYGON, MULTIPOLYGON), GeoJSON (a geometry, Feature or FeatureCollection of Points, "
    "Polygons or MultiPolygons), a (west, south, east, north) bbox, or a (lon, lat) point"
)


#: At most this many points per polygon ring. CMR's search API documents no number; 10,000 keeps a request
#: within URL limits when sent as a POST form and the checks below bounded (the shape a DAG means to search is
#: rarely finer than that: simplify it first).
MAX_POLYGON_POINTS = 10_000
#: At most this many shapes (points, boxes, polygons) in one AOI; each is one CMR spatial parameter.
MAX_SHAPES = 1_000
#: At most this many characters of WKT or GeoJSON text.
MAX_AOI_CHARACTERS = 2_000_000
#: The ring-crosses-itself check compares every pair of edges; above this many points it is skipped, and CMR
#: itself refuses a self-intersecting polygon (an HTTP 400, reported as a permanent CmrSearchError).
MAX_CROSSING_CHECK_POINTS = 1_000
#: Nesting deeper than any accepted form needs (a FeatureCollection of MultiPolygons) is refused, not recursed.
_MAX_DEPTH = 8


@dataclass(frozen=True)
class Shape:
    """One spatial condition: a point, a bounding box or a polygon ring.

    :param kind: ``point``, ``bounding_box`` or ``polygon``.
    :param coordinates: (lon, lat) for a point; (west, south, east, north) for a box; the closed
        counter-clockwise ring of (lon, lat) for a polygon.
    """

    kind: str
    coordinates: tuple[Any, ...]

    def cmr_value(self) -> str:
        """The value of the CMR parameter named after ``kind``."""
        if self.kind == "polygon":
            return ",".join(_number(v) for point in self.coordinates for v in point)
        return ",".join(_number(v) for v in self.coordinates)

    def geojson(self) -> dict[str, Any]:
        """The shape as a GeoJSON geometry."""
        if self.kind == "point":
            return {"type": "Point", "coordinates": list(self.coordinates)}
        if self.kind == "bounding_box":
            west, south, east, north = self.coordinates
            ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
            return {"type": "Polygon", "coordinates": [ring]}
        return {"type": "Polygon", "coordinates": [[list(p) for p in self.coordinates]]}


@dataclass(frozen=True)
class Aoi:
    """A validated area of interest: one or more shapes, matched when a footprint touches any of them.

    :param shapes: the shapes.
    """

    shapes: tuple[Shape, ...]

    def cmr_params(self) -> list[tuple[str, str]]:
        """CMR query parameters: ``point``, ``bounding_box`` and ``polygon[]``, ORed when there are several."""
        several = len(self.shapes) > 1
        params = [(f"{shape.kind}[]" if several else shape.kind, shape.cmr_value()) for shape in self.shapes]
        if several:
            # CMR ANDs spatial conditions by default; an AOI of several parts means "any of them".
            params.append(("options[spatial][or]", "true"))
        return params

    def geojson(self) -> dict[str, Any]:
        """The AOI as a GeoJSON geometry (a GeometryCollection when it has several shapes)."""
        if len(self.shapes) == 1:
            return self.shapes[0].geojson()
        return {"type": "GeometryCollection", "geometries": [shape.geojson() for shape in self.shapes]}

    def __str__(self) -> str:
        return "; ".join(f"{shape.kind} {shape.cmr_value()}" for shape in self.shapes)


def _number(value: float) -> str:
    text = f"{value:.8f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _coordinate(value: Any, where: str) -> Point:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) < 2:
        raise InvalidInputError(f"{where}: expected a [lon, lat] pair, got {value!r}")
    try:
        lon, lat = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        raise InvalidInputError(f"{where}: coordinates must be numbers, got {value!r}") from None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidInputError(f"{where}: coordinates must be finite, got {value!r}")
    if not -180.0 <= lon <= 180.0:
        raise InvalidInputError(
            f"{where}: longitude {lon} is out of range; longitudes are -180 to 180 (lon comes first)"
        )
    if not -90.0 <= lat <= 90.0:
        raise InvalidInputError(f"{where}: latitude {lat} is out of range; latitudes are -90 to 90 (lat comes second)")
    return lon, lat


def _signed_area(ring: Sequence[Point]) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))


def _cross(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _crossing_point(a: Point, b: Point, c: Point, d: Point) -> Point | None:
    """Where segments a-b and c-d meet (touching counts), or None."""
    if (
        max(a[0], b[0]) < min(c[0], d[0])
        or max(c[0], d[0]) < min(a[0], b[0])
        or max(a[1], b[1]) < min(c[1], d[1])
        or max(c[1], d[1]) < min(a[1], b[1])
    ):
        return None
    d1, d2, d3, d4 = _cross(a, b, c), _cross(a, b, d), _cross(c, d, a), _cross(c, d, b)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        t = d3 / (d3 - d4)
        return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
    for value, point, (p, q) in ((d1, c, (a, b)), (d2, d, (a, b)), (d3, a, (c, d)), (d4, b, (c, d))):
        if (
            value == 0
            and min(p[0], q[0]) <= point[0] <= max(p[0], q[0])
            and min(p[1], q[1]) <= point[1] <= max(p[1], q[1])
        ):
            return point
    return None


def polygon_ring(points: Iterable[Any], where: str = "polygon") -> tuple[Point, ...]:
    """Validate a polygon's outer ring and return it closed, counter-clockwise, without repeated points.

    :param points: [lon, lat] pairs, closed or not.
    :param where: how to name the polygon in errors.
    """
    if not isinstance(points, Sequence) or isinstance(points, str | bytes):
        raise InvalidInputError(f"{where}: expected a list of [lon, lat] pairs, got {_shown(points)}")
    if len(points) > MAX_POLYGON_POINTS + 1:  # the closing point repeats the first
        raise InvalidInputError(
            f"{where} has {len(points)} points; at most {MAX_POLYGON_POINTS} are accepted per polygon: "
            f"simplify it (e.g. shapely's simplify or ogr2ogr -simplify)"
        )
    ring: list[Point] = []
    for index, value in enumerate(points):
        point = _coordinate(value, f"{where}, point {index + 1}")
        if not ring or ring[-1] != point:
            ring.append(point)
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    if len(ring) < 3:
        raise InvalidInputError(f"{where} has {len(ring)} distinct point(s); a polygon needs at least 3 corners")
    ring.append(ring[0])
    edges = list(itertools.pairwise(ring)) if len(ring) <= MAX_CROSSING_CHECK_POINTS + 1 else []
    for i, j in itertools.combinations(range(len(edges)), 2):
        if j == i + 1 or (i == 0 and j == len(edges) - 1):
            continue  # neighbouring edges share a corner
        crossing = _crossing_point(*edges[i], *edges[j])
        if crossing is not None:
            raise InvalidInputError(
                f"{where} ring crosses itself at ({crossing[0]:.5f}, {crossing[1]:.5f}); give a "
                f"simple polygon (WKT POLYGON or GeoJSON)"
            )
    area = _signed_area(ring)
    if area == 0:
        raise InvalidInputError(f"{where} has no area (its points lie on one line)")
    return tuple(ring if area > 0 else reversed(ring))


def _bbox(values: Sequence[Any]) -> Shape:
    west, south = _coordinate(values[:2], "bbox (west, south)")
    east, north = _coordinate(values[2:], "bbox (east, north)")
    if south > north:
        raise InvalidInputError(f"bbox south {south} is north of north {north}; give (west, south, east, north)")
    if south == north or west == east:
        raise InvalidInputError(f"bbox {tuple(values)} has no area; give (west, south, east, north)")
    if west > east:
        # CMR reads west > east as a box across the antimeridian (CMR api.md "Bounding Box"); one wider than
        # half the globe is almost always a west/east swap, and would match nearly every granule.
        width = 360.0 - (west - east)
        if width > 180.0:
            swapped = ",".join(_number(v) for v in (east, south, west, north))
            raise InvalidInputError(
                f"bbox west {_number(west)} and east {_number(east)} look swapped: read as a box across the "
                f"antimeridian it would span {_number(round(width, 6))}° of longitude; give {swapped}, or keep west "
                f"> east only for a box across the antimeridian narrower than 180° (e.g. 170,-10,-170,10)"
            )
    return Shape("bounding_box", (west, south, east, north))


# ---------------------------------------------------------------------------------------------- WKT
_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<comma>,)|(?P<word>[A-Za-z]+)|"
    r"(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))"
)


def _wkt_tokens(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise InvalidInputError(f"WKT {text[:60]!r}: cannot read {text[position : position + 20]!r}")
        tokens.append(match.group(match.lastgroup or "word"))
        position = match.end()
    return tokens


def _wkt_nested(tokens: list[str], position: int, depth: int = 1) -> tuple[Any, int]:
    """Read a parenthesised list: numbers become coordinate tuples, parentheses nest."""
    if depth > _MAX_DEPTH:
        raise InvalidInputError(f"WKT: parentheses nested more than {_MAX_DEPTH} deep; no accepted geometry needs that")
    if tokens[position] != "(":
        raise InvalidInputError("WKT: expected '('")
    items: list[Any] = []
    position += 1
    current: list[float] = []
    while position < len(tokens):
        token = tokens[position]
        if token == "(":
            nested, position = _wkt_nested(tokens, position, depth + 1)
            items.append(nested)
            continue
        if token in (",", ")"):
            if current:
                items.append(tuple(current))
                current = []
            position += 1
            if token == ")":
                return items, position
            continue
        try:
            current.append(float(token))
        except ValueError:
            raise InvalidInputError(f"WKT: unexpected {token!r} inside coordinates") from None
        position += 1
    raise InvalidInputError("WKT: a parenthesis is not closed")


def _from_wkt(text: str) -> list[Shape]:
    body = re.sub(r"^\s*SRID=\d+;", "", text, flags=re.IGNORECASE)
    tokens = _wkt_tokens(body)
    if not tokens:
        raise InvalidInputError("the AOI is empty")
    kind = tokens[0].upper()
    position = 1
    while position < len(tokens) and tokens[position].upper() in ("Z", "M", "ZM"):
        position += 1
    if position < len(tokens) and tokens[position].upper() == "EMPTY":
        raise InvalidInputError(f"WKT {kind} EMPTY has no coordinates; give a non-empty geometry")
    if position >= len(tokens):
        raise InvalidInputError(f"WKT {text[:60]!r} has no coordinates")
    coordinates, end = _wkt_nested(tokens, position)
    if end != len(tokens):
        raise InvalidInputError(f"WKT {text[:60]!r}: unexpected text after the geometry")
    if kind == "POINT":
        if len(coordinates) != 1:
            raise InvalidInputError(f"WKT POINT needs one coordinate pair, got {len(coordinates)}")
        return [Shape("point", _coordinate(coordinates[0], "WKT POINT"))]
    if kind == "POLYGON":
        return [Shape("polygon", polygon_ring(_outer_ring(coordinates, "WKT POLYGON"), "WKT POLYGON"))]
    if kind == "MULTIPOLYGON":
        _check_shape_count(len(coordinates), "WKT MULTIPOLYGON")
        return [
            Shape("polygon", polygon_ring(_outer_ring(polygon, where), where))
            for index, polygon in enumerate(coordinates)
            for where in [f"WKT MULTIPOLYGON part {index + 1}"]
        ]
    raise InvalidInputError(f"WKT type {kind} is not supported; accepted: {ACCEPTED}")


# ------------------------------------------------------------------------------------------ GeoJSON
def _outer_ring(polygon: Any, where: str) -> Any:
    """A polygon's first ring (its outer boundary), or an error naming what was found instead."""
    if not isinstance(polygon, Sequence) or isinstance(polygon, str) or not polygon:
        raise InvalidInputError(f"{where}: expected a list of rings (lists of [lon, lat] pairs), got {_shown(polygon)}")
    return polygon[0]


def _check_shape_count(count: int, where: str) -> None:
    if count > MAX_SHAPES:
        raise InvalidInputError(f"{where} has {count} parts; at most {MAX_SHAPES} shapes are accepted in one AOI")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _list(value: Any, what: str, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInputError(f"{where}: {what} must be a list, got {_shown(value)}")
    _check_shape_count(len(value), where)
    return value


def _from_geojson(document: Any, where: str = "GeoJSON", depth: int = 1) -> list[Shape]:
    if not isinstance(document, dict):
        raise InvalidInputError(f"{where}: expected a GeoJSON object, got {_shown(document)}")
    if depth > _MAX_DEPTH:
        raise InvalidInputError(f"{where}: nested more than {_MAX_DEPTH} deep; no accepted geometry needs that")
    kind = document.get("type")
    if kind == "FeatureCollection":
        features = _list(document.get("features"), "features", where)
        shapes = [
            shape
            for index, feature in enumerate(features)
            for shape in _from_geojson(feature, f"{where} feature {index + 1}", depth + 1)
        ]
        if not shapes:
            raise InvalidInputError(f"{where} FeatureCollection has no features")
        return shapes
    if kind == "Feature":
        geometry = document.get("geometry")
        if not geometry:
            raise InvalidInputError(f"{where} Feature has no geometry")
        return _from_geojson(geometry, where, depth + 1)
    if kind == "GeometryCollection":
        return [
            shape
            for index, geometry in enumerate(_list(document.get("geometries"), "geometries", where))
            for shape in _from_geojson(geometry, f"{where} geometry {index + 1}", depth + 1)
        ]
    coordinates = document.get("coordinates")
    if not coordinates:
        raise InvalidInputError(f"{where} {kind or 'object'} has no coordinates; accepted: {ACCEPTED}")
    if kind == "Point":
        return [Shape("point", _coordinate(coordinates, f"{where} Point"))]
    if kind == "MultiPoint":
        points = _list(coordinates, "MultiPoint coordinates", f"{where} MultiPoint")
        return [Shape("point", _coordinate(point, f"{where} MultiPoint")) for point in points]
    if kind == "Polygon":
        return [Shape("polygon", polygon_ring(_outer_ring(coordinates, f"{where} Polygon"), f"{where} Polygon"))]
    if kind == "MultiPolygon":
        polygons = _list(coordinates, "MultiPolygon coordinates", f"{where} MultiPolygon")
        return [
            Shape("polygon", polygon_ring(_outer_ring(polygon, part), part))
            for index, polygon in enumerate(polygons)
            for part in [f"{where} MultiPolygon part {index + 1}"]
        ]
    raise InvalidInputError(f"{where} type {kind!r} is not supported; accepted: {ACCEPTED}")


def parse_aoi(value: Any) -> Aoi:
    """Validate an area of interest in any accepted form.

    :param value: WKT, GeoJSON (dict or JSON text), ``(west, south, east, north)``, ``(lon, lat)``,
        the same as comma-separated text (``"-118.1445,34.1478"``), or an :class:`Aoi`.
    """
    if isinstance(value, Aoi):
        return value
    if (
        value is None
        or (isinstance(value, str | Sequence | dict) and not value)
        or (isinstance(value, str) and not value.strip())
    ):
        # An AOI template that rendered to "" must not become "no spatial filter" (a worldwide search).
        raise InvalidInputError(
            f"the AOI is empty ({value!r}); give {ACCEPTED}. To search without a spatial filter, pass no AOI "
            f"(aoi=None; CmrSearchOperator also needs allow_global=True)"
        )
    if isinstance(value, str) and len(value) > MAX_AOI_CHARACTERS:
        raise InvalidInputError(
            f"the AOI text has {len(value)} characters; at most {MAX_AOI_CHARACTERS} are accepted: simplify it"
        )
    try:
        aoi = _parse(value)
    except RecursionError:
        raise InvalidInputError(f"the AOI is nested too deeply to be {ACCEPTED}") from None
    except (TypeError, AttributeError, KeyError, IndexError) as error:
        raise InvalidInputError(f"the AOI is malformed ({type(error).__name__}: {error}); give {ACCEPTED}") from None
    _check_shape_count(len(aoi.shapes), "the AOI")
    return aoi


def _parse(value: Any) -> Aoi:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("{", "[")):  # GeoJSON, or a templated list rendered as text
            try:
                value = json.loads(text)
            except ValueError as error:
                raise InvalidInputError(f"the AOI looks like JSON but is not valid JSON: {error}") from None
        elif re.fullmatch(r"[-+0-9.eE\s,]+", text):
            value = [v for v in text.replace(" ", "").split(",") if v]
        else:
            return Aoi(tuple(_from_wkt(text)))
    if isinstance(value, dict):
        return Aoi(tuple(_from_geojson(value)))
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) == 2:
            return Aoi((Shape("point", _coordinate(value, "point (lon, lat)")),))
        if len(value) == 4:
            return Aoi((_bbox(value),))
        raise InvalidInputError(
            f"an AOI sequence needs 2 numbers (lon, lat) or 4 (west, south, east, north), got "
            f"{len(value)}: {list(value)[:6]}"
        )
    raise InvalidInputError(f"cannot use {type(value).__name__} {value!r} as an AOI; give {ACCEPTED}")
