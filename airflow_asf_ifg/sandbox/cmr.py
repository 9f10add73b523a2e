"""The sandbox's CMR search: granule and collection queries with CMR's parameters, paging and errors.

Follows CMR's search API documentation (``search-app/docs/api.md``): parameter names with or without
``[]``, GET or form POST, ``CMR-Search-After`` paging, ``CMR-Hits``/``CMR-Took``/``CMR-Request-Id``,
and ``{"errors": [...]}`` bodies with CMR's messages.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import json
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from airflow_asf_ifg.client import geometry
from airflow_asf_ifg.sandbox import records
from airflow_asf_ifg.sandbox.catalogue import COLLECTIONS, Collection, Granule
from airflow_asf_ifg.sandbox.web import send

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_asf_ifg.sandbox.config import SandboxConfig
    from airflow_asf_ifg.sandbox.records import Urls
    from airflow_asf_ifg.sandbox.state import Stats

MAX_PAGE_SIZE = 2000
MAX_PAGING_DEPTH = 1_000_000
UMM_CONTENT_TYPE = "application/vnd.nasa.cmr.umm_results+json;version=1.6.6"

_GRANULE_PARAMETERS = {
    "collection_concept_id",
    "echo_collection_id",
    "concept_id",
    "echo_granule_id",
    "short_name",
    "version",
    "entry_title",
    "dataset_id",
    "provider",
    "provider_id",
    "point",
    "bounding_box",
    "polygon",
    "temporal",
    "revision_date",
    "updated_since",
    "granule_ur",
    "producer_granule_id",
    "readable_granule_name",
    "sort_key",
    "page_size",
    "page_num",
    "offset",
    "attribute",
    "downloadable",
    "online_only",
    "browse_only",
    "browsable",
    "platform",
    "day_night_flag",
}
_COLLECTION_PARAMETERS = {
    "concept_id",
    "echo_collection_id",
    "short_name",
    "version",
    "entry_title",
    "dataset_id",
    "provider",
    "provider_id",
    "provider_short_name",
    "keyword",
    "page_size",
    "page_num",
    "sort_key",
    "has_granules",
}
_COLLECTION_SELECTORS = (
    "collection_concept_id",
    "echo_collection_id",
    "concept_id",
    "echo_granule_id",
    "short_name",
    "entry_title",
    "dataset_id",
    "provider",
    "provider_id",
)
_SORT_FIELDS = (
    "start_date",
    "end_date",
    "revision_date",
    "granule_ur",
    "producer_granule_id",
    "data_size",
    "provider",
    "concept_id",
    "platform",
)
_NOT_ACROSS_COLLECTIONS = (
    "The CMR does not allow querying across granules in all collections. To help optimize your search, "
    "you should limit your query using conditions that identify one or more collections, such as "
    "provider, concept_id, collection_concept_id, short_name, version or entry_title."
)


class CmrError(Exception):
    """A query CMR would refuse; becomes ``{"errors": [...]}`` with its status.

    :param messages: CMR's error messages.
    :param status: HTTP status.
    """

    def __init__(self, *messages: str, status: int = 400) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)
        self.status = status


@dataclass
class Query:
    """A parsed CMR query: parameter name (without ``[]``) → values, in order.

    :param values: parameter name → its values.
    :param options: ``options[...]`` parameters, keyed by the part inside the brackets.
    """

    values: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> list[str]:
        """All values of a parameter.

        :param name: parameter name without ``[]``.
        """
        return self.values.get(name, [])

    def one(self, name: str) -> str | None:
        """The single value of a parameter, or None.

        :param name: parameter name without ``[]``.
        """
        values = self.get(name)
        return values[-1] if values else None

    def fingerprint(self) -> str:
        """A digest of everything but paging, to tie a search-after value to the query that made it."""
        kept = {k: v for k, v in sorted(self.values.items()) if k not in ("page_size", "page_num", "offset")}
        return hashlib.sha256(json.dumps([kept, sorted(self.options.items())]).encode()).hexdigest()


async def parse_query(request: web.Request, known: set[str]) -> Query:
    """Read GET query string and form POST body into a :class:`Query`, rejecting unknown parameters.

    :param request: the HTTP request.
    :param known: accepted parameter names.
    """
    pairs = list(request.query.items())
    if request.method == "POST":
        pairs += [(name, str(value)) for name, value in (await request.post()).items()]
    query = Query()
    for raw_name, value in pairs:
        name = raw_name[:-2] if raw_name.endswith("[]") else raw_name
        if name.startswith("options["):
            query.options[name[len("options[") :].rstrip("]").replace("][", ".")] = str(value)
            continue
        if name not in known:
            raise CmrError(f"Parameter [{name}] was not recognized.")
        query.values.setdefault(name, []).append(str(value))
    return query


def _page_size(query: Query) -> int:
    raw = query.one("page_size")
    if raw is None:
        return 10
    if not raw.isdigit() or not 0 <= int(raw) <= MAX_PAGE_SIZE:
        raise CmrError(f"page_size must be a number between 0 and {MAX_PAGE_SIZE}")
    return int(raw)


def _page_num(query: Query, page_size: int) -> int:
    raw = query.one("page_num")
    offset = query.one("offset")
    if raw is not None and (not raw.isdigit() or int(raw) < 1):
        raise CmrError("page_num must be a number greater than or equal to 1")
    if offset is not None:
        if not offset.isdigit():
            raise CmrError("offset must be an integer greater than or equal to 0")
        return int(offset) // max(page_size, 1) + 1
    number = int(raw) if raw else 1
    if number * page_size > MAX_PAGING_DEPTH:
        raise CmrError(
            f"The paging depth (page_num * page_size) of [{number * page_size}] exceeds the "
            f"limit of {MAX_PAGING_DEPTH}."
        )
    return number


def parse_datetime(text: str, what: str) -> datetime:
    """A CMR datetime (``2018-04-22T13:03:37Z``, fractions, offsets or a bare date), in UTC.

    :param text: the value.
    :param what: the parameter it came from, for the error.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CmrError(f"[{text}] is not a valid datetime for {what}.") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_range(text: str, what: str) -> tuple[datetime | None, datetime | None]:
    """``start,end`` or ISO ``start/end`` with either end open.

    :param text: the range.
    :param what: the parameter it came from, for errors.
    """
    parts = text.split("/") if "/" in text and "," not in text else text.split(",")
    if len(parts) > 2 and any(p.strip() for p in parts[2:]):
        raise CmrError(f"The sandbox does not support periodic {what} ranges: [{text}]; give start,end.")
    start = parse_datetime(parts[0], what) if parts[0].strip() else None
    end = parse_datetime(parts[1], what) if len(parts) > 1 and parts[1].strip() else None
    if start and end and start > end:
        raise CmrError(f"The start date [{parts[0]}] must be before the end date [{parts[1]}] in {what}.")
    return start, end


def _numbers(text: str, what: str) -> list[float]:
    try:
        return [float(n) for n in text.split(",")]
    except ValueError:
        raise CmrError(f"[{text}] is not a valid {what}: expected comma-separated numbers.") from None


def _check_point(lon: float, lat: float) -> None:
    if not -180 <= lon <= 180:
        raise CmrError(f"Point longitude [{lon}] must be within -180.0 and 180.0")
    if not -90 <= lat <= 90:
        raise CmrError(f"Point latitude [{lat}] must be within -90 and 90.0")


def parse_polygon(text: str) -> geometry.Ring:
    """A CMR ``polygon`` value: closed, counter-clockwise, simple, at least 4 points.

    :param text: ``lon1,lat1,lon2,lat2,...``.
    """
    numbers = _numbers(text, "polygon")
    if len(numbers) % 2:
        raise CmrError(f"Polygon [{text}] has an odd number of ordinates; give lon,lat pairs.")
    ring = list(zip(numbers[::2], numbers[1::2], strict=True))
    for lon, lat in ring:
        _check_point(lon, lat)
    if len(ring) < 4:
        raise CmrError("Polygons must have at least 4 points (3 distinct corners and the closing point).")
    if ring[0] != ring[-1]:
        raise CmrError("The polygon boundary was not closed. The last point must be equal to the first point.")
    for a, b in itertools.pairwise(ring):
        if a == b:
            raise CmrError(f"The polygon boundary contained duplicate points at [{a[0]}, {a[1]}].")
    crossing = geometry.self_intersection(ring)
    if crossing is not None:
        raise CmrError(
            f"The polygon boundary intersected itself at the following points: [{crossing[0]:.6g}, {crossing[1]:.6g}]"
        )
    if geometry.signed_area(ring) <= 0:
        raise CmrError(
            "The polygon boundary points are listed in the wrong order (clockwise vs counter "
            "clockwise). Please see the API documentation for the correct order."
        )
    return ring


def parse_bounding_box(text: str) -> list[geometry.Ring]:
    """A CMR ``bounding_box`` (W,S,E,N) as rings; one crossing the antimeridian gives two.

    :param text: ``west,south,east,north``.
    """
    numbers = _numbers(text, "bounding_box")
    if len(numbers) != 4:
        raise CmrError(f"Bounding box [{text}] must have 4 values: west,south,east,north.")
    west, south, east, north = numbers
    _check_point(west, south)
    _check_point(east, north)
    if north < south:
        raise CmrError(f"The bounding rectangle north value [{north}] was less than the south value [{south}]")
    if west <= east:
        return [geometry.box_ring(west, south, east, north)]
    return [geometry.box_ring(west, south, 180.0, north), geometry.box_ring(-180.0, south, east, north)]


@dataclass
class AttributeFilter:
    """One ``attribute[]`` condition: ``type,NAME,value`` or ``type,NAME,min,max``.

    :param kind: ``int``, ``float``, ``string``, ``datetime``...
    :param name: additional attribute name.
    :param value: exact value (or None for a range).
    :param low: range minimum (None = open).
    :param high: range maximum (None = open).
    """

    kind: str
    name: str
    value: str | None
    low: str | None
    high: str | None

    @classmethod
    def parse(cls, text: str) -> AttributeFilter:
        """Parse an ``attribute[]`` value.

        :param text: the parameter value.
        """
        parts = text.split(",")
        if len(parts) == 1:
            return cls("exists", parts[0], None, None, None)
        if parts[0] not in ("int", "float", "string", "date", "time", "datetime") or len(parts) not in (3, 4):
            raise CmrError(
                f"Invalid format for attribute [{text}]: expected type,NAME,value or "
                f"type,NAME,min,max with type one of int, float, string, date, time, datetime."
            )
        if len(parts) == 3:
            return cls(parts[0], parts[1], parts[2], None, None)
        return cls(parts[0], parts[1], None, parts[2] or None, parts[3] or None)

    def _convert(self, raw: str) -> object:
        if self.kind == "int":
            return int(float(raw))
        if self.kind == "float":
            return float(raw)
        return raw

    def matches(self, attributes: dict[str, list[str]]) -> bool:
        """Whether a granule's additional attributes satisfy the condition.

        :param attributes: attribute name → values.
        """
        values = attributes.get(self.name)
        if values is None:
            return False
        if self.kind == "exists":
            return True
        try:
            converted = [self._convert(v) for v in values]
            if self.value is not None:
                wanted = self._convert(self.value)
                return any(
                    (str(v).lower() == str(wanted).lower()) if self.kind == "string" else v == wanted for v in converted
                )
            low = self._convert(self.low) if self.low is not None else None
            high = self._convert(self.high) if self.high is not None else None
        except ValueError:
            raise CmrError(f"Invalid {self.kind} value in attribute [{self.name}].") from None
        # Values of one attribute share a type (int, float, str or datetime), which mypy cannot see.
        return any(
            (low is None or v >= low) and (high is None or v <= high)  # type: ignore[operator]
            for v in converted
        )


@dataclass
class GranuleFilter:
    """The conditions of a granule query, parsed and checked before any matching.

    :param query: the parsed query.
    """

    query: Query
    collections: list[Collection] = field(default_factory=list)
    spatial: list[tuple[str, object]] = field(default_factory=list)
    temporal: list[tuple[datetime | None, datetime | None]] = field(default_factory=list)
    revision: list[tuple[datetime | None, datetime | None]] = field(default_factory=list)
    attributes: list[AttributeFilter] = field(default_factory=list)

    def __post_init__(self) -> None:
        query = self.query
        if not any(query.get(name) for name in _COLLECTION_SELECTORS):
            raise CmrError(_NOT_ACROSS_COLLECTIONS)
        for text in query.get("point"):
            numbers = _numbers(text, "point")
            if len(numbers) != 2:
                raise CmrError(f"Point [{text}] must be lon,lat.")
            _check_point(*numbers)
            self.spatial.append(("point", (numbers[0], numbers[1])))
        for text in query.get("bounding_box"):
            self.spatial.append(("rings", parse_bounding_box(text)))
        for text in query.get("polygon"):
            self.spatial.append(("rings", [parse_polygon(text)]))
        self.temporal = [parse_range(t, "temporal") for t in query.get("temporal")]
        self.revision = [parse_range(t, "revision_date") for t in query.get("revision_date")]
        for text in query.get("updated_since"):
            self.revision.append((parse_datetime(text, "updated_since"), None))
        self.attributes = [AttributeFilter.parse(t) for t in query.get("attribute")]

    def _collection_ok(self, granule: Granule) -> bool:
        query, collection = self.query, granule.collection
        ids = query.get("collection_concept_id") + query.get("echo_collection_id")
        if ids and collection.concept_id not in ids:
            return False
        concept_ids = query.get("concept_id") + query.get("echo_granule_id")
        if concept_ids and granule.concept_id not in concept_ids and collection.concept_id not in concept_ids:
            return False
        if query.get("short_name") and collection.short_name not in query.get("short_name"):
            return False
        if query.get("version") and collection.version not in query.get("version"):
            return False
        titles = query.get("entry_title") + query.get("dataset_id")
        if titles and collection.title not in titles:
            return False
        providers = [p.upper() for p in query.get("provider") + query.get("provider_id")]
        return not providers or "ASF" in providers

    def _spatial_ok(self, granule: Granule) -> bool:
        if not self.spatial:
            return True
        results = []
        for kind, shape in self.spatial:
            if kind == "point":
                results.append(geometry.point_in_ring(shape, granule.footprint))  # type: ignore[arg-type]
            else:  # a point's shape is a (lon, lat) pair, any other a list of rings: the kind says which
                results.append(any(geometry.rings_intersect(r, granule.footprint) for r in shape))  # type: ignore[attr-defined]
        # CMR ANDs spatial conditions unless options[spatial][or]=true.
        return any(results) if self.query.options.get("spatial.or") == "true" else all(results)

    @staticmethod
    def _in_ranges(
        ranges: list[tuple[datetime | None, datetime | None]], start: datetime, end: datetime, use_and: bool
    ) -> bool:
        if not ranges:
            return True
        hits = [(low is None or end >= low) and (high is None or start <= high) for low, high in ranges]
        return all(hits) if use_and else any(hits)

    def matches(self, granule: Granule) -> bool:
        """Whether a granule satisfies every condition.

        :param granule: the granule.
        """
        query = self.query
        if not self._collection_ok(granule):
            return False
        if query.get("granule_ur") and granule.granule_ur not in query.get("granule_ur"):
            return False
        names = query.get("producer_granule_id") + query.get("readable_granule_name")
        if names and granule.producer_granule_id not in names and granule.granule_ur not in names:
            return False
        if query.get("platform") and granule.platform.lower() not in [p.lower() for p in query.get("platform")]:
            return False
        # Temporal ranges are ORed unless options[temporal][and]=true (CMR api.md "Temporal Range searches").
        if not self._in_ranges(
            self.temporal, granule.start, granule.end, self.query.options.get("temporal.and") == "true"
        ):
            return False
        if not self._in_ranges(self.revision, granule.revision_date, granule.revision_date, False):
            return False
        attributes = records.additional_attributes(granule)
        # attribute[] conditions are ANDed unless options[attribute][or]=true.
        checks = [a.matches(attributes) for a in self.attributes]
        if checks and not (any(checks) if query.options.get("attribute.or") == "true" else all(checks)):
            return False
        return self._spatial_ok(granule)


def _sort_spec(query: Query) -> list[tuple[str, bool]]:
    """(field, descending) pairs; CMR's default granule order is provider then start_date."""
    keys = query.get("sort_key")
    if not keys:
        return [("provider", False), ("start_date", False)]
    spec = []
    for raw in keys:
        descending = raw.startswith("-")
        name = raw.lstrip("+- ")
        if name not in _SORT_FIELDS:
            raise CmrError(f"The sort key [{name}] is not a valid field for sorting granules.")
        spec.append((name, descending))
    return spec


def _sort_value(granule: Granule, name: str) -> object:
    if name in ("start_date", "end_date", "revision_date"):
        moment = {"start_date": granule.start, "end_date": granule.end, "revision_date": granule.revision_date}[name]
        return int(moment.timestamp() * 1000)
    if name == "data_size":
        return records.data_size_mb(granule)
    if name == "provider":
        return "asf"
    if name == "concept_id":
        return granule.concept_id.lower()
    if name == "platform":
        return granule.platform.lower()
    return getattr(granule, name).lower()


def _compare(left: list[object], right: list[object], spec: list[tuple[str, bool]]) -> int:
    for index, value in enumerate(left):
        other = right[index]
        if value == other:
            continue
        smaller = value < other  # type: ignore[operator]  # one sort key's values share a type
        descending = spec[index][1] if index < len(spec) else False
        return (1 if smaller else -1) if descending else (-1 if smaller else 1)
    return 0


class GranuleSearch:
    """Granule and collection search over the sandbox catalogue.

    :param catalogue: the granules.
    :param urls: the services' base URLs (for RelatedUrls).
    :param config: returns the current sandbox settings (``cmr_timed_out``, ``cmr_hits_surplus``).
    """

    def __init__(self, catalogue: list[Granule], urls: Urls, config: Callable[[], SandboxConfig]) -> None:
        self._catalogue = catalogue
        self._urls = urls
        self._config = config
        # search-after value → fingerprint of the query that produced it
        self._cursors: dict[str, str] = {}
        # query fingerprint → its matches in order: the catalogue never changes, and paging repeats queries
        self._matches: OrderedDict[str, list[tuple[list[object], Granule]]] = OrderedDict()

    def _sorted_matches(self, query: Query, spec: list[tuple[str, bool]]) -> list[tuple[list[object], Granule]]:
        fingerprint = query.fingerprint()
        cached = self._matches.get(fingerprint)
        if cached is not None:
            self._matches.move_to_end(fingerprint)
            return cached
        granule_filter = GranuleFilter(query)
        keyed: list[tuple[list[object], Granule]] = [
            ([_sort_value(g, name) for name, _ in spec] + [g.sequence], g)
            for g in self._catalogue
            if granule_filter.matches(g)
        ]

        def by_spec(a: tuple[list[object], Granule], b: tuple[list[object], Granule]) -> int:
            return _compare(a[0], b[0], spec)

        keyed.sort(key=functools.cmp_to_key(by_spec))
        self._matches[fingerprint] = keyed
        if len(self._matches) > 32:
            self._matches.popitem(last=False)
        return keyed

    def _cursor_values(self, header: str, spec: list[tuple[str, bool]], query: Query) -> list[object]:
        try:
            values = json.loads(header)
        except ValueError:
            values = None
        if not isinstance(values, list) or len(values) != len(spec) + 1:
            raise CmrError("search-after header value is invalid, must be in the form of a JSON array.")
        issued_for = self._cursors.get(json.dumps(values, separators=(",", ":")))
        if issued_for is not None and issued_for != query.fingerprint():
            raise CmrError(
                "search-after value was issued for a different query; send the same parameters "
                "as the request that returned it."
            )
        return values

    def search(self, query: Query, search_after: str | None) -> tuple[int, list[Granule], list[object] | None]:
        """Run a granule query: (hits, this page's granules, the next search-after value).

        :param query: the parsed query.
        :param search_after: the ``CMR-Search-After`` request header, if any.
        """
        page_size = _page_size(query)
        if search_after is not None:
            for name in ("page_num", "offset"):
                if query.get(name):
                    raise CmrError(f"{name} is not allowed with search-after")
        page_num = _page_num(query, page_size)
        spec = _sort_spec(query)
        matched = self._sorted_matches(query, spec)
        hits = len(matched)
        if page_size == 0:
            return hits, [], None
        if search_after is not None:
            cursor = self._cursor_values(search_after, spec, query)
            start = bisect.bisect_right(matched, 0, key=lambda entry: _compare(entry[0], cursor, spec) > 0)
            if self.config.cmr_page_overlap:
                start = max(0, start - 1)
            page = matched[start : start + page_size]
        else:
            page = matched[(page_num - 1) * page_size : page_num * page_size]
        if not page:
            return hits, [], None
        next_value = page[-1][0]
        self._cursors[json.dumps(next_value, separators=(",", ":"))] = query.fingerprint()
        return hits, [g for _, g in page], next_value

    @property
    def config(self) -> SandboxConfig:
        """The current sandbox settings."""
        return self._config()

    @staticmethod
    def collections(query: Query) -> list[Collection]:
        """Collections matching a collection query.

        :param query: the parsed query.
        """
        found = []
        for collection in COLLECTIONS:
            ids = query.get("concept_id") + query.get("echo_collection_id")
            if ids and collection.concept_id not in ids:
                continue
            if query.get("short_name") and collection.short_name not in query.get("short_name"):
                continue
            if query.get("version") and collection.version not in query.get("version"):
                continue
            titles = query.get("entry_title") + query.get("dataset_id")
            if titles and collection.title not in titles:
                continue
            providers = [
                p.upper() for p in query.get("provider") + query.get("provider_short_name") + query.get("provider_id")
            ]
            if providers and "ASF" not in providers:
                continue
            keyword = (query.one("keyword") or "").lower().strip("*")
            if keyword and keyword not in f"{collection.short_name} {collection.title}".lower():
                continue
            found.append(collection)
        return found


def _headers(hits: int, started: float, request_id: str) -> dict[str, str]:
    return {
        "CMR-Hits": str(hits),
        "CMR-Took": str(int((time.monotonic() - started) * 1000)),
        "CMR-Request-Id": request_id,
        "X-Request-Id": request_id,
    }


def _error_response(error: CmrError, request_id: str) -> web.Response:
    return web.json_response(
        {"errors": error.messages},
        status=error.status,
        headers={"CMR-Request-Id": request_id, "X-Request-Id": request_id},
    )


def routes(search: GranuleSearch, urls: Urls, stats: Stats) -> web.RouteTableDef:
    """CMR's search routes over ``search``.

    :param search: the granule search.
    :param urls: the services' base URLs.
    :param stats: where POST searches and ``Client-Id`` values are counted.
    """
    table = web.RouteTableDef()

    async def granules(request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        request_id = request.headers.get("CMR-Request-Id") or str(uuid.uuid4())
        stats.event(f"cmr_{request.method.lower()}")
        stats.event(f"cmr_client_id={request.headers.get('Client-Id', '')}")
        result_format = request.match_info["format"]
        if result_format != "json" and not result_format.startswith("umm_json"):
            return _error_response(
                CmrError(
                    f"The mime type [{result_format}] is not supported by the sandbox; use json or umm_json.",
                    status=400,
                ),
                request_id,
            )
        try:
            query = await parse_query(request, _GRANULE_PARAMETERS)
            hits, page, next_value = search.search(query, request.headers.get("CMR-Search-After"))
        except CmrError as error:
            return _error_response(error, request_id)
        config = search.config
        if config.cmr_timed_out:
            # CMR answers what it found before its 170 s limit: fewer granules, no error (CMR #820).
            page = page[: len(page) // 2]
            headers = {"CMR-Timed-Out": "true"}
        else:
            headers = {}
        headers.update(_headers(hits + config.cmr_hits_surplus, started, request_id))
        if next_value is not None:
            headers["CMR-Search-After"] = json.dumps(next_value, separators=(",", ":"))
        took = int(headers["CMR-Took"])
        if result_format == "json":
            body = records.atom_feed(page, urls, str(request.url), config.tea)
            return await send(
                request, json.dumps(body).encode(), headers=headers, content_type="application/json;charset=utf-8"
            )
        body = {
            "hits": int(headers["CMR-Hits"]),
            "took": took,
            "items": [records.umm_item(g, urls, config.tea) for g in page],
        }
        return await send(request, json.dumps(body).encode(), headers=headers, content_type=UMM_CONTENT_TYPE)

    async def collections(request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        try:
            query = await parse_query(request, _COLLECTION_PARAMETERS)
            page_size = _page_size(query)
            page_num = _page_num(query, page_size)
        except CmrError as error:
            return _error_response(error, request_id)
        found = search.collections(query)
        page = found[(page_num - 1) * page_size : page_num * page_size]
        headers = _headers(len(found), started, request_id)
        if request.match_info["format"] == "json":
            body = records.collection_feed(page, str(request.url))
            return await send(
                request, json.dumps(body).encode(), headers=headers, content_type="application/json;charset=utf-8"
            )
        body = {
            "hits": len(found),
            "took": int(headers["CMR-Took"]),
            "items": [records.collection_umm_item(c) for c in page],
        }
        return await send(request, json.dumps(body).encode(), headers=headers, content_type=UMM_CONTENT_TYPE)

    # One route per search for any method, so the stats count GET and POST searches together.
    table.route("*", r"/search/granules.{format:[a-z0-9_]+}", name="cmr_granules")(_get_or_post(granules))
    table.route("*", r"/search/collections.{format:json|umm_json}", name="cmr_collections")(_get_or_post(collections))
    return table


def _get_or_post(handler):
    async def only_get_or_post(request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
        return await handler(request)

    return only_get_or_post


def throttled() -> web.Response:
    """CMR's rate-limit answer: 429 with ``Retry-After`` (CMR api.md "Moderating Client Request Traffic")."""
    return web.json_response(
        {"errors": ["Too many requests; please retry after the Retry-After period."]},
        status=429,
        headers={"Retry-After": "1"},
    )
