"""``python -m airflow_asf_ifg.sandbox serve`` as other tools run it: the printed lines, READY, signals."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
import requests

LINES = ["SANDBOX_URL", "CMR_URL", "EDL_URL", "ASF_URL", "S3_URL", "AIRFLOW_CONN_EARTHDATA_DEFAULT",
         "AIRFLOW_CONN_AWS_DEFAULT"]


@contextmanager
def serve(*args: str, timeout: float = 60):
    """Run ``serve`` with ``args``; yield (process, printed NAME=value lines) once it says READY."""
    process = subprocess.Popen([sys.executable, "-m", "airflow_asf_ifg.sandbox", "serve", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed: dict[str, str] = {}
    order: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        for line in process.stdout:
            line = line.rstrip("\n")
            if line == "READY":
                break
            name, _, value = line.partition("=")
            printed[name] = value
            order.append(name)
            if time.monotonic() > deadline:
                raise AssertionError("serve did not print READY in time")
        else:
            raise AssertionError(f"serve exited before READY: {process.wait()} {process.stderr.read()}")
        yield process, printed, order
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TestServe:
    def test_prints_every_line_then_ready_and_exits_0_on_sigterm(self):
        with serve("--granules", "2") as (process, printed, order):
            assert order == LINES
            hosts = [urlsplit(printed[name]).hostname for name in ("CMR_URL", "EDL_URL", "ASF_URL", "S3_URL")]
            assert hosts == ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
            assert printed["SANDBOX_URL"] == printed["CMR_URL"]
            earthdata = json.loads(printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"])
            assert earthdata["conn_type"] == "earthdata" and earthdata["login"] and earthdata["password"]
            assert earthdata["extra"]["cmr_url"] == printed["CMR_URL"]
            assert earthdata["extra"]["edl_url"] == printed["EDL_URL"]
            assert earthdata["extra"]["s3_credentials_url"] == printed["ASF_URL"] + "/door/credentials"
            assert earthdata["extra"]["archive_status_url"] == printed["ASF_URL"] + "/door/status/{name}"
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

    def test_credentials_gone_switches_the_printed_endpoint(self):
        with serve("--granules", "1", "--credentials-gone") as (_, printed, _):
            earthdata = json.loads(printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"])
            assert earthdata["extra"]["s3_credentials_url"] == printed["ASF_URL"] + "/s3credentials"
            with requests.Session() as session:
                response = session.get(f"{printed['ASF_URL']}/door/credentials", allow_redirects=False, timeout=10)
                # Basic credentials go to the EDL host only; requests drops them on the redirects back.
                login = session.get(response.headers["Location"], auth=(earthdata["login"], earthdata["password"]),
                                    timeout=10)
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
                documents.append([(g["concept_id"], [(f["name"], f["size"], f["md5"]) for f in g["files"]])
                                  for g in catalogue])
        assert documents[0] == documents[1]

    @pytest.mark.parametrize(("args", "message"), [
        (["--fault-rate", "2"], "fault_rate 2.0 must be between 0 and 1"),
        (["--granules", "0"], "granules 0 must be at least 1"),
        (["--credential-ttl", "0"], "credential_ttl 0.0 must be greater than 0"),
        (["--host", "0.0.0.0"], "host '0.0.0.0' listens on every address but is no address to hand out"),
        (["--public-host", "sandbox"], "public_host 'sandbox' needs host"),
        (["--host", "127.0.0.1", "--port", "65533"], "port 65533 is too high"),
        (["--bucket", "grfn-content-prod"], "bucket 'grfn-content-prod' must follow S3's naming rules"),
        (["--bucket", "Not_A_Bucket"], "bucket 'Not_A_Bucket' must follow S3's naming rules"),
    ])
    def test_bad_values_exit_2_naming_the_value(self, args, message):
        result = subprocess.run([sys.executable, "-m", "airflow_asf_ifg.sandbox", "serve", *args],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2
        assert message in result.stderr

    def test_busy_port_is_a_clear_error(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            result = subprocess.run([sys.executable, "-m", "airflow_asf_ifg.sandbox", "serve", "--port", str(port)],
                                    capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


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
        requests.get(f"{asf_sandbox.urls.cmr}/search/granules.json", params={"provider": "ASF"},
                     headers={"Authorization": "Bearer x"}, timeout=10)
        stats = requests.get(f"{asf_sandbox.urls.sandbox}/__sandbox__/stats", timeout=10).json()
        assert stats["requests"]["cmr_granules"] == 2
        assert stats["authorization"]["cmr_granules"] == [urlsplit(asf_sandbox.urls.cmr).netloc]
