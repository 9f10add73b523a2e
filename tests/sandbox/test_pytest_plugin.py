"""The pytest plugin gives users' own test suites a running sandbox and connections pointing at it."""

from __future__ import annotations

pytest_plugins = ["pytester"]

USERS_TEST = """
import json, os, requests

def test_users_own_dag_test(asf_sandbox, asf_sandbox_connections, asf_sandbox_settings):
    earthdata = json.loads(os.environ["AIRFLOW_CONN_EARTHDATA_DEFAULT"])
    assert earthdata["extra"]["cmr_url"] == asf_sandbox.urls.cmr
    assert json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == asf_sandbox.urls.s3
    asf_sandbox_settings(throttle_rate=1.0)
    response = requests.get(asf_sandbox.urls.cmr + "/search/granules.json", params={"provider": "ASF"})
    assert response.status_code == 429

def test_settings_are_restored(asf_sandbox):
    assert asf_sandbox.config.throttle_rate == 0.0
    assert len(asf_sandbox.catalogue) == 5 * 2

def test_connections_are_unset_again():
    assert "AIRFLOW_CONN_EARTHDATA_DEFAULT" not in os.environ
"""

CONFTEST = """
import pytest
from airflow_asf_ifg.sandbox import SandboxConfig

@pytest.fixture(scope="session")
def asf_sandbox_config():
    return SandboxConfig(granules=2, product_bytes=4096)
"""


MARKED_TEST = """
import json, os, pytest

pytestmark = pytest.mark.asf_sandbox(era="2018")

def test_module_mark_applies_before_the_connections(asf_sandbox, asf_sandbox_connections):
    assert asf_sandbox.config.era == "2018"
    extra = json.loads(os.environ["AIRFLOW_CONN_EARTHDATA_DEFAULT"])["extra"]
    assert extra["archive_status_url"].endswith("/door/status/{name}")

def test_through_another_fixture(uses_the_sandbox):
    assert uses_the_sandbox == "2018"

@pytest.mark.asf_sandbox(era="today", tea=True)
class TestClassMarkWins:
    def test_class(self, asf_sandbox):
        assert (asf_sandbox.config.era, asf_sandbox.config.tea) == ("today", True)

    @pytest.mark.asf_sandbox(tea=False, credential_ttl=60)
    def test_function_mark_wins(self, asf_sandbox):
        assert (asf_sandbox.config.era, asf_sandbox.config.tea, asf_sandbox.config.credential_ttl) == (
            "today", False, 60)

    @pytest.mark.asf_sandbox(granules=3)
    def test_fixed_settings_are_refused(self, asf_sandbox):
        pass
"""

# Runs first: a marked test that does not use the sandbox does not start it.
FIRST_TEST = """
import pytest
from airflow_asf_ifg.sandbox import server

@pytest.mark.asf_sandbox(era="2018")
def test_without_the_sandbox_nothing_starts():
    assert not server._RUNNING.locked()
"""

# Runs last: every setting is back.
LAST_TEST = """
def test_settings_are_restored(asf_sandbox):
    assert (asf_sandbox.config.era, asf_sandbox.config.tea, asf_sandbox.config.credential_ttl) == (
        "today", False, 3600.0)
"""

MARKED_CONFTEST = """
import pytest
from airflow_asf_ifg.sandbox import SandboxConfig

@pytest.fixture(scope="session")
def asf_sandbox_config():
    return SandboxConfig(granules=1, product_bytes=4096)

@pytest.fixture
def uses_the_sandbox(asf_sandbox):
    return asf_sandbox.config.era
"""


def test_marker_sets_era_and_settings_per_module_class_and_test(pytester):
    pytester.makeconftest(MARKED_CONFTEST)
    pytester.makepyfile(test_a_first=FIRST_TEST, test_marked=MARKED_TEST, test_z_last=LAST_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=6, errors=1)
    result.stdout.re_match_lines([r".*cannot set \['granules'\] on .*; accepted: \['era', 'tea', .*"])


def test_fixtures_work_in_a_users_suite(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_users=USERS_TEST)
    # A separate process: moto's S3 state is per process, and this session already runs a sandbox.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


class TestWithoutTheSandboxExtra:
    def test_the_entry_point_registers_nothing_without_moto(self):
        import subprocess
        import sys

        # sys.modules[name] = None makes `import name` fail, as in an environment without the extra.
        probe = (
            "import sys; sys.modules['moto'] = None; import airflow_asf_ifg.sandbox.pytest_entry as entry; "
            "print(entry.SANDBOX_INSTALLED, hasattr(entry, 'asf_sandbox'), 'moto.server' in sys.modules)"
        )
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
        assert done.stdout.split() == ["False", "False", "False"]

    def test_with_moto_the_entry_point_carries_every_fixture(self):
        from airflow_asf_ifg.sandbox import pytest_entry

        assert pytest_entry.SANDBOX_INSTALLED
        for name in (
            "asf_sandbox",
            "asf_sandbox_config",
            "asf_sandbox_connections",
            "asf_sandbox_settings",
            "pytest_configure",
        ):
            assert callable(getattr(pytest_entry, name))
