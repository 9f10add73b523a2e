"""``python -m airflow_asf_ifg.sandbox serve`` as other tools run it: the printed lines in each format, READY."""

from __future__ import annotations

import json
import shlex
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
import requests

from airflow_asf_ifg.sandbox.ports import free_port

LINES = [
    "SANDBOX_URL",
    "CMR_URL",
    "EDL_URL",
    "ASF_URL",
    "S3_URL",
    "AIRFLOW_CONN_EARTHDATA_DEFAULT",
    "AIRFLOW_CONN_AWS_DEFAULT",
]


def parse_printed(lines: list[str]) -> dict[str, str]:
    """What ``serve`` printed before READY, in any of its formats: ``export NAME='value'`` (shell), ``NAME=value``
    (env) or one JSON object (json); name → value in printed order."""
    if len(lines) == 1 and lines[0].startswith("{"):
        return json.loads(lines[0])
    printed: dict[str, str] = {}
    for line in lines:
        if line.startswith("export "):
            ((name, value),) = [word.split("=", 1) for word in shlex.split(line.removeprefix("export "))]
        else:
            name, _, value = line.partition("=")
        printed[name] = value
    return printed


@contextmanager
def serve_lines(*args: str, timeout: float = 60):
    """Run ``serve`` with ``args``; yield (process, the lines printed before READY) once it says READY."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_asf_ifg.sandbox", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        for line in process.stdout:
            line = line.rstrip("\n")
            if line == "READY":
                break
            lines.append(line)
            if time.monotonic() > deadline:
                raise AssertionError("serve did not print READY in time")
        else:
            raise AssertionError(f"serve exited before READY: {process.wait()} {process.stderr.read()}")
        yield process, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


@contextmanager
def serve(*args: str, timeout: float = 60, output_format: str = "env"):
    """Run ``serve --format output_format`` with ``args``; yield (process, printed name → value, printed names in
    order) once it says READY."""
    with serve_lines("--format", output_format, *args, timeout=timeout) as (process, lines):
        printed = parse_printed(lines)
        yield process, printed, list(printed)


class TestServe:
    def test_prints_every_line_then_ready_and_exits_0_on_sigterm(self):
        with serve("--granules", "2") as (process, printed, order):
            assert order == LINES
            hosts = [urlsplit(printed[name]).hostname for name in ("CMR_URL", "EDL_URL", "ASF_URL", "S3_URL")]
            assert hosts == ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
            assert printed["SANDBOX_URL"] == printed["CMR_URL"]
            earthdata = json.loads(printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"])
            assert earthdata["conn_type"] == "earthdata" and earthdata["login"] and earthdata["password"]
            # Today a connection needs only the login; the extras point at the sandbox's hosts.
            assert earthdata["extra"] == {
                "edl_url": printed["EDL_URL"],
                "cmr_url": printed["CMR_URL"],
                "s3_endpoint_url": printed["S3_URL"],
            }
            aws = json.loads(printed["AIRFLOW_CONN_AWS_DEFAULT"])
            assert aws["conn_type"] == "aws" and aws["extra"]["endpoint_url"] == printed["S3_URL"]
            stats = requests.get(f"{printed['SANDBOX_URL']}/__sandbox__/stats", timeout=10).json()
            assert set(stats) >= {"requests", "authorization"}
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0

    def test_sigint_also_exits_0(self):
        with serve("--granules", "1") as (process, _, _):
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0

    def test_chosen_port_is_used_on_every_address(self):
        port = free_port()
        with serve("--port", str(port), "--granules", "1") as (_, printed, _):
            for name in ("CMR_URL", "EDL_URL", "ASF_URL", "S3_URL"):
                assert urlsplit(printed[name]).port == port

    def test_era_2018_prints_the_doors_endpoints(self):
        with serve("--granules", "1", "--era", "2018") as (_, printed, _):
            extra = json.loads(printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"])["extra"]
            assert extra["s3_credentials_url"] == printed["ASF_URL"] + "/door/credentials"
            assert extra["archive_status_url"] == printed["ASF_URL"] + "/door/status/{name}"
            assert extra["s3_endpoint_url"] == printed["S3_URL"]
            config = requests.get(f"{printed['SANDBOX_URL']}/__sandbox__/config", timeout=10).json()
            assert (config["era"], config["tea"]) == ("2018", False)

    def test_credentials_gone_with_tea_switches_the_printed_endpoint(self):
        with serve("--granules", "1", "--era", "2018", "--credentials-gone", "--tea") as (_, printed, _):
            earthdata = json.loads(printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"])
            assert earthdata["extra"]["s3_credentials_url"] == printed["ASF_URL"] + "/s3credentials"
            with requests.Session() as session:
                response = session.get(f"{printed['ASF_URL']}/door/credentials", allow_redirects=False, timeout=10)
                # Basic credentials go to the EDL host only; requests drops them on the redirects back.
                login = session.get(
                    response.headers["Location"], auth=(earthdata["login"], earthdata["password"]), timeout=10
                )
            assert login.status_code == 410

    def test_options_reach_the_catalogue(self):
        with serve("--granules", "3", "--product-bytes", "4096", "--seed", "5") as (_, printed, _):
            catalogue = requests.get(f"{printed['SANDBOX_URL']}/__sandbox__/catalogue", timeout=10).json()
            assert len(catalogue) == 3 * 5
            sizes = [f["size"] for g in catalogue for f in g["files"] if f["role"] == "data"]
            assert max(sizes) < 4096 * 2

    def test_same_seed_same_catalogue_across_runs(self):
        documents = []
        for _ in range(2):
            with serve("--granules", "1", "--seed", "9", "--product-bytes", "8192") as (_, printed, _):
                catalogue = requests.get(f"{printed['SANDBOX_URL']}/__sandbox__/catalogue", timeout=10).json()
                documents.append(
                    [(g["concept_id"], [(f["name"], f["size"], f["md5"]) for f in g["files"]]) for g in catalogue]
                )
        assert documents[0] == documents[1]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--fault-rate", "2"], "fault_rate 2.0 must be between 0 and 1"),
            (["--granules", "0"], "granules 0 must be at least 1"),
            (["--credential-ttl", "0"], "credential_ttl 0.0 must be greater than 0"),
            (["--host", "0.0.0.0"], "host '0.0.0.0' listens on every address but is no address to hand out"),
            (["--public-host", "sandbox"], "public_host 'sandbox' needs host"),
            (["--host", "127.0.0.1", "--port", "65533"], "port 65533 is too high"),
            (["--bucket", "grfn-content-prod"], "bucket 'grfn-content-prod' must follow S3's naming rules"),
            (["--bucket", "Not_A_Bucket"], "bucket 'Not_A_Bucket' must follow S3's naming rules"),
            (["--era", "2019"], "argument --era: invalid choice: '2019'"),
            (["--format", "yaml"], "argument --format: invalid choice: 'yaml'"),
        ],
    )
    def test_bad_values_exit_2_naming_the_value(self, args, message):
        result = subprocess.run(
            [sys.executable, "-m", "airflow_asf_ifg.sandbox", "serve", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert message in result.stderr

    def test_busy_port_is_a_clear_error(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            result = subprocess.run(
                [sys.executable, "-m", "airflow_asf_ifg.sandbox", "serve", "--port", str(port)],
                capture_output=True,
                text=True,
                timeout=60,
            )
        assert result.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def bash_values(script: str, names: list[str]) -> dict[str, str]:
    """Run ``script`` in bash, then read back the environment variables ``names`` it exported."""
    code = "import json, os, sys; print(json.dumps({n: os.environ[n] for n in sys.argv[1:]}))"
    reader = f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"
    result = subprocess.run(
        ["bash", "-c", f"{script}\n{reader} {' '.join(names)}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class TestFormats:
    def test_default_is_shell_exports_that_paste_into_bash(self):
        with serve_lines("--granules", "1", "--metadata-only") as (_, lines):
            assert all(line.startswith("export ") for line in lines) and len(lines) == len(LINES)
            printed = parse_printed(lines)
            assert list(printed) == LINES
            pasted = bash_values("\n".join(lines), LINES)
        assert pasted == printed
        assert json.loads(pasted["AIRFLOW_CONN_EARTHDATA_DEFAULT"])["conn_type"] == "earthdata"
        assert json.loads(pasted["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == pasted["S3_URL"]

    def test_shell_quoting_survives_any_value(self):
        from airflow_asf_ifg.sandbox.__main__ import render

        hostile = {"A": 'it\'s {"json": [1, 2]} $HOME `id` \\n; rm -rf /', "B": "", "C": "plain"}
        assert bash_values(render(hostile, "shell"), list(hostile)) == hostile

    def test_env_is_plain_name_value_lines(self):
        with serve_lines("--granules", "1", "--metadata-only", "--format", "env") as (_, lines):
            assert [line.split("=", 1)[0] for line in lines] == LINES
            assert not any(line.startswith("export ") or "='" in line for line in lines)
            assert json.loads(lines[LINES.index("AIRFLOW_CONN_AWS_DEFAULT")].split("=", 1)[1])["conn_type"] == "aws"

    def test_json_is_one_object_then_ready(self):
        with serve_lines("--granules", "1", "--metadata-only", "--format", "json") as (_, lines):
            assert len(lines) == 1
            printed = json.loads(lines[0])
            assert list(printed) == LINES
            assert requests.get(f"{printed['SANDBOX_URL']}/__sandbox__/health", timeout=10).json() == {"status": "ok"}


class TestControlRoutes:
    def test_config_can_change_at_runtime(self, asf_sandbox, asf_sandbox_settings):
        url = f"{asf_sandbox.urls.sandbox}/__sandbox__/config"
        changed = requests.post(url, json={"credential_ttl": 30, "latency_ms": 0}, timeout=10).json()
        assert changed["credential_ttl"] == 30
        assert asf_sandbox.config.credential_ttl == 30
        refused = requests.post(url, json={"granules": 3}, timeout=10)
        assert refused.status_code == 400 and "cannot change ['granules'] at runtime" in refused.json()["errors"][0]
        invalid = requests.post(url, json={"fault_rate": 3}, timeout=10)
        assert invalid.status_code == 400 and "fault_rate 3 must be between 0 and 1" in invalid.json()["errors"][0]

    def test_stats_count_routes_and_reset(self, asf_sandbox):
        requests.post(f"{asf_sandbox.urls.sandbox}/__sandbox__/stats/reset", timeout=10)
        requests.get(f"{asf_sandbox.urls.cmr}/search/granules.json", params={"provider": "ASF"}, timeout=10)
        requests.get(
            f"{asf_sandbox.urls.cmr}/search/granules.json",
            params={"provider": "ASF"},
            headers={"Authorization": "Bearer x"},
            timeout=10,
        )
        stats = requests.get(f"{asf_sandbox.urls.sandbox}/__sandbox__/stats", timeout=10).json()
        assert stats["requests"]["cmr_granules"] == 2
        assert stats["authorization"]["cmr_granules"] == [urlsplit(asf_sandbox.urls.cmr).netloc]
