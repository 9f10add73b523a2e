"""The offline sandbox: CMR, Earthdata Login, the ASF door and TEA, and S3, over real HTTP on loopback.

``python -m airflow_asf_ifg.sandbox serve`` runs it as a process; :class:`Sandbox` runs it in-process
(``with Sandbox(granules=4) as sandbox: ...``), and the ``asf_sandbox`` pytest fixture does that for tests.
"""

from __future__ import annotations

from airflow_asf_ifg.sandbox.config import SandboxConfig
from airflow_asf_ifg.sandbox.server import Sandbox

__all__ = ["Sandbox", "SandboxConfig"]
