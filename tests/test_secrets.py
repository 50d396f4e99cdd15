"""Secrets never reach task logs (DEBUG included), XCom, rendered templates or error text."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from airflow_provider_voila.testing import FakeVoilaServer, faults
from tests.conftest import ROOT

CLIENT_ID = "voila-client-for-secret-test"
CLIENT_SECRET = "Sup3r-Distinctive-Client-Secret-C0FFEE"


def airflow(home: Path, server: FakeVoilaServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
            [
                {
                    "name": "voila_examples",
                    "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                    "kwargs": {"path": str(ROOT / "example_dags")},
                }
            ]
        ),
        "AIRFLOW_CONN_VOILA_DEFAULT": server.connection_json(),
    }
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def without_test_supervisor_echo(output: str) -> str:
    """Drop the DEBUG lines in which Airflow's in-process test supervisor echoes ``MaskSecret`` requests.

    NOTE: in Airflow 3.3.2, ``InProcessSupervisorComms.send`` (used only by ``dag.test()`` and
    ``airflow dags test``) logs every request at DEBUG, including the value of each secret being
    registered for masking. The subprocess supervisor that runs real tasks logs "body omitted" for
    ``MaskSecret``. Only lines of exactly that form are dropped; any other line must be clean.
    """
    kept = [
        line
        for line in output.splitlines()
        if not ("Sending request" in line and "msg=MaskSecret(value=" in line)
    ]
    return "\n".join(kept)


def database_text(path: Path) -> str:
    """Return every row of every table of the sqlite metadata DB as text."""
    rows = []
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            rows.extend(repr(row) for row in db.execute(f'select * from "{table}"'))
    return "\n".join(rows)


def test_no_secret_in_logs_xcom_or_errors(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    home.mkdir()
    with FakeVoilaServer(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as server:
        assert airflow(home, server, "db", "migrate").returncode == 0
        export = airflow(
            home,
            server,
            "dags",
            "test",
            "voila_post_live_export",
            "2026-12-03",
            "-c",
            json.dumps({"destination": (tmp_path / "out").as_uri(), "session_ids": ["sess-1"]}),
        )
        register = airflow(home, server, "dags", "test", "voila_register_attendee")
        # A failing registration puts an exception with its message in the task log.
        server.faults.script("register_attendee", faults.status(500))
        failing = airflow(
            home,
            server,
            "dags",
            "test",
            "voila_register_attendee",
            "-c",
            json.dumps({"email": "b@example.org"}),
        )
        tokens = server.issued_tokens()

    assert export.returncode == 0, export.stdout[-3000:] + export.stderr[-3000:]
    assert register.returncode == 0, register.stdout[-3000:] + register.stderr[-3000:]
    assert "may or may not be registered" in failing.stdout + failing.stderr
    assert len(tokens) >= 3

    log_files = [path for path in (home / "logs").rglob("*") if path.is_file()]
    haystacks = {
        "export output": without_test_supervisor_echo(export.stdout + export.stderr),
        "register output": without_test_supervisor_echo(register.stdout + register.stderr),
        "failing output": without_test_supervisor_echo(failing.stdout + failing.stderr),
        "metadata DB (XCom, rendered fields, task instances)": database_text(home / "airflow.db"),
        **{
            f"log file {path}": without_test_supervisor_echo(path.read_text(errors="replace"))
            for path in log_files
        },
    }
    assert "[debug" in haystacks["export output"]  # DEBUG logging was really on
    assert "Fetched an access token" in haystacks["export output"]
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    secrets = {
        "client secret": CLIENT_SECRET,
        "basic header": basic,
        **{f"token {i}": t for i, t in enumerate(tokens)},
    }
    for where, text in haystacks.items():
        for name, secret in secrets.items():
            assert secret not in text, f"{name} found in {where}"
