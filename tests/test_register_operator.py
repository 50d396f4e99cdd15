"""VoilaRegisterAttendeeOperator against the fake server."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from airflow.sdk import DAG

from airflow_provider_voila.operators.attendees import VoilaRegisterAttendeeOperator

if TYPE_CHECKING:
    from airflow_provider_voila.testing import FakeVoilaServer


def make_operator(**overrides: object) -> VoilaRegisterAttendeeOperator:
    arguments: dict[str, object] = {
        "task_id": "register",
        "program_id": "prog-1",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "attendee_email": "ada@example.org",
        "personal_data_sharing_accepted": True,
        **overrides,
    }
    return VoilaRegisterAttendeeOperator(**arguments)  # type: ignore[arg-type]


def test_register_returns_created_attendee(voila_conn: FakeVoilaServer) -> None:
    created = make_operator(external_id="crm-1").execute(context={})  # type: ignore[arg-type]
    (stored,) = voila_conn.registrations
    assert created == stored
    assert created["externalId"] == "crm-1"
    assert created["accessLink"]


def test_rendered_none_external_id_left_out(voila_conn: FakeVoilaServer) -> None:
    make_operator(external_id="None").execute(context={})  # type: ignore[arg-type]
    (request,) = [r for r in voila_conn.requests if r.route == "register_attendee"]
    assert "externalId" not in json.loads(request.body)


def test_attendee_email_leaves_alert_email_alone() -> None:
    with DAG("alerts", schedule=None, default_args={"email": "oncall@example.com"}):
        operator = make_operator()
    assert operator.email == "oncall@example.com"
    assert operator.attendee_email == "ada@example.org"
