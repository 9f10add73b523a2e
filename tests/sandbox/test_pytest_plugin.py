"""The pytest plugin gives users' own test suites a running sandbox and connections pointing at it."""

from __future__ import annotations

pytest_plugins = ["pytester"]

USERS_TEST = '''
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
'''

CONFTEST = '''
import pytest
from airflow_asf_ifg.sandbox import SandboxConfig

@pytest.fixture(scope="session")
def asf_sandbox_config():
    return SandboxConfig(granules=2, product_bytes=4096)
'''


def test_fixtures_work_in_a_users_suite(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_users=USERS_TEST)
    # A separate process: moto's S3 state is per process, and this session already runs a sandbox.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
