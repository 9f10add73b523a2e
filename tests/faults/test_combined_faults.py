"""Every fault flag at once, as issue 15's "done when" states them: 10 runs of a copy DAG of 4 granules (S3 and
HTTPS sources) and 10 runs of ``asf-ifg download``, each ending with every object verified and nothing left over.

The sandbox runs as its own process, started with exactly the flags a user gives it; its faults hit every
service: CMR, EDL, the door, TEA's ``/s3credentials`` and S3 (ASF's bucket and the destination). Seven requests
in ten are answered 429 or 5xx, or have their body cut off. Each DAG run is ``dag.test()`` in a process of its
own (on a copy of the session's metadata database), and every run and download goes on at once, as on a busy
cluster: a storm makes each request wait for its retries, and running them one after another would take
half an hour. Faults are switched off only to read back what landed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests

FAULTS = {"fault_rate": 0.2, "throttle_rate": 0.2, "reset_rate": 0.3, "latency_ms": 200}
RUNS = 10
BUCKET = "fault-runs"
ARIA_S1_GUNW, GRFN_UNWRAPPED = "C2859376221-ASF", "C1379535600-ASF"
COPY_DAG = f"""
import datetime as dt

from airflow.sdk import DAG, task

from airflow_asf_ifg.transfers.asf_to_s3 import AsfToS3Operator


@task
def granules(**context):
    return context["params"]["granules"]


with DAG(
    "__DAG_ID__", schedule=None, start_date=dt.datetime(2024, 1, 1), params={{"granules": [], "prefix": ""}}
) as dag:
    AsfToS3Operator.partial(
        task_id="copy",
        dest_bucket="{BUCKET}",
        dest_prefix="{{{{ params.prefix }}}}{{granule_ur}}/",
        retries=3,
        retry_delay=dt.timedelta(seconds=2),
    ).expand(granule=granules())
"""
#: Runs one DAG run in this process: ``python - <dag file> <run conf as JSON>``; prints the run's state.
RUN_ONE = """
import importlib.util, json, sys

spec = importlib.util.spec_from_file_location("copy_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
state = module.dag.test(run_conf=json.loads(sys.argv[2])).state
print("STATE", getattr(state, "value", state))
"""

pytestmark = pytest.mark.timeout(1800)  # ten DAG runs in a storm: minutes, not the default 300 s


class FaultySandbox:
    """``serve --tea --fault-rate 0.2 --throttle-rate 0.2 --reset-rate 0.3 --credential-ttl 5 --latency-ms 200``."""

    def __init__(self) -> None:
        flags = [f"--{name.replace('_', '-')}={value}" for name, value in FAULTS.items()]
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "airflow_asf_ifg.sandbox", "serve", "--format", "env", "--tea"),
                *("--granules", "2", "--product-bytes", str(6 * 1024 * 1024), "--bucket", BUCKET),
                *("--credential-ttl", "5", *flags),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.printed: dict[str, str] = {}
        for line in self.process.stdout:
            if line.strip() == "READY":
                break
            name, _, value = line.strip().partition("=")
            self.printed[name] = value
        self.url = self.printed["SANDBOX_URL"]
        self.files = {f["name"]: f for g in self.control("catalogue") for f in g["files"]}

    def control(self, route: str, document: dict | None = None):
        """GET (or with ``document`` POST) a control route; those never fail."""
        url = f"{self.url}/__sandbox__/{route}"
        answer = (
            requests.post(url, json=document, timeout=30) if document is not None else requests.get(url, timeout=30)
        )
        answer.raise_for_status()
        return answer.json()

    def faults(self, on: bool) -> None:
        self.control("config", FAULTS if on else dict.fromkeys(FAULTS, 0))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def sandbox():
    started = FaultySandbox()
    try:
        yield started
    finally:
        started.stop()


def destination(sandbox: FaultySandbox):
    connection = json.loads(sandbox.printed["AIRFLOW_CONN_AWS_DEFAULT"])
    return boto3.client(
        "s3",
        endpoint_url=sandbox.printed["S3_URL"],
        region_name="us-east-1",
        aws_access_key_id=connection["login"],
        aws_secret_access_key=connection["password"],
    )


def verified(data: bytes, expected: dict) -> bool:
    return (len(data), hashlib.md5(data, usedforsecurity=False).hexdigest()) == (expected["size"], expected["md5"])


def table(rows: dict[str, dict[str, int]]) -> str:
    columns = ("runs", "completed", "failed", "corrupt", "leftovers", "retried")
    lines = [f"{'':<18}" + "".join(f"{c:>11}" for c in columns)]
    lines += [f"{name:<18}" + "".join(f"{row[c]:>11}" for c in columns) for name, row in rows.items()]
    return "\n".join(lines)


def start(command: list[str], log: Path, environment: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a process writing its output to ``log``: a pipe read later would stall a chatty process when full.

    :param command: the command.
    :param log: where its stdout and stderr go.
    :param environment: its environment.
    """
    with log.open("wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=environment)


def start_dag_run(dag_file: str, conf: dict, home: Path, environment: dict[str, str]) -> subprocess.Popen[bytes]:
    """``dag.test()`` in a process of its own, on a copy of the session's metadata database; its log is
    ``home/run.log``.

    :param dag_file: the DAG's file (in the tests' bundle).
    :param conf: the run's conf.
    :param home: an empty AIRFLOW_HOME for it.
    :param environment: the process's environment.
    """
    from airflow.configuration import conf as airflow_conf

    database = airflow_conf.get("database", "sql_alchemy_conn").removeprefix("sqlite:///")
    # The backup API, not a file copy: what the session wrote may still sit in the write-ahead log.
    with sqlite3.connect(database) as source, sqlite3.connect(home / "airflow.db") as copy:
        source.backup(copy)
    lane = {"AIRFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}"}
    return start([sys.executable, "-c", RUN_ONE, dag_file, json.dumps(conf)], home / "run.log", {**environment, **lane})


def test_copy_dag_and_download_runs_complete_verified_under_every_fault(
    sandbox, dag_from_source, monkeypatch, tmp_path, capsys
):
    aws = json.loads(sandbox.printed["AIRFLOW_CONN_AWS_DEFAULT"])
    # The destination is the user's own S3; its retries are the user's choice (README: flaky networks).
    aws["extra"]["config_kwargs"] = {"retries": {"mode": "standard", "max_attempts": 10}}
    aws_environment = {"AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws)}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(aws))
    monkeypatch.setenv("AIRFLOW_CONN_EARTHDATA_DEFAULT", sandbox.printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"])
    from airflow_asf_ifg.hooks.cmr import CmrHook
    from airflow_asf_ifg.operators.cmr import compact

    sandbox.faults(False)  # what to copy is chosen calmly: the searches under faults are the DAGs' business
    aria = [compact(g) for g in CmrHook().search(collection_concept_id=ARIA_S1_GUNW, max_hits=2)]
    grfn = [compact(g) for g in CmrHook().search(collection_concept_id=GRFN_UNWRAPPED, max_hits=2)]
    granules = aria + grfn
    assert all(f.get("s3_url") for g in aria for f in g["files"] if f["role"] == "data"), "ARIA: S3 (--tea)"
    assert not any(f.get("s3_url") for g in grfn for f in g["files"]), "GRFN: HTTPS"
    data = [f for g in granules for f in g["files"] if f["role"] == "data"]
    dag = dag_from_source(COPY_DAG)
    s3 = destination(sandbox)
    rows = {
        name: dict.fromkeys(("runs", "completed", "failed", "corrupt", "leftovers", "retried"), 0)
        for name in ("copy DAG", "asf-ifg download")
    }

    sandbox.faults(True)
    script = str(Path(sys.executable).with_name("asf-ifg"))
    environment = {**os.environ, "AIRFLOW_CONN_EARTHDATA_DEFAULT": sandbox.printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"]}
    downloads = [data[1], data[2]]  # one ARIA_S1_GUNW product, one GRFN product, both over HTTPS
    downloading = []
    for run in range(RUNS):
        out = tmp_path / f"download-{run}"
        command = [script, "download", "-o", str(out), "--poll", "1", *(f["url"] for f in downloads)]
        downloading.append(start(command, tmp_path / f"download-{run}.log", environment))
    runners = []
    for run in range(RUNS):
        home = tmp_path / f"airflow-{run}"
        home.mkdir()
        conf = {"granules": granules, "prefix": f"run-{run}/"}
        runners.append(start_dag_run(dag.fileloc, conf, home, {**environment, **aws_environment}))
    for process in (*runners, *downloading):
        process.wait(timeout=1500)
    outputs = [(tmp_path / f"airflow-{run}" / "run.log").read_text(errors="replace") for run in range(RUNS)]
    dag_runs = [
        next((line.split()[1] for line in out.splitlines() if line.startswith("STATE ")), "none") for out in outputs
    ]

    sandbox.faults(False)
    row = rows["copy DAG"]
    for run, state in enumerate(dag_runs):
        prefix = f"run-{run}/"
        row["runs"] += 1
        row["completed" if state == "success" else "failed"] += 1
        row["retried"] += outputs[run].count("Task failed with exception")  # tries Airflow's retries made good
        if state != "success":
            print(f"DAG run {run} ended {state}: {outputs[run][-3000:]}")
        expected = {f"{prefix}{g['granule_ur']}/{f['name']}": f for g in granules for f in g["files"] if f in data}
        listed = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])}
        uploads = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])
        row["leftovers"] += len(listed - set(expected)) + len(uploads)
        for key in listed & set(expected):
            row["corrupt"] += not verified(
                s3.get_object(Bucket=BUCKET, Key=key)["Body"].read(), sandbox.files[expected[key]["name"]]
            )
    row = rows["asf-ifg download"]
    for run, process in enumerate(downloading):
        row["runs"] += 1
        row["completed" if process.returncode == 0 else "failed"] += 1
        if process.returncode:
            log = (tmp_path / f"download-{run}.log").read_text(errors="replace")
            print(f"download {run} exited {process.returncode}: {log[-1500:]}")
        out = tmp_path / f"download-{run}"
        present = {p.name for p in out.iterdir()} if out.exists() else set()  # a .part left over shows here
        row["leftovers"] += len(present - {f["name"] for f in downloads})
        for f in downloads:
            if (out / f["name"]).exists():
                row["corrupt"] += not verified((out / f["name"]).read_bytes(), sandbox.files[f["name"]])

    events = sandbox.control("stats")["events"]
    injected = {kind: events.get(f"fault_{kind}", 0) for kind in ("throttle", "error", "reset")}
    with capsys.disabled():
        print(f"\nUnder {FAULTS} and 5 s credentials ({injected} faults injected):\n{table(rows)}")
    for name, row in rows.items():
        assert (row["completed"], row["corrupt"], row["leftovers"]) == (RUNS, 0, 0), f"{name}\n{table(rows)}"
