"""VoilaHook over real loopback HTTP against the fake Voilà server."""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import pytest

from airflow_provider_voila.exceptions import VoilaApiError, VoilaAuthError, VoilaValidationError
from airflow_provider_voila.hooks.voila import VoilaHook
from airflow_provider_voila.testing import FakeVoilaServer, faults
from tests.conftest import set_voila_connection

if TYPE_CHECKING:
    from airflow_provider_voila.testing.server import RecordedRequest

ATTENDEE = {
    "firstName": "Zoë",
    "lastName": "Núñez",
    "email": "zoe@example.org",
    "isPersonalDataSharingAccepted": True,
    "externalId": "crm-7",
}


def requests_to(server: FakeVoilaServer, route: str) -> list[RecordedRequest]:
    return [request for request in server.requests if request.route == route]


def test_token_request_matches_reference(voila_conn: FakeVoilaServer) -> None:
    VoilaHook().ping()
    (token_request,) = requests_to(voila_conn, "token")
    expected = base64.b64encode(f"{voila_conn.client_id}:{voila_conn.client_secret}".encode()).decode()
    assert token_request.method == "POST"
    assert token_request.headers["Authorization"] == f"Basic {expected}"
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(token_request.body.decode())
    assert form == {"grant_type": ["client_credentials"], "scope": ["voila/partner_access"]}


def test_api_calls_send_bearer_token(voila_conn: FakeVoilaServer) -> None:
    VoilaHook().ping()
    (ping,) = requests_to(voila_conn, "ping")
    assert ping.path == f"/organizations/{voila_conn.organization_id}/ping"
    assert ping.headers["Authorization"].startswith("Bearer fake-token-")


def test_token_reused_across_calls(voila_conn: FakeVoilaServer) -> None:
    hook = VoilaHook()
    hook.ping()
    list(hook.get_chat_messages("prog-1", "sess-1"))
    list(hook.get_questions("prog-1", "sess-2"))
    hook.register_attendee("prog-1", ATTENDEE)
    assert voila_conn.counts["token"] == 1
    assert voila_conn.counts["ping"] == 1
    assert voila_conn.counts["chat_messages"] == 1


def test_token_refetched_once_on_401(voila_conn: FakeVoilaServer) -> None:
    hook = VoilaHook()
    hook.ping()
    voila_conn.expire_tokens()
    assert hook.ping() == {"organizationId": voila_conn.organization_id}
    assert voila_conn.counts["token"] == 2
    assert voila_conn.counts["ping"] == 3


def test_second_401_raises_auth_error(voila_conn: FakeVoilaServer) -> None:
    voila_conn.faults.script("ping", faults.status(401), faults.status(401))
    with pytest.raises(VoilaAuthError, match="HTTP 401"):
        VoilaHook().ping()
    assert voila_conn.counts["ping"] == 2
    assert voila_conn.counts["token"] == 2


def test_token_renewed_before_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeVoilaServer(token_lifetime=1.5) as server:
        set_voila_connection(monkeypatch, server)
        hook = VoilaHook()
        hook.ping()
        time.sleep(1.3)  # inside the safety margin (a fifth of 1.5 s) but before the expiry
        hook.ping()
        assert server.counts["token"] == 2
        assert server.counts["ping"] == 2  # renewed before sending, so no 401 round trip


def test_token_without_expires_in(voila_conn: FakeVoilaServer) -> None:
    voila_conn.faults.script("token", faults.no_expires_in())
    hook = VoilaHook()
    hook.ping()
    hook.ping()
    assert voila_conn.counts["token"] == 1


def test_one_session_for_all_calls(voila_conn: FakeVoilaServer) -> None:
    hook = VoilaHook()
    assert hook.get_conn() is hook.session
    hook.ping()
    list(hook.get_attendee_statistics("prog-1", "sess-1"))
    assert hook.get_conn() is hook.session


def test_lists_yield_server_records(voila_conn: FakeVoilaServer) -> None:
    hook = VoilaHook()
    methods = {
        "attendee_statistics": hook.get_attendee_statistics,
        "chat_messages": hook.get_chat_messages,
        "questions": hook.get_questions,
    }
    for dataset, method in methods.items():
        records = list(method("prog-1", "sess-2"))
        assert records == voila_conn.records(dataset, "prog-1", "sess-2")
        assert all(isinstance(record, dict) for record in records)


def test_register_attendee_sends_body(voila_conn: FakeVoilaServer) -> None:
    created = VoilaHook().register_attendee("prog-1", ATTENDEE)
    (request,) = requests_to(voila_conn, "register_attendee")
    assert request.path == f"/organizations/{voila_conn.organization_id}/programs/prog-1/attendees"
    assert json.loads(request.body) == ATTENDEE
    assert created["programId"] == "prog-1"
    assert created["email"] == ATTENDEE["email"]
    assert len(created["id"]) == 27
    assert created["accessLink"]


def test_register_attendee_validates_before_sending(voila_conn: FakeVoilaServer) -> None:
    with pytest.raises(VoilaValidationError, match="isPersonalDataSharingAccepted must be a boolean"):
        VoilaHook().register_attendee("prog-1", {**ATTENDEE, "isPersonalDataSharingAccepted": "true"})
    assert voila_conn.counts["token"] == 0
    assert voila_conn.counts["register_attendee"] == 0


def test_every_request_has_timeout(monkeypatch: pytest.MonkeyPatch, voila_conn: FakeVoilaServer) -> None:
    set_voila_connection(monkeypatch, voila_conn, timeout=0.5, max_attempts=1)
    voila_conn.faults.script("ping", faults.slow(3))
    with pytest.raises(VoilaApiError, match="timed out") as caught:
        VoilaHook().ping()
    assert caught.value.reason == "ReadTimeout"
    assert voila_conn.counts["ping"] == 1


def test_test_connection_success_names_organization(voila_conn: FakeVoilaServer) -> None:
    ok, message = VoilaHook().test_connection()
    assert ok
    assert voila_conn.organization_id in message


def test_test_connection_reports_bad_secret(
    monkeypatch: pytest.MonkeyPatch, voila_conn: FakeVoilaServer
) -> None:
    conn = json.loads(voila_conn.connection_json())
    conn["password"] = "wrong-secret-value"
    monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", json.dumps(conn))
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert "rejected" in message
    assert "wrong-secret-value" not in message
