"""What a DAG file may check while it is parsed, without depending on the protocol code behind the tasks.

The example DAG validates ``aois.yaml`` with these; every check raises a ValueError that names the bad value
and what is accepted, and none opens a connection or imports an HTTP stack.
"""

from __future__ import annotations

from typing import Any

from airflow_asf_ifg.client.aoi import parse_aoi
from airflow_asf_ifg.client.granule import ROLES, checked_roles
from airflow_asf_ifg.exceptions import InvalidInputError

__all__ = ["FILE_ROLES", "WINDOWS", "check_aoi", "check_files", "check_window"]

#: Which files of a granule a task may take: the product, its browse image, its metadata.
FILE_ROLES = ROLES
#: The time windows of a search: ``acquisition`` (acquired in the run's interval) or ``revision`` (added or
#: reprocessed in CMR in it).
WINDOWS = ("acquisition", "revision")


def check_aoi(aoi: Any) -> None:
    """Refuse an area of interest CMR could not be asked about (WKT, GeoJSON, bbox or point accepted).

    :param aoi: the area of interest.
    """
    parse_aoi(aoi)


def check_files(files: Any) -> list[str]:
    """The file roles as a list, or a ValueError naming the accepted ones.

    :param files: e.g. ``["data", "browse"]``.
    """
    return list(checked_roles(files))


def check_window(window: Any) -> str:
    """``window`` if it is one of :data:`WINDOWS`, else a ValueError naming them.

    :param window: ``acquisition`` or ``revision``.
    """
    if window not in WINDOWS:
        raise InvalidInputError(f"window {window!r} is not one of {list(WINDOWS)}")
    return str(window)
