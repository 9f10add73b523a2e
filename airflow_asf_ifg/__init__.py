"""Apache Airflow provider for ASF Sentinel-1 interferograms: CMR search, Earthdata Login, ASF S3 copies."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("airflow-asf-ifg")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

_URL = {"type": ["string", "null"], "format": "url"}
_INTEGRATION = "ASF Sentinel-1 Interferograms"


def get_provider_info() -> dict[str, object]:
    """Describe the provider to Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-asf-ifg",
        "name": "ASF Sentinel-1 Interferograms",
        "description": "Search NASA CMR for ASF Sentinel-1 interferograms (GRFN BETA, ARIA S1 GUNW), log in "
        "with Earthdata Login, wait for archived products and copy them into your S3 bucket.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://asf.alaska.edu/data-sets/derived-data-sets/sentinel-1-interferograms/",
                "tags": ["service"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "earthdata",
                "hook-class-name": "airflow_asf_ifg.hooks.earthdata.EarthdataHook",
                "hook-name": "Earthdata Login (NASA)",
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "port", "schema"],
                    "relabeling": {"login": "Earthdata username", "password": "Earthdata password"},
                    "placeholders": {"login": "leave empty to use the token or ~/.netrc"},
                },
                "conn-fields": {
                    "token": {
                        "label": "EDL token",
                        "description": "An Earthdata Login user token (sent as "
                        "Authorization: Bearer); used before login/password.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "edl_url": {
                        "label": "Earthdata Login URL",
                        "description": "Default https://urs.earthdata.nasa.gov",
                        "schema": _URL,
                    },
                    "cmr_url": {
                        "label": "CMR URL",
                        "description": "Default https://cmr.earthdata.nasa.gov",
                        "schema": _URL,
                    },
                    "s3_credentials_url": {
                        "label": "S3 credentials URL",
                        "description": "Where temporary S3 keys "
                        "come from: a TEA /s3credentials or the 2018 /door/credentials endpoint.",
                        "schema": _URL,
                    },
                    "archive_status_url": {
                        "label": "Archive status URL",
                        "description": "Template with {name}, "
                        "e.g. https://grfn.asf.alaska.edu/door/status/{name} (2018 door).",
                        "schema": {"type": ["string", "null"]},
                    },
                    "s3_endpoint_url": {
                        "label": "ASF S3 endpoint URL",
                        "description": "Where ASF's buckets are read; empty for AWS S3.",
                        "schema": _URL,
                    },
                    "region_name": {
                        "label": "ASF S3 region",
                        "description": "Region of ASF's buckets (temporary keys work in-region only).",
                        "schema": {"type": ["string", "null"]},
                    },
                    "verify": {
                        "label": "Verify TLS",
                        "description": "Keep on; turn off only for a test server.",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                },
            }
        ],
        "hooks": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_asf_ifg.hooks.earthdata",
                    "airflow_asf_ifg.hooks.cmr",
                    "airflow_asf_ifg.hooks.asf",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_asf_ifg.operators.cmr",
                    "airflow_asf_ifg.operators.preflight",
                    "airflow_asf_ifg.operators.credentials",
                    "airflow_asf_ifg.operators.s3_restore",
                ],
            }
        ],
        "transfers": [
            {
                "source-integration-name": _INTEGRATION,
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_asf_ifg.transfers.asf_to_s3",
            },
            {
                "source-integration-name": _INTEGRATION,
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_asf_ifg.transfers.asf_to_cog",
            },
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_asf_ifg.sensors.archive", "airflow_asf_ifg.sensors.s3_restore"],
            }
        ],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_asf_ifg.triggers.archive",
                    "airflow_asf_ifg.triggers.s3_restore",
                    "airflow_asf_ifg.triggers.cmr_events",
                ],
            }
        ],
        "extra-links": [
            "airflow_asf_ifg.links.CmrQueryLink",
            "airflow_asf_ifg.links.AsfSearchLink",
            "airflow_asf_ifg.links.CmrRecordsLink",
        ],
    }
