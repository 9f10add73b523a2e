"""End to end in real Airflow: the example DAG triggered over the REST API, run by the scheduler, LocalExecutor and
triggerer against the sandbox, watched in a real browser; no secret in any log.

The stack gets the connection a new user sets for today's services (a login; the extras only point at the
sandbox's hosts). A first run meets today's door (nothing archived); then the sandbox turns into the 2018
door, whose archived product makes the sensor defer to the triggerer, read through the download URL's 202s.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
import requests

from airflow_asf_ifg.sandbox.catalogue import first_pair_group
from airflow_asf_ifg.sandbox.demo import ARIA_S1_GUNW, DAG_FILE, DAG_ID, run_after
from tests.e2e.stack import OUTSIDER, AirflowStack
from tests.sandbox.helpers import ingest_sandbox, user_s3, wait_for


def wait_until(condition, timeout: float, what: str):
    return wait_for(condition, timeout, what, every=1.0)  # REST polling: once a second is plenty


RUN_ID = "e2e_pasadena"
TODAY_RUN_ID = "e2e_pasadena_today"
BUCKET = "asf-ifg-ingest"
# Long enough to see the sensor deferred (and take its picture), short enough for CI.
RETRIEVAL_SECONDS = 40.0
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "e2e"

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def sandbox(asf_sandbox):
    yield from ingest_sandbox(asf_sandbox, BUCKET, RETRIEVAL_SECONDS)


@pytest.fixture(scope="module")
def stack(sandbox, tmp_path_factory):
    connections = {name: value for name, value in sandbox.environment().items() if name.startswith("AIRFLOW_CONN")}
    started = time.monotonic()
    airflow = AirflowStack(tmp_path_factory.mktemp("airflow-home"), DAG_FILE.parent, connections)
    try:
        airflow.start()
        wait_until(airflow.healthy, 240, "the API server and the scheduler to be healthy")
        wait_until(
            lambda: airflow.api("GET", f"/dags/{DAG_ID}").status_code == 200,
            240,
            f"the dag-processor to parse {DAG_ID}",
        )
        yield airflow
    finally:
        airflow.stop()
        print(f"\ne2e: Airflow stack up and down in {time.monotonic() - started:.0f} s")


def task_states(stack: AirflowStack, run_id: str = RUN_ID) -> dict[str, str]:
    listed = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    return {(t["task_id"] if t["map_index"] < 0 else f"{t['task_id']}[{t['map_index']}]"): t["state"] for t in listed}


def run_state(stack: AirflowStack, run_id: str = RUN_ID) -> str:
    return stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]


def trigger(stack: AirflowStack, run_id: str, logical_date) -> None:
    assert stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200
    created = stack.api(
        "POST", f"/dags/{DAG_ID}/dagRuns", json={"dag_run_id": run_id, "logical_date": logical_date.isoformat()}
    )
    assert created.status_code == 200, created.text


def finished(stack: AirflowStack, run_id: str, timeout: float) -> str:
    return wait_until(
        lambda: run_state(stack, run_id) if run_state(stack, run_id) in ("success", "failed") else None,
        timeout,
        f"the DAG run {run_id} to finish",
    )


def landed_verified(sandbox, granules) -> None:
    destination = user_s3(sandbox)
    for granule in granules:
        key = f"sentinel-1/ARIA_S1_GUNW/{granule.granule_ur}/{granule.data_file.name}"
        body = destination.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert (len(body), hashlib.md5(body, usedforsecurity=False).hexdigest()) == granule.sizes[
            granule.data_file.name
        ]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Flags as the machine's notes say: no sandbox as root, no background traffic on a closed network.
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


def logged_in_page(browser, stack: AirflowStack):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{stack.url}/", wait_until="networkidle")
    page.fill("input[name='username']", "admin")
    page.fill("input[name='password']", stack.password)
    page.click("button[type='submit']")
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=60_000)
    return page


def grid_picture(page, stack: AirflowStack, name: str, expected: str, run_id: str = RUN_ID) -> str:
    page.goto(f"{stack.url}/dags/{DAG_ID}/runs/{run_id}", wait_until="networkidle")
    page.get_by_text("wait_for_archive").first.wait_for(timeout=60_000)
    page.get_by_text(expected).first.wait_for(timeout=60_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
    return page.inner_text("body")


def retrievals(stack: AirflowStack, token: str | None = None) -> requests.Response:
    """The "ASF retrievals" page's API, as a user with ``token`` (or anonymous)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{stack.url}/asf-ifg/api/retrievals", headers=headers, timeout=30)


def waiting_row(stack: AirflowStack, run_id: str) -> dict | None:
    """The page's row of the run's archive sensor, once its trigger has published every product."""
    rows = [r for r in retrievals(stack, stack.token).json()["waiting"] if r["run_id"] == run_id]
    return rows[0] if rows and rows[0]["products"] else None


def second_pasadena_group(sandbox) -> list:
    """The next group of pairs over Pasadena after the first (every other group lies there)."""
    granules = [g for g in sandbox.catalogue if g.collection.concept_id == ARIA_S1_GUNW]
    starts = sorted({g.start for g in granules}, key=[g.start for g in granules].index)
    return [g for g in granules if g.start == starts[2]]


class TestScheduledIngest:
    def test_todays_services_with_a_login_alone(self, stack, sandbox, browser):
        earthdata = json.loads(stack.environment["AIRFLOW_CONN_EARTHDATA_DEFAULT"])
        assert set(earthdata["extra"]) <= {"edl_url", "cmr_url", "s3_endpoint_url"}  # no endpoint but hosts
        group = second_pasadena_group(sandbox)
        trigger(stack, TODAY_RUN_ID, run_after(group[0].start))
        assert finished(stack, TODAY_RUN_ID, 420) == "success", task_states(stack, TODAY_RUN_ID)
        states = task_states(stack, TODAY_RUN_ID)
        assert states["preflight"] == states["wait_for_archive"] == states["summarize"] == "success", states
        landed_verified(sandbox, group)
        events = sandbox.stats.snapshot()["events"]
        assert events.get("retrieval_started", 0) == 0 and events.get("credentials_issued", 0) == 0
        page = logged_in_page(browser, stack)
        assert "preflight" in grid_picture(page, stack, "0-today-run-finished.png", "success", TODAY_RUN_ID)

    def test_triggered_run_defers_the_sensor_then_succeeds(self, stack, sandbox, browser):
        sandbox.update_config({"era": "2018"})  # the 2018 door: one product of the day is in Glacier
        group = first_pair_group(sandbox.catalogue, ARIA_S1_GUNW)
        trigger(stack, RUN_ID, run_after(group[0].start))

        wait_until(
            lambda: task_states(stack).get("wait_for_archive") == "deferred", 300, "the archive sensor to be deferred"
        )
        page = logged_in_page(browser, stack)
        text = grid_picture(page, stack, "1-sensor-deferred.png", "deferred")
        assert "wait_for_archive" in text and "search" in text
        assert task_states(stack)["wait_for_archive"] == "deferred"  # the picture shows what the API said
        assert sandbox.stats.snapshot()["events"].get("retrieval_started") == sum(g.data_file.archived for g in group)

        # The "ASF retrievals" page, from what the trigger (in the triggerer's process) published.
        assert retrievals(stack).status_code == 401  # anonymous: refused
        row = wait_until(lambda: waiting_row(stack, RUN_ID), 120, "the trigger to publish its products' states")
        expected = {g.data_file.name: "retrieving" if g.data_file.archived else "available" for g in group}
        assert {p["name"]: p["state"] for p in row["products"]} == expected
        assert (row["task_id"], row["task_state"]) == ("wait_for_archive", "deferred") and row["next_check"]
        # A user whom Airflow lets read no DAG sees none of its products (and Airflow refuses them the DAG).
        outsider = stack.token_for(OUTSIDER, stack.outsider_password)
        headers = {"Authorization": f"Bearer {outsider}"}
        assert requests.get(f"{stack.url}/api/v2/dags/{DAG_ID}", headers=headers, timeout=30).status_code == 403
        seen = retrievals(stack, outsider)
        assert seen.status_code == 200 and (seen.json()["waiting"], seen.json()["copies"]) == ([], [])
        page.goto(f"{stack.url}/asf-ifg/retrievals", wait_until="networkidle")
        page.get_by_text("retrieving").first.wait_for(timeout=60_000)
        page.screenshot(path=str(SCREENSHOTS / "3-asf-retrievals-page.png"), full_page=True)
        shown = page.inner_text("#waiting")
        for name, state in expected.items():
            line = next(line for line in shown.splitlines() if name in line)
            assert state in line, line  # each product's row carries its own state
        assert RUN_ID in shown and "1 retrieving" in shown and f"{len(group) - 1} available" in shown
        page.goto(f"{stack.url}/plugin/asf-retrievals", wait_until="networkidle")  # as the UI's nav shows it
        page.frame_locator("iframe").get_by_text("retrieving").first.wait_for(timeout=60_000)
        page.screenshot(path=str(SCREENSHOTS / "4-asf-retrievals-in-the-ui.png"), full_page=True)

        assert finished(stack, RUN_ID, 420) == "success", task_states(stack)
        text = grid_picture(page, stack, "2-run-finished.png", "success")
        assert "summarize" in text
        # The mapped copies are named after their granules, in the grid's list of them.
        page.goto(f"{stack.url}/dags/{DAG_ID}/runs/{RUN_ID}/tasks/copy/mapped", wait_until="networkidle")
        for granule in group:
            page.get_by_text(granule.granule_ur).first.wait_for(timeout=60_000)
        page.screenshot(path=str(SCREENSHOTS / "5-named-mapped-copies.png"), full_page=True)
        copies = [c for c in retrievals(stack, stack.token).json()["copies"] if c["run_id"] == RUN_ID]
        assert sorted((c["file"], c["status"]) for c in copies) == sorted((g.data_file.name, "verified") for g in group)

        summary = stack.api(
            "GET", f"/dags/{DAG_ID}/dagRuns/{RUN_ID}/taskInstances/summarize/xcomEntries/return_value"
        ).json()["value"]
        assert summary["granules_found"] == len(group) and summary["files_copied"] == len(group)
        landed_verified(sandbox, group)

    def test_no_secret_reaches_any_log(self, stack, sandbox):
        logs = [
            path for path in stack.home.rglob("*") if path.is_file() and (path.suffix == ".log" or "logs" in path.parts)
        ]
        text = "\n".join(path.read_text(errors="replace") for path in logs)
        assert f"run_id={RUN_ID}" in text and "file(s) copied" in text  # the task logs are really here
        issued = [secret for secret in sandbox.issued_secrets() if len(secret) >= 8]
        assert issued  # EDL sessions and codes were issued (no S3 keys: the door serves GUNW over HTTPS)
        leaked = [secret[:6] + "…" for secret in issued if secret in text]
        assert leaked == []
