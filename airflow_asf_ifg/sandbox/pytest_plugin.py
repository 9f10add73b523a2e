"""pytest fixtures for the sandbox, registered through the ``pytest11`` entry point.

``asf_sandbox`` starts one sandbox per test session; ``asf_sandbox_connections`` points Airflow's
``earthdata_default`` and ``aws_default`` connections at it for one test; ``asf_sandbox_settings``
changes runtime settings (faults, credential lifetime, retrieval time) for one test. Override
``asf_sandbox_config`` in a conftest.py to change the catalogue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_asf_ifg.sandbox import Sandbox, SandboxConfig


@pytest.fixture(scope="session")
def asf_sandbox_config() -> SandboxConfig:
    """Settings of the session's sandbox; override this fixture to change them."""
    from airflow_asf_ifg.sandbox import SandboxConfig

    return SandboxConfig()


@pytest.fixture(scope="session")
def asf_sandbox(asf_sandbox_config: SandboxConfig) -> Iterator[Sandbox]:
    """A running sandbox shared by the whole test session."""
    from airflow_asf_ifg.sandbox import Sandbox

    with Sandbox(asf_sandbox_config) as sandbox:
        yield sandbox


@pytest.fixture
def asf_sandbox_settings(asf_sandbox: Sandbox) -> Iterator[Callable[..., SandboxConfig]]:
    """Change the sandbox's runtime settings for one test: ``asf_sandbox_settings(fault_rate=0.2)``."""
    saved = {name: getattr(asf_sandbox.config, name) for name in asf_sandbox.config.RUNTIME_FIELDS}

    def change(**changes: Any) -> SandboxConfig:
        return asf_sandbox.update_config(changes)

    yield change
    asf_sandbox.update_config(saved)


@pytest.fixture
def asf_sandbox_connections(asf_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Set ``AIRFLOW_CONN_EARTHDATA_DEFAULT`` and ``AIRFLOW_CONN_AWS_DEFAULT`` to the sandbox for one test."""
    environment = asf_sandbox.environment()
    values = {name: environment[name] for name in ("AIRFLOW_CONN_EARTHDATA_DEFAULT", "AIRFLOW_CONN_AWS_DEFAULT")}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values
