"""Protocol logic in plain Python, free of Airflow: Earthdata Login, CMR, credentials, archive, transfer."""

from __future__ import annotations
