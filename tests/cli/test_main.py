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
        code = ("import sys; from airflow_asf_ifg.cli.main import main\ntry: main(['--help'])\nexcept SystemExit: "
                "pass\nprint(sorted(m for m in ('airflow', 'boto3', 'aiohttp', 'requests') if m in sys.modules))")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert result.stdout.strip().splitlines()[-1] == "[]"

    def test_help_starts_fast(self):
        started = time.monotonic()
        subprocess.run([str(SCRIPT), "--help"], capture_output=True, timeout=60, check=True)
        assert time.monotonic() - started < 3.0  # measured ~0.1 s; a loaded CI machine gets slack


class TestExitCodes:
    @pytest.mark.parametrize(("args", "message"), [
        pytest.param(["search"], "the following arguments are required: collection", id="no-collection"),
        pytest.param(["search", "C1379535600-ASF", "--max", "0"], "'0' must be greater than 0", id="max-0"),
        pytest.param(["search", "C1379535600-ASF", "--aoi", "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"],
                     "crosses itself", id="crossing-aoi"),
        pytest.param(["search", "C1379535600-ASF", "--start", "yesterday"], "'yesterday' is not an ISO 8601",
                     id="bad-start"),
        pytest.param(["search", "C1379535600-ASF", "--format", "csv"], "invalid choice: 'csv'", id="bad-format"),
        pytest.param(["credentials", "--endpoint", "ftp://x"], "is not an http(s) URL", id="bad-endpoint"),
        pytest.param(["status", "s3://bucket-only"], "is not an s3://bucket/key URL", id="bad-s3-url"),
        pytest.param(["download", "../etc/passwd"], "is neither a file name nor an http(s) URL", id="bad-file"),
        pytest.param(["download", "x.zip", "--poll", "-1"], "'-1' must be greater than 0", id="bad-poll"),
    ])
    def test_bad_input_exits_2_before_any_request(self, args, message, asf_sandbox, asf_sandbox_connections,
                                                  capsys):
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

    def test_no_identity_at_all_exits_1_with_the_ways_to_give_one(self, asf_sandbox, capsys, monkeypatch):
        for name in ("EARTHDATA_TOKEN", "EARTHDATA_USERNAME", "EARTHDATA_PASSWORD"):
            monkeypatch.delenv(name, raising=False)
        connection = asf_sandbox.earthdata_connection()
        del connection["login"], connection["password"]
        assert main(["credentials", "--conn-uri", json.dumps(connection)]) == 1
        assert "no Earthdata Login credentials" in capsys.readouterr().err

    def test_environment_identity_is_used_last(self, asf_sandbox, run_cli):
        connection = asf_sandbox.earthdata_connection()
        login, password = connection.pop("login"), connection.pop("password")
        result = run_cli("credentials", "--conn-uri", json.dumps(connection),
                         env={"EARTHDATA_USERNAME": login, "EARTHDATA_PASSWORD": password,
                              "NETRC": os.devnull})
        assert result.returncode == 0, result.stderr
        assert "export AWS_SESSION_TOKEN=" in result.stdout
