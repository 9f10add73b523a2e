"""The ``pytest11`` entry point: the sandbox's fixtures and marker, only where the ``sandbox`` extra is installed.

Every pytest run in an environment with this provider loads its entry point; without moto (``pip install
airflow-asf-ifg`` alone) it registers nothing, so a user's own test suite is not touched.
"""

from __future__ import annotations

try:
    import moto  # noqa: F401  # the sandbox's S3 server: present only with the sandbox extra
except ImportError:
    SANDBOX_INSTALLED = False
else:
    SANDBOX_INSTALLED = True
    # pytest registers the fixtures and hooks it finds on this module.
    from airflow_asf_ifg.sandbox.pytest_plugin import (  # noqa: F401
        _asf_sandbox_marked,
        asf_sandbox,
        asf_sandbox_config,
        asf_sandbox_connections,
        asf_sandbox_settings,
        pytest_configure,
    )
