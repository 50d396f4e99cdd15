"""The fake server's command line: the printed connection works, bad arguments fail cleanly."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

from airflow_provider_voila.hooks.voila import VoilaHook
from airflow_provider_voila.testing import FakeVoilaServer, faults

COMMAND = [sys.executable, "-m", "airflow_provider_voila.testing"]


def test_printed_connections_work(monkeypatch: pytest.MonkeyPatch) -> None:
    server = subprocess.Popen(
        [*COMMAND, "--max-seconds", "60", "--client-secret", "cli-secret-value"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        exports = []
        deadline = time.monotonic() + 30
        while len(exports) < 2 and time.monotonic() < deadline:
            line = server.stdout.readline()  # type: ignore[union-attr]
            if "export AIRFLOW_CONN_VOILA_DEFAULT=" in line:
                exports.append(shlex.split(line.split("=", 1)[1])[0])
        assert len(exports) == 2
        for value in exports:  # the JSON form, then the URI form
            monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", value)
            assert VoilaHook().ping() == {"organizationId": "org-demo"}
            assert VoilaHook().settings.client_secret == "cli-secret-value"
    finally:
        os.kill(server.pid, signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0
    assert "Stopping the fake Voilà server; requests served:" in output


def test_bad_port_fails_with_message() -> None:
    result = subprocess.run([*COMMAND, "--port", "80000"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--port: must be between 0 and 65535, got 80000" in result.stderr
    assert "Traceback" not in result.stderr


def test_busy_port_fails_with_message() -> None:
    with FakeVoilaServer() as busy:
        result = subprocess.run(
            [*COMMAND, "--port", str(busy.port)], capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{busy.port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_fault_route_rejected() -> None:
    with (
        FakeVoilaServer() as server,
        pytest.raises(ValueError, match=r"Unknown route names \['chat-messages'\]"),
    ):
        server.faults.script("chat-messages", faults.status(500))
