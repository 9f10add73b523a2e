"""pytest fixtures for the sandbox, registered through the ``pytest11`` entry point.

``asf_sandbox`` starts one sandbox per test session (era ``today`` unless ``asf_sandbox_config`` says
otherwise); ``asf_sandbox_connections`` points Airflow's ``earthdata_default`` and ``aws_default``
connections at it for one test; ``asf_sandbox_settings`` changes runtime settings (faults, credential
lifetime, retrieval time) for one test. Override ``asf_sandbox_config`` in a conftest.py to change the
catalogue.

The ``asf_sandbox`` marker applies runtime settings for every test it marks that uses the sandbox, and
restores them afterwards, e.g. ``pytestmark = pytest.mark.asf_sandbox(era="2018")`` for a module of tests
of the 2018 door, or ``@pytest.mark.asf_sandbox(tea=True)`` for one test of the ``s3://`` path. Marks on
the function win over its class's, which win over its module's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_asf_ifg.sandbox import Sandbox, SandboxConfig

MARKER = "asf_sandbox"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``asf_sandbox`` marker.

    :param config: pytest's configuration.
    """
    config.addinivalue_line(
        "markers",
        f"{MARKER}(era='today'|'2018', tea=False, **settings): runtime settings of the session's "
        f"sandbox for this test (any of SandboxConfig.RUNTIME_FIELDS), restored afterwards",
    )


def marked_settings(node: pytest.Item) -> dict[str, Any]:
    """The runtime settings the ``asf_sandbox`` marks of a test ask for, the closest mark winning.

    :param node: the test item.
    """
    settings: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers(MARKER))):  # iter_markers yields the closest first
        if mark.args:
            raise pytest.UsageError(
                f"@pytest.mark.{MARKER} takes keyword settings only (e.g. era='2018'), "
                f"got positional {mark.args!r} on {node.nodeid}"
            )
        settings.update(mark.kwargs)
    return settings


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


@pytest.fixture(autouse=True)
def _asf_sandbox_marked(request: pytest.FixtureRequest) -> Iterator[None]:
    """Apply a test's ``asf_sandbox`` mark to the sandbox when the test uses it, then restore the settings.

    Autouse fixtures are set up before the others of their scope, so ``asf_sandbox_connections`` and the
    test's own fixtures already see the marked era.
    """
    settings = marked_settings(request.node)
    if not settings or MARKER not in request.fixturenames:
        yield
        return
    sandbox: Sandbox = request.getfixturevalue(MARKER)
    unknown = sorted(set(settings) - set(sandbox.config.RUNTIME_FIELDS))
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.{MARKER} cannot set {unknown} on {request.node.nodeid}; accepted: "
            f"{list(sandbox.config.RUNTIME_FIELDS)} (others belong in asf_sandbox_config)"
        )
    saved = {name: getattr(sandbox.config, name) for name in settings}
    sandbox.update_config(settings)
    try:
        yield
    finally:
        sandbox.update_config(saved)


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
