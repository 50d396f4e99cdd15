"""Retries, token expiry and error messages under faults injected by the fake Voilà server."""

from __future__ import annotations

import email.utils
import json
import logging
import socket
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_voila.exceptions import VoilaApiError, VoilaAuthError, VoilaOutcomeUnknownError
from airflow_provider_voila.hooks._retry import parse_retry_after
from airflow_provider_voila.hooks.voila import VoilaHook
from airflow_provider_voila.testing import FakeVoilaServer, faults
from tests.conftest import set_voila_connection

if TYPE_CHECKING:
    from collections.abc import Iterator

ATTENDEE = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@example.org",
    "isPersonalDataSharingAccepted": True,
    "externalId": "crm-1815",
}
# Short waits so that retries take milliseconds; the timing rules themselves are the same.
FAST_RETRIES = {"retry_base_delay": 0.01, "max_retry_wait": 2, "timeout": 1}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVoilaServer]:
    with FakeVoilaServer() as fake:
        set_voila_connection(monkeypatch, fake, **FAST_RETRIES)
        yield fake


def retry_waits(caplog: pytest.LogCaptureFixture) -> list[float]:
    return [
        float(record.getMessage().split("retrying in ")[1].split(" s")[0])
        for record in caplog.records
        if "retrying in" in record.getMessage() and record.levelno == logging.WARNING
    ]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_reads_retried_on_transient_status(server: FakeVoilaServer, status: int) -> None:
    server.faults.script("chat_messages", faults.status(status), faults.status(status))
    records = list(VoilaHook().get_chat_messages("prog-1", "sess-1"))
    assert records == server.records("chat_messages", "prog-1", "sess-1")
    assert server.counts["chat_messages"] == 3


def test_retry_logged_with_route_status_and_wait(
    server: FakeVoilaServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.faults.script("ping", faults.status(503))
    with caplog.at_level(logging.WARNING):
        VoilaHook().ping()
    (message,) = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert message.startswith("ping failed (HTTP 503), retrying in ")
    assert "attempt 2 of 5" in message


def test_retry_after_seconds_honoured(server: FakeVoilaServer, caplog: pytest.LogCaptureFixture) -> None:
    server.faults.script("ping", faults.status(429, retry_after="1"))
    with caplog.at_level(logging.WARNING):
        VoilaHook().ping()
    assert retry_waits(caplog) == [1.0]


def test_retry_after_http_date_honoured(server: FakeVoilaServer, caplog: pytest.LogCaptureFixture) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    server.faults.script("ping", faults.status(429, retry_after=when))
    with caplog.at_level(logging.WARNING):
        VoilaHook().ping()
    (wait,) = retry_waits(caplog)
    # The date has one-second resolution and the clock moves on, so only a range is certain; the
    # backoff without the header would be about 0.01 s.
    assert 0.1 < wait <= 2.0


def test_retry_after_parsing() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5", now=now) is None
    assert parse_retry_after(None, now=now) is None


def test_retry_after_capped(server: FakeVoilaServer, caplog: pytest.LogCaptureFixture) -> None:
    server.faults.script("ping", faults.status(503, retry_after="3600"))
    with caplog.at_level(logging.WARNING):
        VoilaHook().ping()
    assert retry_waits(caplog) == [2.0]  # max_retry_wait


def test_backoff_grows_without_retry_after(
    monkeypatch: pytest.MonkeyPatch, server: FakeVoilaServer, caplog: pytest.LogCaptureFixture
) -> None:
    set_voila_connection(monkeypatch, server, retry_base_delay=0.1)
    server.faults.script("ping", *[faults.status(429)] * 4)
    with caplog.at_level(logging.WARNING):
        VoilaHook().ping()
    waits = retry_waits(caplog)
    assert len(waits) == 4
    for attempt, wait in enumerate(waits, start=1):
        ceiling = 0.1 * 2 ** (attempt - 1)
        assert ceiling / 2 - 0.005 <= wait <= ceiling + 0.005  # half fixed, half random


def test_gives_up_after_max_attempts(server: FakeVoilaServer) -> None:
    server.faults.script("ping", *[faults.status(502)] * 10)
    with pytest.raises(VoilaApiError, match="Gave up after 5 attempts") as caught:
        VoilaHook().ping()
    assert caught.value.status == 502
    assert server.counts["ping"] == 5


def test_max_attempts_overridable_per_hook(server: FakeVoilaServer) -> None:
    server.faults.script("ping", *[faults.status(502)] * 10)
    with pytest.raises(VoilaApiError, match="Gave up after 2 attempts"):
        VoilaHook(max_attempts=2).ping()
    assert server.counts["ping"] == 2


def test_retry_budget_stops_retries(server: FakeVoilaServer) -> None:
    server.faults.script("ping", *[faults.status(503, retry_after="1")] * 10)
    with pytest.raises(VoilaApiError, match="Gave up after 2 attempts"):
        VoilaHook(retry_budget=1.5).ping()
    assert server.counts["ping"] == 2


@pytest.mark.parametrize(
    ("status", "route_args", "expected"),
    [
        (400, ("ping",), "HTTP 400"),
        (403, ("ping",), "check that organization_id 'org-demo' is the organization"),
        (404, ("ping",), "set the host to the base URL ending in /v1"),
        (404, ("chat_messages",), "Check the program and session ids"),
        (409, ("register_attendee",), "conflicts with one already registered"),
        (422, ("register_attendee",), "rejected the request body"),
    ],
)
def test_client_errors_not_retried(
    server: FakeVoilaServer, status: int, route_args: tuple[str], expected: str
) -> None:
    (route,) = route_args
    server.faults.script(route, faults.status(status, body=b'{"message": "server says no"}'))
    hook = VoilaHook()
    calls = {
        "ping": hook.ping,
        "chat_messages": lambda: list(hook.get_chat_messages("prog-1", "sess-1")),
        "register_attendee": lambda: hook.register_attendee("prog-1", ATTENDEE),
    }
    with pytest.raises(VoilaApiError) as caught:
        calls[route]()
    message = str(caught.value)
    assert f"HTTP {status}" in message
    assert "server says no" in message
    assert expected in message
    assert f"Voilà {route} (organization 'org-demo'" in message
    assert server.counts[route] == 1
    if status == 403:
        assert isinstance(caught.value, VoilaAuthError)


def test_dataset_error_names_ids(server: FakeVoilaServer) -> None:
    with pytest.raises(VoilaApiError) as caught:
        list(VoilaHook().get_questions("prog-1", "no-such-session"))
    assert "program_id 'prog-1'" in str(caught.value)
    assert "session_id 'no-such-session'" in str(caught.value)
    assert caught.value.status == 404


def test_dropped_connection_before_answer_retried(server: FakeVoilaServer) -> None:
    server.faults.script("questions", faults.drop_before())
    assert list(VoilaHook().get_questions("prog-1", "sess-1")) == server.records(
        "questions", "prog-1", "sess-1"
    )
    assert server.counts["questions"] == 2


def test_broken_stream_restarts_download(server: FakeVoilaServer) -> None:
    server.faults.script("chat_messages", faults.drop_mid_body(), faults.drop_mid_body())
    records = VoilaHook().consume_dataset("chat_messages", "prog-1", "sess-1", list)
    assert records == server.records("chat_messages", "prog-1", "sess-1")
    assert server.counts["chat_messages"] == 3


def test_slow_answer_times_out_and_retries(server: FakeVoilaServer) -> None:
    server.faults.script("ping", faults.slow(2.5))
    assert VoilaHook().ping() == {"organizationId": "org-demo"}
    assert server.counts["ping"] == 2


@pytest.mark.parametrize(
    ("content", "quoted"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "'<html><body>502 Bad Gateway"),
        (b"", "an empty body"),
    ],
)
def test_unexpected_body_quoted(
    monkeypatch: pytest.MonkeyPatch, server: FakeVoilaServer, content: bytes, quoted: str
) -> None:
    set_voila_connection(monkeypatch, server, max_attempts=1)
    server.faults.script("questions", faults.body(content))
    with pytest.raises(VoilaApiError, match="not a JSON array") as caught:
        list(VoilaHook().get_questions("prog-1", "sess-1"))
    assert quoted in str(caught.value)
    assert "JSONDecodeError" not in str(caught.value)


def test_truncated_json_retried_then_reported(server: FakeVoilaServer) -> None:
    server.faults.script("questions", *[faults.body(b'[{"id": "a"}, {"id": "b", "te')] * 5)
    with pytest.raises(VoilaApiError, match="ended early, after 1 records"):
        VoilaHook().consume_dataset("questions", "prog-1", "sess-1", list)
    assert server.counts["questions"] == 5


def test_non_json_ping_quoted(monkeypatch: pytest.MonkeyPatch, server: FakeVoilaServer) -> None:
    set_voila_connection(monkeypatch, server, max_attempts=1)
    server.faults.script("ping", faults.body(b"<!doctype html>maintenance"))
    with pytest.raises(VoilaApiError, match="not a JSON object: '<!doctype html>maintenance'"):
        VoilaHook().ping()


def test_token_endpoint_retried(server: FakeVoilaServer, caplog: pytest.LogCaptureFixture) -> None:
    server.faults.script("token", faults.status(503), faults.drop_before())
    with caplog.at_level(logging.WARNING):
        VoilaHook().ping()
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert retries[0].startswith("token failed (HTTP 503), retrying in ")
    assert retries[1].startswith("token failed (ConnectionError), retrying in ")
    assert server.counts["token"] == 3
    assert server.counts["ping"] == 1


def test_token_refreshed_inside_retry_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeVoilaServer(token_lifetime=1.0) as fake:
        set_voila_connection(monkeypatch, fake, retry_base_delay=0.5, max_retry_wait=0.6)
        fake.faults.script("chat_messages", faults.status(503), faults.status(503), faults.status(503))
        hook = VoilaHook()
        assert list(hook.get_chat_messages("prog-1", "sess-1"))
        unauthorized = [r for r in fake.requests if r.route == "chat_messages" and r.fault is None]
        assert len(unauthorized) == 1  # the last attempt succeeded without a 401 round trip
        assert fake.counts["token"] >= 2


def test_token_refreshed_during_long_export(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    with FakeVoilaServer(token_lifetime=1.0, latency=0.3) as fake:
        set_voila_connection(monkeypatch, fake, **FAST_RETRIES)
        hook = VoilaHook()
        for session_id in ("sess-1", "sess-2", "sess-3"):
            for dataset in ("attendee_statistics", "chat_messages", "questions"):
                assert hook.consume_dataset(dataset, "prog-1", session_id, list)
        assert fake.counts["token"] >= 2


# Registration: a POST is resent only when the server cannot have processed it.


@pytest.mark.parametrize("fault", [faults.status(429), faults.status(503, retry_after="0")])
def test_post_resent_when_not_processed(server: FakeVoilaServer, fault: faults.Fault) -> None:
    server.faults.script("register_attendee", fault)
    created = VoilaHook().register_attendee("prog-1", ATTENDEE)
    assert created["externalId"] == "crm-1815"
    assert server.counts["register_attendee"] == 2
    assert server.registration_counts()["ada@example.org"] == 1


@pytest.mark.parametrize(
    ("fault", "stored"),
    [
        (faults.status(500), False),
        (faults.status(502), False),
        (faults.status(503), False),  # no Retry-After: the server may have processed it
        (faults.slow(2.5), True),  # response after the 1 s client timeout
        (faults.drop_before(process=True), True),
        (faults.drop_mid_body(), True),
    ],
)
def test_post_outcome_unknown_not_resent(server: FakeVoilaServer, fault: faults.Fault, stored: bool) -> None:
    server.faults.script("register_attendee", fault)
    with pytest.raises(VoilaOutcomeUnknownError) as caught:
        VoilaHook().register_attendee("prog-1", ATTENDEE)
    message = str(caught.value)
    assert "may or may not be registered" in message
    assert "externalId 'crm-1815'" in message
    assert "ada@example.org" not in message
    time.sleep(2.6 if fault.kind == "slow" else 0)  # let a slow server finish storing
    assert server.counts["register_attendee"] == 1
    assert server.registration_counts()["ada@example.org"] == int(stored)


def test_post_retried_on_connection_refused(monkeypatch: pytest.MonkeyPatch, server: FakeVoilaServer) -> None:
    hook = VoilaHook()
    hook.ping()  # token fetched while the server is up
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    conn = json.loads(server.connection_json(**FAST_RETRIES, max_attempts=3))
    conn["host"] = f"http://127.0.0.1:{closed_port}"
    monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", json.dumps(conn))
    refused = VoilaHook()
    with pytest.raises(VoilaApiError, match="could not connect") as caught:
        refused.register_attendee("prog-1", ATTENDEE)
    assert not isinstance(caught.value, VoilaOutcomeUnknownError)
    assert "Gave up after 3 attempts" in str(caught.value)


def test_rate_limit_callback_gets_capped_wait(server: FakeVoilaServer) -> None:
    waits: list[float] = []
    server.faults.script("ping", faults.status(429, retry_after="86400"))
    VoilaHook(on_rate_limited=waits.append).ping()
    assert waits == [2.0]  # max_retry_wait, not a day


@pytest.mark.parametrize(
    "body", [b"[" * 100_000 + b"]" * 100_000, b'[{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]"]
)
def test_deeply_nested_body_is_api_error(
    monkeypatch: pytest.MonkeyPatch, server: FakeVoilaServer, body: bytes
) -> None:
    set_voila_connection(monkeypatch, server, max_attempts=1)
    server.faults.script("questions", faults.body(body))
    with pytest.raises(VoilaApiError):
        list(VoilaHook().get_questions("prog-1", "sess-1"))


def test_token_body_never_quoted(monkeypatch: pytest.MonkeyPatch, server: FakeVoilaServer) -> None:
    set_voila_connection(monkeypatch, server, max_attempts=1)
    server.faults.script("token", faults.status(500, body=b'{"access_token": "tok-should-not-leak"}'))
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert "tok-should-not-leak" not in message
