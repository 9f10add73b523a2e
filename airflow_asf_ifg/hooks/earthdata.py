"""The ``earthdata`` connection: an Earthdata Login account (or token) and the endpoints of the services."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook


class EarthdataHook(BaseHook):
    """Read an ``earthdata`` connection: EDL login/password or token, and endpoint overrides in its extra.

    :param earthdata_conn_id: the connection id (default ``earthdata_default``).
    """

    conn_name_attr = "earthdata_conn_id"
    default_conn_name = "earthdata_default"
    conn_type = "earthdata"
    hook_name = "Earthdata Login (NASA)"

    def __init__(self, earthdata_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.earthdata_conn_id = earthdata_conn_id
