"""The console script: --help everywhere, exit codes, and bad input refused before any request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from airflow_asf_ifg.cli.main import main
from tests.client.helpers import UNRESOLVABLE_CMR

pytestmark = pytest.mark.asf_sandbox(era="2018")  # credentials from the 2018 door's /door/credentials

SCRIPT = Path(sys.executable).with_name("asf-ifg")
COMMANDS = ("search", "credentials", "status", "download")


def sandbox_requests(asf_sandbox) -> dict:
    counts = requests.get(f"{asf_sandbox.urls.sandbox}/__sandbox__/stats", timeout=10).json()["requests"]
    return {route: count for route, count in counts.items() if not route.startswith("control_")}


class TestHelp:
    @pytest.mark.parametrize("command", [(), *((c,) for c in COMMANDS)], ids=["top", *COMMANDS])
    def test_every_command_has_help(self, command):
        result = subprocess.run([str(SCRIPT), *command, "--help"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("usage: asf-ifg")
        assert "exit codes: 0 ok, 1 failure" in result.stdout

    def test_help_does_not_import_airflow_or_the_network_stack(self):
        code = (
            "import sys; from airflow_asf_ifg.cli.main import main\ntry: main(['--help'])\nexcept SystemExit: "
            "pass\nprint(sorted(m for m in ('airflow', 'boto3', 'aiohttp', 'requests') if m in sys.modules))"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert result.stdout.strip().splitlines()[-1] == "[]"

    def test_help_starts_fast(self):
        started = time.monotonic()
        subprocess.run([str(SCRIPT), "--help"], capture_output=True, timeout=60, check=True)
        assert time.monotonic() - started < 3.0  # measured ~0.1 s; a loaded CI machine gets slack


class TestExitCodes:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            pytest.param(["search"], "the following arguments are required: collection", id="no-collection"),
            pytest.param(["search", "C1379535600-ASF", "--max", "0"], "'0' must be greater than 0", id="max-0"),
            pytest.param(
                ["search", "C1379535600-ASF", "--aoi", "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"],
                "crosses itself",
                id="crossing-aoi",
            ),
            pytest.param(
                ["search", "C1379535600-ASF", "--aoi=-118,34,-118.3,34.3"],
                "bbox west -118 and east -118.3 look swapped",
                id="swapped-bbox",
            ),
            pytest.param(
                ["search", "C1379535600-ASF", "--start", "yesterday"], "'yesterday' is not an ISO 8601", id="bad-start"
            ),
            pytest.param(["search", "C1379535600-ASF", "--format", "csv"], "invalid choice: 'csv'", id="bad-format"),
            pytest.param(["credentials", "--endpoint", "ftp://x"], "is not an http(s) URL", id="bad-endpoint"),
            pytest.param(["status", "s3://bucket-only"], "is not an s3://bucket/key URL", id="bad-s3-url"),
            pytest.param(["download", "../etc/passwd"], "is neither a file name nor an http(s) URL", id="bad-file"),
            pytest.param(["download", "x.zip", "--poll", "-1"], "'-1' must be greater than 0", id="bad-poll"),
            pytest.param(["download", "x.zip", "--poll", "nan"], "'nan' must be greater than 0", id="nan-poll"),
            pytest.param(["download", "x.zip", "--timeout", "nan"], "'nan' must be greater than 0", id="nan-timeout"),
            pytest.param(["search", "C1379535600-ASF", "--aoi", ""], "the AOI is empty", id="empty-aoi"),
            pytest.param(["search", "C1379535600-ASF", "--aoi", " "], "the AOI is empty", id="blank-aoi"),
            pytest.param(
                ["download", "https://host/x/..%2F..%2Fescaped.txt", "--no-verify"], "is refused", id="traversal"
            ),
        ],
    )
    def test_bad_input_exits_2_before_any_request(self, args, message, asf_sandbox, asf_sandbox_connections, capsys):
        asf_sandbox.stats.reset()
        with pytest.raises(SystemExit) as exited:
            sys.exit(main(args))
        assert exited.value.code == 2
        assert message in capsys.readouterr().err
        assert sandbox_requests(asf_sandbox) == {}

    def test_a_bad_connection_exits_2_naming_the_variable(self, monkeypatch, capsys):
        monkeypatch.setenv("AIRFLOW_CONN_EARTHDATA_DEFAULT", '{"extra": {"cmr_url": "not a url"}}')
        assert main(["search", "C1379535600-ASF"]) == 2
        assert "AIRFLOW_CONN_EARTHDATA_DEFAULT: cmr_url 'not a url' is not an http(s) URL" in capsys.readouterr().err

    def test_a_refused_login_exits_1_without_retrying(self, asf_sandbox, capsys):
        connection = asf_sandbox.earthdata_connection()
        connection["password"] = "wrong-password"
        asf_sandbox.stats.reset()
        code = main(["credentials", "--conn-uri", json.dumps(connection)])
        error = capsys.readouterr().err
        assert code == 1
        assert "wrong username or password" in error and "wrong-password" not in error
        assert sandbox_requests(asf_sandbox).get("edl_authorize") == 1

    def test_no_identity_at_all_exits_2_before_any_request_with_the_ways_to_give_one(
        self, asf_sandbox, capsys, monkeypatch
    ):
        for name in ("EARTHDATA_TOKEN", "EARTHDATA_USERNAME", "EARTHDATA_PASSWORD"):
            monkeypatch.delenv(name, raising=False)
        connection = asf_sandbox.earthdata_connection()
        del connection["login"], connection["password"]
        asf_sandbox.stats.reset()
        assert main(["credentials", "--conn-uri", json.dumps(connection)]) == 2
        assert "error: no Earthdata Login is given: add 'machine " in capsys.readouterr().err
        assert sandbox_requests(asf_sandbox) == {}

    def test_an_answer_the_client_does_not_understand_exits_1_not_2(self, asf_sandbox, capsys):
        # A status endpoint that answers JSON with an unknown "status": a runtime failure after a request,
        # not bad usage (the sandbox's own health route answers {"status": "ok"}).
        connection = asf_sandbox.earthdata_connection()
        connection["extra"]["archive_status_url"] = f"{asf_sandbox.urls.sandbox}/__sandbox__/health?product={{name}}"
        code = main(["status", "--conn-uri", json.dumps(connection), "some-product.nc"])
        error = capsys.readouterr().err
        assert code == 1, error
        assert "'ok'" in error

    def test_environment_identity_is_used_last(self, asf_sandbox, run_cli):
        connection = asf_sandbox.earthdata_connection()
        login, password = connection.pop("login"), connection.pop("password")
        result = run_cli(
            "credentials",
            "--conn-uri",
            json.dumps(connection),
            env={"EARTHDATA_USERNAME": login, "EARTHDATA_PASSWORD": password, "NETRC": os.devnull},
        )
        assert result.returncode == 0, result.stderr
        assert "export AWS_SESSION_TOKEN=" in result.stdout


class TestNothingConfigured:
    """``asf-ifg credentials`` says in one sentence what is missing: a login first, then an endpoint."""

    @pytest.fixture(autouse=True)
    def _no_identity(self, monkeypatch, tmp_path):
        for name in ("EARTHDATA_TOKEN", "EARTHDATA_USERNAME", "EARTHDATA_PASSWORD", "AIRFLOW_CONN_EARTHDATA_DEFAULT"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("NETRC", str(tmp_path / "no.netrc"))

    def test_no_login_says_a_login_is_missing_and_how_to_give_one(self, capsys, tmp_path):
        assert main(["credentials"]) == 2
        error = capsys.readouterr().err.strip()
        assert error == (
            f"asf-ifg credentials: error: no Earthdata Login is given: add 'machine "
            f"urs.earthdata.nasa.gov login LOGIN password PASSWORD' to {tmp_path / 'no.netrc'}, set "
            f"EARTHDATA_USERNAME and EARTHDATA_PASSWORD or EARTHDATA_TOKEN, or pass --conn-uri "
            f"earthdata://LOGIN:PASSWORD@/"
        )

    @pytest.mark.parametrize(
        ("login", "where"),
        [
            pytest.param({"EARTHDATA_USERNAME": "me", "EARTHDATA_PASSWORD": "pw"}, "no connection is given", id="env"),
            pytest.param({"EARTHDATA_TOKEN": "a-token"}, "no connection is given", id="token"),
            pytest.param(
                {"AIRFLOW_CONN_EARTHDATA_DEFAULT": "earthdata://me:pw@/"},
                "AIRFLOW_CONN_EARTHDATA_DEFAULT has no s3_credentials_url",
                id="connection",
            ),
        ],
    )
    def test_a_login_without_an_endpoint_lists_the_endpoints(self, login, where, monkeypatch, capsys):
        for name, value in login.items():
            monkeypatch.setenv(name, value)
        assert main(["credentials"]) == 2
        error = capsys.readouterr().err
        assert error.startswith(
            f"asf-ifg credentials: error: no credentials endpoint is configured ({where}): "
            f"pass --endpoint URL or set s3_credentials_url in the connection. "
        )
        assert "https://sentinel1.asf.alaska.edu/s3credentials (Sentinel-1 SLC" in error
        assert "GUNW products (ARIA_S1_GUNW and the 2018 GRFN collections) have none today" in error
        assert "no connection has no" not in error


class TestRefusedConnections:
    def test_text_that_is_no_connection_exits_2_naming_both_forms(self, monkeypatch, capsys):
        monkeypatch.setenv("AIRFLOW_CONN_EARTHDATA_DEFAULT", "extra:{edl_url:http://x}")
        assert main(["search", "C2859376221-ASF"]) == 2
        error = capsys.readouterr().err
        assert (
            "asf-ifg search: error: AIRFLOW_CONN_EARTHDATA_DEFAULT is neither Airflow's JSON form nor an "
            "earthdata:// URI (it reads as a connection of type 'extra'); give Airflow's JSON form"
        ) in error
        assert "earthdata://LOGIN:PASSWORD@/?edl_url=" in error

    def test_an_unresolvable_cmr_exits_1_after_one_try(self, capsys, caplog):
        connection = json.dumps({"conn_type": "earthdata", "extra": {"cmr_url": UNRESOLVABLE_CMR}})
        assert main(["search", "C2859376221-ASF", "--conn-uri", connection]) == 1
        error = capsys.readouterr().err
        assert "asf-ifg search: HostNotFoundError: host 'cmr.invalid' does not resolve" in error
        assert "check cmr_url in the earthdata connection" in error
        assert not [r for r in caplog.records if "CMR request failed" in r.getMessage()]  # no second try
