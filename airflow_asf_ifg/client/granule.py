"""Granules and their files, parsed from CMR's UMM-G (``granules.umm_json``) and Atom JSON (``granules.json``).

Field meanings follow UMM-G 1.6 and CMR's Atom results (``asf_cmr_edl.md`` section 4). URLs always come
from the record's ``RelatedUrls``/links, never from a hard-coded host.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from airflow_asf_ifg.exceptions import InvalidInputError

__all__ = [
    "ROLES",
    "SOURCES",
    "Granule",
    "ProductFile",
    "check_source",
    "checked_roles",
    "file_name",
    "format_time",
    "parse_time",
]

_ATOM_REL = "http://esipfed.org/ns/fedsearch/1.1/"
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5}
_ROLE_ORDER = {"data": 0, "browse": 1, "metadata": 2}


def parse_time(value: str | None) -> datetime | None:
    """A CMR timestamp (``2024-08-16T02:07:49.000Z``) as an aware UTC datetime.

    :param value: the timestamp, or None.
    """
    if not value:
        return None
    moment = datetime.fromisoformat(value.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_time(value: datetime | None) -> str | None:
    """An aware datetime as CMR writes it (``2024-08-16T02:07:49Z``, fractions kept).

    :param value: the datetime, or None.
    """
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return text


def file_name(url: str) -> str:
    """The file name at the end of a URL's path.

    :param url: an https or s3 URL.
    """
    # Plain string splitting: urlsplit costs more than the rest of a granule's parsing together.
    path = url.split("?", 1)[0].split("#", 1)[0]
    if "://" in path:
        path = path.split("://", 1)[1].partition("/")[2]
    name = path.rsplit("/", 1)[-1]
    return unquote(name) if "%" in name else name


def safe_file_name(name: str, where: str = "file name") -> str:
    """``name`` if it is one plain file name, else an InvalidInputError: it would write outside its folder.

    A URL's last segment is unquoted, so ``..%2F..%2Fx`` names ``../../x``; a name with ``/``, ``\\``, NUL,
    ``..`` or a leading ``.`` is refused before it becomes a local path or an S3 key.

    :param name: the file name.
    :param where: how to name it in the error (the URL it came from).
    """
    if not name or not name.strip():
        raise InvalidInputError(f"{where} names no file")
    bad = [c for c in ("/", "\\", "\0") if c in name]
    if bad or ".." in name or name.startswith("."):
        shown = "NUL" if "\0" in name else ", ".join(repr(c) for c in bad) or "'..' or a leading '.'"
        raise InvalidInputError(
            f"{where}: file name {name!r} contains {shown}; it would be written outside the output folder, "
            f"so it is refused: give a URL whose last path segment is a plain file name"
        )
    return name


def check_key_prefix(prefix: str, where: str = "dest_prefix") -> str:
    """``prefix`` if no segment of it is ``..`` and it does not start with ``/``, else an InvalidInputError.

    :param prefix: an S3 key prefix (already filled in).
    :param where: how to name it in the error.
    """
    segments = prefix.replace("\\", "/").split("/")
    if prefix.startswith(("/", "\\")) or any(s in (".", "..") for s in segments) or "\0" in prefix:
        raise InvalidInputError(
            f"{where} {prefix!r} starts with '/' or has a '.' or '..' segment (or a NUL); give a relative "
            f"prefix such as '{{collection}}/{{granule_ur}}/'"
        )
    return prefix


#: The roles of a granule's files: the product itself, its browse image, its metadata file.
ROLES = ("data", "browse", "metadata")


def checked_roles(files: object) -> tuple[str, ...]:
    """``files`` as a tuple of roles, or a ValueError naming what is accepted.

    :param files: a role or a sequence of roles, e.g. ``["data", "browse"]``.
    """
    roles = (files,) if isinstance(files, str) else tuple(files) if isinstance(files, list | tuple) else None
    if not roles or any(role not in ROLES for role in roles):
        raise InvalidInputError(f"files {files!r} must be a non-empty list of {list(ROLES)}")
    return roles


#: Where a copy reads a file: ``auto`` (S3 when CMR lists an ``s3://`` URL, else HTTPS), ``s3`` or ``https``.
SOURCES = ("auto", "s3", "https")


def check_source(source: str) -> str:
    """``source`` if it is one of :data:`SOURCES`, else a ValueError naming them.

    :param source: ``auto``, ``s3`` or ``https``.
    """
    if source not in SOURCES:
        raise InvalidInputError(f"source {source!r} is not one of {SOURCES}")
    return source


@dataclass
class ProductFile:
    """One downloadable file of a granule.

    :param name: file name (the last part of its URL).
    :param role: ``data``, ``browse`` or ``metadata``.
    :param url: HTTPS URL (through Earthdata Login), if any.
    :param s3_url: ``s3://bucket/key`` for direct, in-region access, if any.
    :param size_bytes: size from CMR, if published.
    :param checksum: checksum value from CMR, if published.
    :param checksum_algorithm: its algorithm (``MD5``, ``SHA-256``...).
    """

    name: str
    role: str = "data"
    url: str | None = None
    s3_url: str | None = None
    size_bytes: int | None = None
    checksum: str | None = None
    checksum_algorithm: str | None = None


@dataclass
class Granule:
    """One CMR granule with what ingestion needs.

    :param granule_ur: the GranuleUR.
    :param concept_id: CMR concept id (``G...-ASF``); None for a bare UMM-G document.
    :param collection_concept_id: the collection's concept id, when known.
    :param short_name: collection ShortName, when known.
    :param version: collection Version, when known.
    :param producer_granule_id: the producer's granule id, when published.
    :param revision_date: when CMR last revised the record.
    :param start: acquisition start (UTC).
    :param end: acquisition end (UTC).
    :param footprint: GeoJSON geometry of the footprint.
    :param files: downloadable files, data first.
    :param browse_urls: browse image URLs.
    :param s3_credentials_url: the endpoint that gives S3 keys for this granule's ``s3_url``s.
    :param attributes: AdditionalAttributes, name → values.
    :param platforms: platform short names.
    :param revision_id: CMR's revision id of the record (UMM-JSON only; a reprocessing raises it).
    """

    granule_ur: str
    concept_id: str | None = None
    collection_concept_id: str | None = None
    short_name: str | None = None
    version: str | None = None
    producer_granule_id: str | None = None
    revision_date: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    footprint: dict[str, Any] | None = None
    files: list[ProductFile] = field(default_factory=list)
    browse_urls: list[str] = field(default_factory=list)
    s3_credentials_url: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    platforms: list[str] = field(default_factory=list)
    revision_id: int | None = None

    # ------------------------------------------------------------------------------ views
    @property
    def data_files(self) -> list[ProductFile]:
        """The product files (role ``data``)."""
        return [f for f in self.files if f.role == "data"]

    @property
    def name(self) -> str:
        """The name to show a person: the GranuleUR."""
        return self.granule_ur

    # ------------------------------------------------------------------------------ UMM-G
    @classmethod
    def from_umm(cls, item: dict[str, Any]) -> Granule:
        """Parse a ``granules.umm_json`` item (``meta`` + ``umm``) or a bare UMM-G document.

        :param item: the item or document.
        """
        meta = item.get("meta", {}) if "umm" in item else {}
        umm = item.get("umm", item)
        if "GranuleUR" not in umm:
            raise ValueError(f"not a UMM-G record: no GranuleUR among {sorted(umm)[:12]}")
        reference = umm.get("CollectionReference") or {}
        temporal = umm.get("TemporalExtent") or {}
        range_time = temporal.get("RangeDateTime") or {}
        single = temporal.get("SingleDateTime")
        data_granule = umm.get("DataGranule") or {}
        producer = next(
            (
                i.get("Identifier")
                for i in data_granule.get("Identifiers") or []
                if i.get("IdentifierType") == "ProducerGranuleId"
            ),
            None,
        )
        revision = meta.get("revision-date") or next(
            (d.get("Date") for d in umm.get("ProviderDates") or [] if d.get("Type") == "Update"), None
        )
        granule = cls(
            granule_ur=umm["GranuleUR"],
            concept_id=meta.get("concept-id"),
            collection_concept_id=meta.get("collection-concept-id"),
            short_name=reference.get("ShortName"),
            version=reference.get("Version"),
            producer_granule_id=producer,
            revision_date=parse_time(revision),
            revision_id=meta["revision-id"] if isinstance(meta.get("revision-id"), int) else None,
            start=parse_time(range_time.get("BeginningDateTime") or single),
            end=parse_time(range_time.get("EndingDateTime") or single),
            footprint=_umm_footprint(umm.get("SpatialExtent") or {}),
            attributes={
                a["Name"]: [str(v) for v in a.get("Values") or []]
                for a in umm.get("AdditionalAttributes") or []
                if "Name" in a
            },
            platforms=[p["ShortName"] for p in umm.get("Platforms") or [] if "ShortName" in p],
        )
        archive = data_granule.get("ArchiveAndDistributionInformation") or []
        granule._add_umm_files(umm.get("RelatedUrls") or [], archive)
        return granule

    def _add_umm_files(self, related_urls: list[dict[str, Any]], archive: list[dict[str, Any]]) -> None:
        files: dict[str, ProductFile] = {}
        for related in related_urls:
            url, kind = related.get("URL", ""), related.get("Type", "")
            if not url:
                continue
            if "/s3credentials" in url:
                self.s3_credentials_url = self.s3_credentials_url or url
                continue
            role = {
                "GET DATA": "data",
                "GET DATA VIA DIRECT ACCESS": "data",
                "GET RELATED VISUALIZATION": "browse",
                "EXTENDED METADATA": "metadata",
            }.get(kind)
            if role is None:
                continue
            if role == "browse" and url.startswith("http"):
                self.browse_urls.append(url)
            _attach_url(files, url, role)
        entries = [entry for item in archive for entry in (item.get("Files") or [item])]
        data = [f for f in files.values() if f.role == "data"]
        for entry in entries:
            product = files.get(entry.get("Name", ""))
            if product is None and len(entries) == 1 and len({f.name for f in data}) == 1:
                product = data[0]  # one product published under a placeholder name ("Not provided" at ASF)
            if product is None:
                continue
            product.size_bytes = _size_bytes(entry)
            checksum = entry.get("Checksum") or {}
            product.checksum = checksum.get("Value")
            product.checksum_algorithm = checksum.get("Algorithm")
        self.files = sorted(files.values(), key=lambda f: _ROLE_ORDER[f.role])

    # ------------------------------------------------------------------------------ Atom JSON
    @classmethod
    def from_json_entry(cls, entry: dict[str, Any]) -> Granule:
        """Parse a ``granules.json`` ``feed.entry[]`` (CMR's Atom JSON; no per-file checksums there).

        :param entry: the entry.
        """
        if "title" not in entry:
            raise ValueError(f"not a CMR Atom granule entry: no title among {sorted(entry)[:12]}")
        granule = cls(
            granule_ur=entry["title"],
            concept_id=entry.get("id"),
            collection_concept_id=entry.get("collection_concept_id"),
            producer_granule_id=entry.get("producer_granule_id"),
            revision_date=parse_time(entry.get("updated")),
            start=parse_time(entry.get("time_start")),
            end=parse_time(entry.get("time_end")),
            footprint=_atom_footprint(entry),
        )
        files: dict[str, ProductFile] = {}
        for link in entry.get("links") or []:
            href, rel = link.get("href", ""), link.get("rel", "")
            if not href or link.get("inherited"):
                continue  # inherited links belong to the collection, not this granule
            if "/s3credentials" in href:
                granule.s3_credentials_url = granule.s3_credentials_url or href
                continue
            role = {
                f"{_ATOM_REL}data#": "data",
                f"{_ATOM_REL}s3#": "data",
                f"{_ATOM_REL}browse#": "browse",
                f"{_ATOM_REL}metadata#": "metadata",
            }.get(rel)
            if role is None:
                continue
            if role == "browse" and href.startswith("http"):
                granule.browse_urls.append(href)
            _attach_url(files, href, role)
        granule.files = sorted(files.values(), key=lambda f: _ROLE_ORDER[f.role])
        data = granule.data_files
        if len(data) == 1 and entry.get("granule_size"):
            data[0].size_bytes = round(float(entry["granule_size"]) * 1024 * 1024)  # CMR's granule_size is MB
        return granule

    # ------------------------------------------------------------------------------ XCom
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (datetimes as ISO text), the inverse of :meth:`from_dict`."""
        document = asdict(self)
        for name in ("revision_date", "start", "end"):
            document[name] = format_time(getattr(self, name))
        return document

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Granule:
        """Rebuild a granule from :meth:`to_dict` output (e.g. read back from XCom).

        :param document: the dict.
        """
        values = dict(document)
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown or "granule_ur" not in values:
            raise ValueError(
                f"not a granule dict: unknown keys {unknown}"
                if unknown
                else "not a granule dict: granule_ur is missing"
            )
        for name in ("revision_date", "start", "end"):
            values[name] = parse_time(values.get(name))
        values["files"] = [ProductFile(**f) for f in values.get("files") or []]
        return cls(**values)

    @classmethod
    def from_dicts(cls, documents: Iterable[Any]) -> list[Granule]:
        """Granules from the dicts CmrSearchOperator returns; an InvalidInputError saying so for anything else.

        :param documents: the dicts.
        """
        try:
            return [cls.from_dict(document) for document in documents]
        except (TypeError, ValueError) as error:
            raise InvalidInputError(f"not a granule dict (as CmrSearchOperator returns): {error}") from error


def _attach_url(files: dict[str, ProductFile], url: str, role: str) -> None:
    name = file_name(url)
    if not name:
        return
    product = files.setdefault(name, ProductFile(name=name, role=role))
    if url.startswith("s3://"):  # ASF types some s3:// links "GET DATA" (asf_search Fairbanks_SLC sample)
        product.s3_url = product.s3_url or url
    else:
        product.url = product.url or url


def _size_bytes(entry: dict[str, Any]) -> int | None:
    if entry.get("SizeInBytes") is not None:
        return int(entry["SizeInBytes"])
    if entry.get("Size") is not None:
        return round(float(entry["Size"]) * _SIZE_UNITS.get(str(entry.get("SizeUnit", "B")).upper(), 1))
    return None


def _closed(ring: list[list[float]]) -> list[list[float]]:
    return ring if ring and ring[0] == ring[-1] else [*ring, ring[0]]


def _collect(polygons: list[list[list[list[float]]]], points: list[list[float]]) -> dict[str, Any] | None:
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    if polygons:
        return {"type": "MultiPolygon", "coordinates": polygons}
    if len(points) == 1:
        return {"type": "Point", "coordinates": points[0]}
    if points:
        return {"type": "MultiPoint", "coordinates": points}
    return None


def _umm_footprint(spatial: dict[str, Any]) -> dict[str, Any] | None:
    geometry = (spatial.get("HorizontalSpatialDomain") or {}).get("Geometry") or {}
    polygons = []
    for polygon in geometry.get("GPolygons") or []:
        outer = [[p["Longitude"], p["Latitude"]] for p in polygon["Boundary"]["Points"]]
        holes = [
            [[p["Longitude"], p["Latitude"]] for p in hole["Points"]]
            for hole in (polygon.get("ExclusiveZone") or {}).get("Boundaries") or []
        ]
        polygons.append([_closed(outer), *[_closed(h) for h in holes]])
    for box in geometry.get("BoundingRectangles") or []:
        west, south = box["WestBoundingCoordinate"], box["SouthBoundingCoordinate"]
        east, north = box["EastBoundingCoordinate"], box["NorthBoundingCoordinate"]
        polygons.append([[[west, south], [east, south], [east, north], [west, north], [west, south]]])
    points = [[p["Longitude"], p["Latitude"]] for p in geometry.get("Points") or []]
    return _collect(polygons, points)


def _atom_footprint(entry: dict[str, Any]) -> dict[str, Any] | None:
    polygons = []
    for polygon in entry.get("polygons") or []:
        rings = []
        for ring_text in polygon:
            numbers = [float(v) for v in ring_text.split()]
            rings.append(_closed([[lon, lat] for lat, lon in zip(numbers[::2], numbers[1::2], strict=True)]))
        polygons.append(rings)
    for box_text in entry.get("boxes") or []:
        south, west, north, east = (float(v) for v in box_text.split())  # CMR writes "S W N E"
        polygons.append([[[west, south], [east, south], [east, north], [west, north], [west, south]]])
    points = []
    for point_text in entry.get("points") or []:
        lat, lon = (float(v) for v in point_text.split())
        points.append([lon, lat])
    return _collect(polygons, points)
