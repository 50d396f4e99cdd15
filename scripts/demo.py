"""Run the example post-live export DAG against the embedded fake Voilà server and show its files.

Steps: start the fake server on 127.0.0.1, create a throwaway AIRFLOW_HOME with a sqlite metadata
database, run ``airflow dags test voila_post_live_export``, then list each file written with its
record count. Exits non-zero if the DAG run fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from airflow_provider_voila.testing import FakeVoilaServer

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "demo-output"
RUN_DATE = "2026-12-03"


def airflow_env(home: Path, connection_json: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_CONN_VOILA_DEFAULT": connection_json,
        }
    )
    return env


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def main() -> int:
    airflow = str(Path(sys.executable).with_name("airflow"))
    shutil.rmtree(OUTPUT, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="voila-demo-airflow-") as home, FakeVoilaServer() as server:
        env = airflow_env(Path(home), server.connection_json())
        print(f"Fake Voilà server on {server.base_url}; AIRFLOW_HOME={home}", flush=True)
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        conf = json.dumps({"destination": OUTPUT.as_uri()})
        result = subprocess.run(
            [airflow, "dags", "test", "voila_post_live_export", RUN_DATE, "-c", conf], env=env
        )
        if result.returncode != 0:
            print(f"The DAG run failed with exit code {result.returncode}; see the log above.", file=sys.stderr)
            return result.returncode
        print(f"\nToken requests served: {server.counts['token']}; API requests: {sum(server.counts.values())}")

    files = sorted(path for path in OUTPUT.rglob("*") if path.is_file())
    if not files:
        print(f"The DAG run succeeded but wrote no files under {OUTPUT}.", file=sys.stderr)
        return 1
    print(f"\nFiles written under {OUTPUT}:")
    for path in files:
        print(f"  {path.relative_to(OUTPUT)}  {count_lines(path)} records, {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
