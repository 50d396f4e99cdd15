"""The example bulk registration DAG, run with ``dag.test()`` against the fake server."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

import pytest

from tests.test_example_dags import load_dag

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_voila.testing import FakeVoilaServer

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_register_attendees_dag(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    dag = load_dag("voila_register_attendees")
    report = tmp_path / "report.csv"
    run = dag.test(run_conf={"program_id": "prog-1", "report": str(report)})
    assert run.state == "success"
    assert len(voila_conn.registrations) == 8
    assert voila_conn.counts["token"] == 1
    by_id = {item["externalId"]: item for item in voila_conn.registrations}
    assert by_id["crm-0003"]["firstName"] == "Chloé; Marie"
    assert by_id["crm-0004"]["isPersonalDataSharingAccepted"] is False
    with report.open(encoding="utf-8", newline="") as file:
        lines = list(csv.DictReader(file))
    assert [line["status"] for line in lines] == ["registered"] * 8
    assert (tmp_path / "report.csv.ledger.jsonl").exists()
