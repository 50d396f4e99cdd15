"""Token requests per task: a mapped export of 20 sessions, and one task exporting three datasets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from airflow_provider_voila.testing import EventData, FakeVoilaServer, SessionSizes
from benchmarks._common import airflow_env, table, temp_dir

SESSIONS = 20


def airflow(env: dict[str, str], *args: str) -> None:
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(
            f"airflow {' '.join(args[:3])} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )


def run(quick: bool = False) -> str:
    sessions = [f"sess-{index:02d}" for index in range(1, SESSIONS + 1)]
    data = EventData(programs={"prog-1": sessions}, sizes=SessionSizes(10, 10, 10))
    home = temp_dir("voila-bench-tokens-")
    with FakeVoilaServer(data=data) as server:
        env = airflow_env(home, AIRFLOW_CONN_VOILA_DEFAULT=server.connection_json())
        airflow(env, "db", "migrate")
        conf = {"session_ids": sessions, "destination": (home / "out").as_uri()}
        airflow(env, "dags", "test", "voila_post_live_export", "2026-12-03", "-c", json.dumps(conf))
        mapped_tokens = server.counts["token"]
        mapped_lists = sum(
            server.counts[name] for name in ("attendee_statistics", "chat_messages", "questions")
        )

        server.counts.clear()
        single = (
            "from airflow_provider_voila.operators.export import VoilaExportSessionOperator\n"
            "VoilaExportSessionOperator(task_id='one', program_id='prog-1', session_id='sess-01')"
            ".execute(context={})\n"
        )
        subprocess.run([sys.executable, "-c", single], env=env, capture_output=True, timeout=300, check=True)
        single_tokens = server.counts["token"]
    print(f"tokens: mapped {mapped_tokens} for {SESSIONS} tasks, single task {single_tokens}", flush=True)
    rows = [
        [
            f"mapped export, {SESSIONS} sessions x 3 datasets",
            str(SESSIONS),
            str(mapped_lists),
            str(mapped_tokens),
        ],
        ["one task, 3 datasets of one session", "1", "3", str(single_tokens)],
    ]
    met = mapped_tokens == SESSIONS and single_tokens == 1
    return "\n\n".join(
        [
            "## Token requests",
            "Counted on the fake server. The mapped export is the example DAG run with `airflow dags test`.",
            table(["run", "tasks", "list requests", "token requests"], rows),
            f"- One token request per task: {'met' if met else 'missed'}.",
        ]
    )


if __name__ == "__main__":
    print(run())
