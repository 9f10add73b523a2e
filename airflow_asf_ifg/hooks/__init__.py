"""Airflow hooks: read a connection once and build the client objects."""

from __future__ import annotations

#: The default ``earthdata`` connection id; here so that operators name it without importing a hook.
EARTHDATA_DEFAULT_CONN_ID = "earthdata_default"
