"""An export killed with SIGKILL mid-write leaves no partial file, and the next run cleans up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from airflow_provider_voila.testing import EventData, FakeVoilaServer, SessionSizes
from tests.conftest import ROOT

if TYPE_CHECKING:
    from pathlib import Path

EXPORT = (
    "from airflow_provider_voila.operators.export import VoilaExportSessionOperator\n"
    "import sys\n"
    "VoilaExportSessionOperator(task_id='export', program_id='prog-1', session_id='big',\n"
    "    datasets=['chat_messages'], destination=sys.argv[1]).execute(context={})\n"
)


def test_killed_export_leaves_previous_file(tmp_path: Path) -> None:
    previous = b'{"id": "from an earlier run"}\n'
    target = tmp_path / "chat_messages.jsonl"
    target.write_bytes(previous)
    data = EventData(programs={"prog-1": ["big"]}, overrides={"big": SessionSizes(chat_messages=600_000)})
    with FakeVoilaServer(data=data) as server:
        server.body("chat_messages", "prog-1", "big")
        env = {**os.environ, "AIRFLOW_CONN_VOILA_DEFAULT": server.connection_json(), "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-c", EXPORT, tmp_path.as_uri()]
        export = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        temp_files: list[Path] = []
        while time.monotonic() < deadline and export.poll() is None:
            temp_files = [
                path for path in tmp_path.glob(".chat_messages.jsonl.voila-tmp-*") if path.stat().st_size
            ]
            if temp_files:
                break
            time.sleep(0.005)
        assert temp_files, "the export finished or failed before it could be killed mid-write"
        os.kill(export.pid, signal.SIGKILL)
        export.wait(timeout=30)

        assert target.read_bytes() == previous  # the final path never held a partial file
        assert list(tmp_path.glob(".chat_messages.jsonl.voila-tmp-*"))  # the leftover is still there

        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert "left by an interrupted write" in rerun.stdout + rerun.stderr
        expected = server.records("chat_messages", "prog-1", "big")
    assert not list(tmp_path.glob(".chat_messages.jsonl.voila-tmp-*"))
    with target.open(encoding="utf-8") as lines:
        written = [json.loads(line) for line in lines]
    assert written == expected
