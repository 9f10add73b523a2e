"""The HTML of the "ASF retrievals" page: no data in it; its script asks ``api/retrievals`` every 15 s."""

from __future__ import annotations

__all__ = ["PAGE"]

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ASF retrievals</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1a202c; }
  h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.6em 0 .4em; }
  table { border-collapse: collapse; width: 100%; margin-bottom: .6em; }
  th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
  th { background: #f7fafc; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .state { padding: .05em .5em; border-radius: .8em; font-size: .9em; }
  .available, .verified { background: #c6f6d5; } .retrieving { background: #feebc8; }
  .archived { background: #e9d8fd; } .missing, .failed { background: #fed7d7; } .skipped { background: #e2e8f0; }
  .muted { color: #718096; } #error { color: #c53030; }
</style>
</head>
<body>
<h1>ASF retrievals</h1>
<div class="muted">What the archive sensors and copies wait for, as their triggers last saw it; refreshed every 15 s.
<span id="generated"></span></div>
<div id="error"></div>
<h2>Waiting</h2>
<div id="waiting" class="muted">Loading…</div>
<h2>Recent copies</h2>
<div id="copies" class="muted">Loading…</div>
<script>
"use strict";
const text = (value) => document.createTextNode(value == null ? "" : String(value));
function cell(content, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.append(content instanceof Node ? content : text(content));
  return td;
}
function link(label, href) {
  const a = document.createElement("a");
  a.href = href; a.target = "_top"; a.append(text(label));
  return a;
}
function badge(state) {
  const span = document.createElement("span");
  span.className = "state " + state; span.append(text(state));
  return span;
}
function ago(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 90) return Math.round(seconds) + " s";
  if (seconds < 5400) return Math.round(seconds / 60) + " min";
  return (seconds / 3600).toFixed(1) + " h";
}
function table(headers, rows) {
  const t = document.createElement("table");
  const head = t.createTHead().insertRow();
  headers.forEach((h) => { const th = document.createElement("th"); th.append(text(h)); head.append(th); });
  const body = t.createTBody();
  rows.forEach((r) => { const tr = body.insertRow(); r.forEach((c) => tr.append(c)); });
  return t;
}
function where(row) {
  const task = row.task_id + (row.map_index >= 0 ? " [" + (row.label || row.map_index) + "]" : "");
  return [cell(row.dag_id), cell(row.run_id), cell(link(task, row.task_url))];
}
function showWaiting(rows) {
  const box = document.getElementById("waiting");
  box.className = ""; box.replaceChildren();
  if (!rows.length) { box.className = "muted"; box.append(text("Nothing is waiting.")); return; }
  const body = [];
  rows.forEach((row) => {
    const totals = Object.entries(row.counts).map(([s, n]) => n + " " + s).join(", ") || "no state read yet";
    const first = [...where(row), cell(row.task_state), cell(totals + (row.next_check ? "; next check " +
      new Date(row.next_check).toLocaleTimeString() : ""))];
    if (!row.products.length) body.push([...first, cell(""), cell(""), cell(""), cell(""), cell("")]);
    row.products.forEach((p, i) => {
      const lead = i === 0 ? first : [cell(""), cell(""), cell(""), cell(""), cell("")];
      body.push([...lead, cell(link(p.name, p.cmr_url)), cell(badge(p.state)), cell(p.since ?
        new Date(p.since).toLocaleString() : ""), cell(ago(p.since), "num"), cell(p.expires || "")]);
    });
  });
  box.append(table(["DAG", "Run", "Task", "Task state", "Totals", "Product", "State", "Since",
    "In this state", "Restored copy expires"], body));
}
function showCopies(rows) {
  const box = document.getElementById("copies");
  box.className = ""; box.replaceChildren();
  if (!rows.length) { box.className = "muted"; box.append(text("No copy in the last days.")); return; }
  const mib = (n) => (n / 1048576).toFixed(1);
  box.append(table(["DAG", "Run", "Task", "File", "MiB", "MiB/s", "Result"], rows.map((r) => [...where(r),
    cell(r.file), cell(mib(r.bytes), "num"), cell(r.rate ? mib(r.rate) : "", "num"), cell(badge(r.status))])));
}
async function refresh() {
  const headers = {};
  const token = window.localStorage && localStorage.getItem("token");
  if (token) headers["Authorization"] = "Bearer " + token;
  try {
    const answer = await fetch("api/retrievals", { credentials: "same-origin", headers });
    if (!answer.ok) throw new Error(answer.status === 401 || answer.status === 403 ?
      "Log in to Airflow to see the retrievals (" + answer.status + ")." : "The page's API answered " + answer.status);
    const data = await answer.json();
    document.getElementById("error").replaceChildren();
    const read = "Read at " + new Date(data.generated).toLocaleTimeString();
    document.getElementById("generated").replaceChildren(text(read));
    showWaiting(data.waiting);
    showCopies(data.copies);
  } catch (error) {
    document.getElementById("error").replaceChildren(text(error.message));
  }
}
refresh();
setInterval(refresh, 15000);
</script>
</body>
</html>
"""
