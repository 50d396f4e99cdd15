"""The installed package registers as an Airflow provider that the CLI lists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_voila import __version__

pytestmark = pytest.mark.usefixtures("airflow_db")


def airflow_cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    return subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, timeout=120)


def test_providers_list_shows_voila() -> None:
    result = airflow_cli("providers", "list", "--output", "json")
    assert result.returncode == 0, result.stderr
    providers = {item["package_name"]: item for item in json.loads(result.stdout)}
    assert providers["airflow-provider-voila"]["version"] == __version__


def test_connections_add_accepts_voila_type() -> None:
    extra = json.dumps({"organization_id": "org-cli"})
    added = airflow_cli(
        "connections",
        "add",
        "voila_cli_test",
        "--conn-type",
        "voila",
        "--conn-login",
        "client-cli",
        "--conn-password",
        "secret-cli-value",
        "--conn-host",
        "http://127.0.0.1:8080",
        "--conn-extra",
        extra,
    )
    assert added.returncode == 0, added.stderr
    shown = airflow_cli("connections", "get", "voila_cli_test", "--output", "json")
    assert shown.returncode == 0, shown.stderr
    (stored,) = json.loads(shown.stdout)
    assert stored["conn_type"] == "voila"
    assert stored["extra_dejson"] == {"organization_id": "org-cli"}
    assert stored["host"] == "http://127.0.0.1:8080"
    airflow_cli("connections", "delete", "voila_cli_test")
