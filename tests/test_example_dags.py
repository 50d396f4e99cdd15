"""The example DAGs, run with ``dag.test()`` on a sqlite metadata DB against the fake server."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from airflow.sdk import ObjectStoragePath

from tests.conftest import load_dag

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_voila.testing import FakeVoilaServer

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_post_live_export_writes_every_record(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    dag = load_dag("voila_post_live_export")
    destination = tmp_path.as_uri()
    run = dag.test(
        logical_date=__import__("pendulum").datetime(2026, 12, 3, tz="UTC"),
        run_conf={"destination": destination, "session_ids": ["sess-1", "sess-2"]},
    )
    assert run.state == "success"
    for session_id in ("sess-1", "sess-2"):
        folder = tmp_path / "2026-12-03" / "prog-1" / session_id
        for dataset in ("attendee_statistics", "chat_messages", "questions"):
            lines = (folder / f"{dataset}.jsonl").read_text(encoding="utf-8").splitlines()
            written = [json.loads(line) for line in lines]
            assert written == voila_conn.records(dataset, "prog-1", session_id)
    assert voila_conn.counts["token"] == 2  # one per mapped export task, none for the others
    assert not list(ObjectStoragePath(destination).rglob(".*voila-tmp*"))


def test_register_attendee_dag(voila_conn: FakeVoilaServer) -> None:
    dag = load_dag("voila_register_attendee")
    run = dag.test(
        run_conf={
            "program_id": "prog-1",
            "first_name": "Zoë",
            "last_name": "Núñez",
            "email": "zoe@example.org",
            "personal_data_sharing_accepted": True,
            "external_id": "crm-42",
        }
    )
    assert run.state == "success"
    assert len(voila_conn.registrations) == 1
    created = voila_conn.registrations[0]
    assert created["firstName"] == "Zoë"
    assert created["externalId"] == "crm-42"
    assert created["isPersonalDataSharingAccepted"] is True
