"""``asf-ifg``: the 2018 page's command line tools over the client layer (search, credentials, status, download)."""

from __future__ import annotations

#: The connection id the command line reads, as Airflow's hooks do.
DEFAULT_CONN_ID = "earthdata_default"
