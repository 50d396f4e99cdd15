"""Shared fixtures: a throwaway Airflow home with a sqlite metadata DB, and the fake Voilà server."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

# Airflow reads its configuration when first imported, so the environment is set before that.
ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="voila-tests-airflow-"))
os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "example_dags")
# dag.test() runs only DAGs that a bundle holds: the example DAGs and the test DAGs in tests/dags.
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {
            "name": name,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(path)},
        }
        for name, path in (
            ("voila_examples", ROOT / "example_dags"),
            ("voila_test_dags", ROOT / "tests" / "dags"),
        )
    ]
)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.pop("AIRFLOW_CONN_VOILA_DEFAULT", None)
sys.path.insert(0, str(ROOT / "example_dags"))

from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from airflow_provider_voila.testing import FakeVoilaServer  # noqa: E402


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate the sqlite metadata DB once per test session; return the Airflow home."""
    from airflow.utils import db

    db.resetdb()
    return AIRFLOW_HOME


@pytest.fixture
def fake_voila() -> Iterator[FakeVoilaServer]:
    """A fresh fake Voilà server on an ephemeral loopback port."""
    with FakeVoilaServer() as server:
        yield server


@pytest.fixture
def voila_conn(fake_voila: FakeVoilaServer, monkeypatch: pytest.MonkeyPatch) -> FakeVoilaServer:
    """Point the ``voila_default`` connection at the fake server through its environment variable."""
    monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", fake_voila.connection_json())
    return fake_voila


def set_voila_connection(monkeypatch: pytest.MonkeyPatch, server: FakeVoilaServer, **extra: object) -> None:
    """Point ``voila_default`` at ``server``, with extra keys added or replaced."""
    monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", server.connection_json(**extra))


def load_dag(dag_id: str) -> Any:
    """Parse the example DAGs and the test DAGs and return the DAG ``dag_id``."""
    from airflow.dag_processing.dagbag import DagBag

    for folder in (ROOT / "example_dags", ROOT / "tests" / "dags"):
        bag = DagBag(dag_folder=str(folder))
        assert not bag.import_errors, bag.import_errors
        if dag_id in bag.dag_ids:
            return bag.get_dag(dag_id)
    raise LookupError(f"No DAG {dag_id!r} in example_dags or tests/dags")
