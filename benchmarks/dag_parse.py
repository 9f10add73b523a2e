"""How much parsing the example DAG file costs the DAG processor, beside an empty DAG file in the same run.

Each measurement is a fresh interpreter that first imports what the DAG processor already holds (Airflow's
task SDK and DagBag), then times ``DagBag(dag_folder=<file>)`` on one file and counts the modules it added.
The two files alternate so that the machine's noise falls on both. Prints medians and the ratio.
Usage: ``python benchmarks/dag_parse.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "dags" / "asf_ifg_aoi_ingest.py"
EMPTY_DAG = """
from airflow.sdk import DAG

with DAG("empty", schedule=None):
    pass
"""
PROBE = textwrap.dedent("""
    import json, sys, time
    import airflow.sdk
    from airflow_asf_ifg.compat import DagBag
    before = set(sys.modules)
    started = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    seconds = time.perf_counter() - started
    added = set(sys.modules) - before
    heavy = sorted(m for m in added if m.split(".")[0] in ("boto3", "botocore", "aiobotocore", "aiohttp", "requests"))
    print(json.dumps({"seconds": seconds, "modules": len(added), "heavy": heavy, "dags": len(bag.dag_ids),
                      "errors": list(bag.import_errors)}))
""")


def parse_once(path: Path, home: str) -> dict:
    """Parse one DAG file in a fresh interpreter; return its timing and module counts.

    :param path: the DAG file.
    :param home: an AIRFLOW_HOME for the probe.
    """
    environment = {"AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        timeout=300,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["errors"] or not result["dags"]:
        raise RuntimeError(f"{path} did not parse: {result}")
    return result


def main() -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per file (default 9)")
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as home:
        empty = Path(home) / "empty_dag.py"
        empty.write_text(EMPTY_DAG)
        results: dict[str, list[dict]] = {"empty DAG file": [], "asf_ifg_aoi_ingest.py": []}
        for _ in range(runs):
            results["empty DAG file"].append(parse_once(empty, home))
            results["asf_ifg_aoi_ingest.py"].append(parse_once(EXAMPLE, home))
    print(f"DAG file parse time, DagBag in a fresh interpreter with Airflow imported, median of {runs}")
    print(f"{'file':<24}{'ms':>9}{'modules added':>15}  heavy modules")
    medians = {}
    for name, rows in results.items():
        medians[name] = statistics.median(r["seconds"] for r in rows) * 1000
        print(
            f"{name:<24}{medians[name]:>9.1f}{statistics.median(r['modules'] for r in rows):>15.0f}  "
            f"{rows[0]['heavy'] or 'none'}"
        )
    extra = medians["asf_ifg_aoi_ingest.py"] - medians["empty DAG file"]
    print(
        f"the example costs {extra:.1f} ms more than an empty DAG file "
        f"({medians['asf_ifg_aoi_ingest.py'] / medians['empty DAG file']:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
