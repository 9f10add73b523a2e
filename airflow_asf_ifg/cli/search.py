"""``asf-ifg search``: granules of collections over an area and a time window, as a table, JSON lines or GeoJSON."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, TextIO

import requests

from airflow_asf_ifg.cli.connection import Profile
from airflow_asf_ifg.client.cmr import CmrClient
from airflow_asf_ifg.client.earthdata import USER_AGENT
from airflow_asf_ifg.client.granule import Granule, format_time

_CONCEPT_ID = re.compile(r"^C\d+-[A-Z0-9_]+$")


def query_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`~airflow_asf_ifg.client.cmr.granule_query` arguments of the command line (checked there).

    :param args: the parsed arguments.
    """
    concept_ids = [c for c in args.collection if _CONCEPT_ID.match(c)]
    short_names = [c for c in args.collection if not _CONCEPT_ID.match(c)]
    temporal = (args.start, args.end) if args.start or args.end else None
    return {
        "collection_concept_id": concept_ids or None,
        "short_name": short_names or None,
        "aoi": args.aoi,
        "temporal": temporal,
    }


def feature(granule: Granule) -> dict[str, Any]:
    """A GeoJSON Feature: the footprint, and the granule dict without it as properties.

    :param granule: the granule.
    """
    properties = granule.to_dict()
    geometry = properties.pop("footprint")
    return {
        "type": "Feature",
        "id": granule.concept_id or granule.granule_ur,
        "geometry": geometry,
        "properties": properties,
    }


def write_table(granules: list[Granule], out: TextIO) -> None:
    """A fixed-width table: GranuleUR, acquisition start, data file, size.

    :param granules: the granules.
    :param out: where to write.
    """
    rows = [("GRANULE_UR", "START", "FILE", "SIZE_MB")]
    for granule in granules:
        data = granule.data_files[0] if granule.data_files else None
        size = f"{data.size_bytes / 1e6:.1f}" if data and data.size_bytes is not None else "-"
        rows.append((granule.granule_ur, format_time(granule.start) or "-", data.name if data else "-", size))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3] + "\n")


def run(args: argparse.Namespace) -> int:
    """Search and print; the count goes to stderr.

    :param args: the parsed arguments.
    """
    query = query_arguments(args)
    profile = Profile.load(args.conn_uri, args.conn_id)
    session = requests.Session()  # CMR's public search needs no login
    session.headers["User-Agent"] = USER_AGENT
    session.verify = profile.settings.verify
    results = CmrClient(session, profile.settings.cmr_url).search(limit=args.max, on_incomplete="warn", **query)
    granules = list(results)
    if args.format == "jsonl":
        for granule in granules:
            sys.stdout.write(json.dumps(granule.to_dict()) + "\n")
    elif args.format == "geojson":
        json.dump({"type": "FeatureCollection", "features": [feature(g) for g in granules]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        write_table(granules, sys.stdout)
    print(f"{len(granules)} of {results.hits or 0} granule(s); query: {results.query_url}", file=sys.stderr)
    return 0
