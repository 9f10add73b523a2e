"""CMR records of the sandbox catalogue: UMM-G items (``granules.umm_json``) and Atom entries (``granules.json``).

Field sets follow the real ASF records in ``shared/reference/samples`` (an ARIA_S1_GUNW UMM-G item from
CMR and grfn-ingest's posted UMM-G) and CMR's Atom JSON (``atom_results_handler.clj``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_asf_ifg.sandbox.catalogue import Collection, Granule

_REL = "http://esipfed.org/ns/fedsearch/1.1/"


@dataclass(frozen=True)
class Urls:
    """Base URLs of the sandbox's services (no trailing slash).

    :param sandbox: control routes (same server as CMR).
    :param cmr: CMR search.
    :param edl: Earthdata Login.
    :param asf: the ASF door and TEA.
    :param s3: the S3 server.
    """

    sandbox: str
    cmr: str
    edl: str
    asf: str
    s3: str

    def file_url(self, bucket: str, name: str, role: str) -> str:
        """Where CMR says a file is: the door for products, the public bucket for browse and metadata.

        :param bucket: the file's bucket.
        :param name: the file name.
        :param role: ``data``, ``browse`` or ``metadata``.
        """
        if role == "data":
            return f"{self.asf}/door/download/{name}"
        return f"{self.s3}/{bucket}/{name}"


def _iso(moment: datetime, fraction: bool = True) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f" if fraction else "%Y-%m-%dT%H:%M:%S")[: 23 if fraction else 19] + "Z"


def additional_attributes(granule: Granule) -> dict[str, list[str]]:
    """The granule's AdditionalAttributes as name → values (what ``attribute[]`` filters on).

    :param granule: the granule.
    """
    temporal_baseline = (granule.start.date() - granule.secondary_date.date()).days
    version = (
        "1.2.1" if granule.collection.is_beta else ("2.0.4" if granule.collection.family == "gunw-v2" else "3.0.1")
    )
    return {
        "ASCENDING_DESCENDING": [granule.direction],
        "BEAM_MODE": ["IW"],
        "POLARIZATION": ["VV"],
        "PERPENDICULAR_BASELINE": [f"{(granule.sequence % 3000) / 10.0 - 150:.4f}"],
        "VERSION": [version],
        "FRAME_NUMBER": [str(granule.frame)],
        "PATH_NUMBER": [str(granule.path)],
        "TEMPORAL_BASELINE_DAYS": [str(temporal_baseline)],
    }


def direct_access(granule: Granule, tea: bool) -> bool:
    """Whether CMR lists an ``s3://`` link and TEA's ``/s3credentials`` for the granule.

    Only with the sandbox's opt-in ``tea`` setting, and then for ARIA_S1_GUNW only, as Cumulus-served
    collections list them: the real ARIA_S1_GUNW records carry no ``s3://`` URL (asf_search's Jan-2026
    fixture, ``"s3Urls": []``) and the 2018 collections offered the door only.

    :param granule: the granule.
    :param tea: the sandbox's ``tea`` setting.
    """
    return tea and granule.collection.family == "gunw-v3"


def data_size_mb(granule: Granule) -> float:
    """Size of the product file in MB (CMR's ``granule_size`` and ``data_size`` sort).

    :param granule: the granule.
    """
    size, _ = granule.sizes.get(granule.data_file.name, (0, ""))
    return round(size / 1024 / 1024, 6)


def umm_item(granule: Granule, urls: Urls, tea: bool = False) -> dict[str, object]:
    """One ``items[]`` entry of ``granules.umm_json``: CMR's ``meta`` block and the UMM-G record.

    :param granule: the granule.
    :param urls: base URLs for RelatedUrls.
    :param tea: list the direct-access links (:func:`direct_access`).
    """
    related = []
    for catalogue_file in granule.files:
        url = urls.file_url(catalogue_file.bucket, catalogue_file.name, catalogue_file.role)
        kind = {"data": "GET DATA", "browse": "GET RELATED VISUALIZATION", "metadata": "EXTENDED METADATA"}
        related.append({"URL": url, "Type": kind[catalogue_file.role]})
    if direct_access(granule, tea):
        related.append(
            {
                "URL": f"s3://{granule.data_file.bucket}/{granule.data_file.name}",
                "Type": "GET DATA VIA DIRECT ACCESS",
                "Description": "This link provides direct download access via S3 to the granule",
            }
        )
        related.append(
            {
                "URL": f"{urls.asf}/s3credentials",
                "Type": "VIEW RELATED INFORMATION",
                "Description": "api endpoint to retrieve temporary credentials valid for same-region direct s3 access",
            }
        )
    archive_info = []
    for catalogue_file in granule.files:
        size, md5 = granule.sizes.get(catalogue_file.name, (0, ""))
        archive_info.append(
            {
                "Name": catalogue_file.name,
                "SizeInBytes": size,
                "Format": catalogue_file.format,
                "Checksum": {"Value": md5, "Algorithm": "MD5"},
            }
        )
    points = [{"Longitude": lon, "Latitude": lat} for lon, lat in granule.footprint]
    umm = {
        "TemporalExtent": {
            "RangeDateTime": {"BeginningDateTime": _iso(granule.start), "EndingDateTime": _iso(granule.end)}
        },
        "OrbitCalculatedSpatialDomains": [{"OrbitNumber": 10000 + granule.path * 175 + granule.frame % 175}],
        "GranuleUR": granule.granule_ur,
        "AdditionalAttributes": [{"Name": k, "Values": v} for k, v in additional_attributes(granule).items()],
        "SpatialExtent": {"HorizontalSpatialDomain": {"Geometry": {"GPolygons": [{"Boundary": {"Points": points}}]}}},
        "ProviderDates": [
            {"Date": _iso(granule.revision_date, False), "Type": "Insert"},
            {"Date": _iso(granule.revision_date, False), "Type": "Update"},
        ],
        "CollectionReference": {"ShortName": granule.collection.short_name, "Version": granule.collection.version},
        "RelatedUrls": related,
        "DataGranule": {
            "ArchiveAndDistributionInformation": archive_info,
            "DayNightFlag": "Unspecified",
            "ProductionDateTime": _iso(granule.revision_date),
        },
        "Platforms": [{"ShortName": granule.platform}],
        "MetadataSpecification": {
            "URL": "https://cdn.earthdata.nasa.gov/umm/granule/v1.6.6",
            "Name": "UMM-G",
            "Version": "1.6.6",
        },
    }
    if not granule.collection.is_beta:
        umm["InputGranules"] = [
            f"S1A_IW_SLC__1SDV_{moment:%Y%m%dT%H%M%S}_{moment:%Y%m%dT}{(moment.hour * 10000 + 2700) % 240000:06d}"
            f"_{granule.path:06d}_{granule.frame:06X}_{granule.concept_id[-5:-1]}"
            for moment in (granule.start, granule.secondary_date)
        ]
    meta = {
        "concept-type": "granule",
        "concept-id": granule.concept_id,
        "revision-id": granule.revision_id,
        "native-id": granule.granule_ur,
        "collection-concept-id": granule.collection.concept_id,
        "provider-id": "ASF",
        "format": "application/vnd.nasa.cmr.umm+json",
        "revision-date": _iso(granule.revision_date),
    }
    return {"meta": meta, "umm": umm}


def atom_entry(granule: Granule, urls: Urls, tea: bool = False) -> dict[str, object]:
    """One ``feed.entry[]`` of ``granules.json`` (CMR's Atom JSON).

    :param granule: the granule.
    :param urls: base URLs for links.
    :param tea: list the direct-access link (:func:`direct_access`).
    """
    links = []
    for catalogue_file in granule.files:
        rel = {"data": "data#", "browse": "browse#", "metadata": "metadata#"}[catalogue_file.role]
        links.append(
            {
                "rel": _REL + rel,
                "hreflang": "en-US",
                "href": urls.file_url(catalogue_file.bucket, catalogue_file.name, catalogue_file.role),
            }
        )
    if direct_access(granule, tea):
        links.append(
            {
                "rel": _REL + "s3#",
                "hreflang": "en-US",
                "href": f"s3://{granule.data_file.bucket}/{granule.data_file.name}",
            }
        )
    polygon = " ".join(f"{lat} {lon}" for lon, lat in granule.footprint)
    return {
        "producer_granule_id": granule.producer_granule_id,
        "time_start": _iso(granule.start),
        "updated": _iso(granule.revision_date),
        "orbit_calculated_spatial_domains": [{"orbit_number": str(10000 + granule.path * 175 + granule.frame % 175)}],
        "dataset_id": granule.collection.title,
        "data_center": "ASF",
        "title": granule.granule_ur,
        "coordinate_system": "GEODETIC",
        "day_night_flag": "UNSPECIFIED",
        "time_end": _iso(granule.end),
        "id": granule.concept_id,
        "original_format": "UMM_JSON",
        "granule_size": f"{data_size_mb(granule)}",
        "browse_flag": True,
        "polygons": [[polygon]],
        "collection_concept_id": granule.collection.concept_id,
        "online_access_flag": True,
        "links": links,
    }


def atom_feed(granules: list[Granule], urls: Urls, request_url: str, tea: bool = False) -> dict[str, object]:
    """The ``granules.json`` document.

    :param granules: this page's granules.
    :param urls: base URLs for links.
    :param request_url: the request URL (the feed's ``id``).
    :param tea: list the direct-access links (:func:`direct_access`).
    """
    return {
        "feed": {
            "updated": _iso(datetime.now(UTC)),
            "id": request_url,
            "title": "ECHO granule metadata",
            "entry": [atom_entry(g, urls, tea) for g in granules],
        }
    }


def collection_feed(collections: list[Collection], request_url: str) -> dict[str, object]:
    """The ``collections.json`` document.

    :param collections: this page's collections.
    :param request_url: the request URL (the feed's ``id``).
    """
    entries = [
        {
            "id": c.concept_id,
            "title": c.title,
            "dataset_id": c.title,
            "short_name": c.short_name,
            "version_id": c.version,
            "summary": f"{c.title}, served by the airflow-asf-ifg sandbox.",
            "data_center": "ASF",
            "archive_center": "ASF",
            "processing_level_id": "3",
            "time_start": f"{c.first_year}-01-01T00:00:00.000Z",
            "coordinate_system": "GEODETIC",
            "original_format": "ECHO10" if c.is_beta else "UMM_JSON",
            "online_access_flag": True,
            "browse_flag": True,
            "has_granules": True,
            "organizations": ["ASF"],
        }
        for c in collections
    ]
    return {
        "feed": {
            "updated": _iso(datetime.now(UTC)),
            "id": request_url,
            "title": "ECHO dataset metadata",
            "entry": entries,
        }
    }


def collection_umm_item(collection: Collection) -> dict[str, object]:
    """One ``items[]`` entry of ``collections.umm_json``.

    :param collection: the collection.
    """
    return {
        "meta": {
            "concept-type": "collection",
            "concept-id": collection.concept_id,
            "revision-id": 1,
            "native-id": collection.short_name,
            "provider-id": "ASF",
            "format": "application/echo10+xml" if collection.is_beta else "application/vnd.nasa.cmr.umm+json",
        },
        "umm": {
            "ShortName": collection.short_name,
            "Version": collection.version,
            "EntryTitle": collection.title,
            "Abstract": f"{collection.title}, served by the airflow-asf-ifg sandbox.",
            "TemporalExtents": [
                {"RangeDateTimes": [{"BeginningDateTime": f"{collection.first_year}-01-01T00:00:00.000Z"}]}
            ],
        },
    }
