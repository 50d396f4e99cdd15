"""``VoilaHook.test_connection()``: one message per failure case, over real loopback HTTP."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_voila.hooks.voila import TEST_MAX_ATTEMPTS, VoilaHook
from airflow_provider_voila.testing import FakeVoilaServer, faults

if TYPE_CHECKING:
    from collections.abc import Iterator


def set_connection(monkeypatch: pytest.MonkeyPatch, server: FakeVoilaServer, **changes: Any) -> None:
    """Point ``voila_default`` at ``server`` with top-level fields and extra keys replaced.

    A change to ``extra`` is merged into the server's extra; a value of ``None`` removes the key.
    """
    conn = json.loads(server.connection_json())
    extra_changes = changes.pop("extra", {})
    conn.update(changes)
    extra = {**conn["extra"], **extra_changes}
    conn["extra"] = {key: value for key, value in extra.items() if value is not None}
    monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", json.dumps(conn))


@pytest.fixture
def closed_port() -> int:
    """A loopback port that nothing listens on: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Yield the http URL of a loopback socket that accepts connections but never responds."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)  # the kernel completes the TCP handshake, and nothing ever reads or writes
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_success_names_organization(monkeypatch: pytest.MonkeyPatch, fake_voila: FakeVoilaServer) -> None:
    set_connection(monkeypatch, fake_voila)
    ok, message = VoilaHook().test_connection()
    assert ok
    assert f"organization {fake_voila.organization_id!r}" in message
    assert fake_voila.base_url in message
    assert fake_voila.counts["token"] == 1
    assert fake_voila.counts["ping"] == 1


def test_wrong_client_id(monkeypatch: pytest.MonkeyPatch, fake_voila: FakeVoilaServer) -> None:
    set_connection(monkeypatch, fake_voila, login="not-the-client-id")
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert "HTTP 400 (invalid_client)" in message
    assert "client id 'not-the-client-id' or its secret was rejected" in message
    assert "Backstage" in message
    assert fake_voila.counts["ping"] == 0


def test_wrong_secret_is_not_shown(monkeypatch: pytest.MonkeyPatch, fake_voila: FakeVoilaServer) -> None:
    set_connection(monkeypatch, fake_voila, password="wrong-secret-value")
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert "invalid_client" in message
    assert f"client id {fake_voila.client_id!r} or its secret was rejected" in message
    assert "wrong-secret-value" not in message
    assert fake_voila.client_secret not in message


def test_token_endpoint_401(monkeypatch: pytest.MonkeyPatch, fake_voila: FakeVoilaServer) -> None:
    # Cognito returns 400 invalid_client, and other OAuth2 servers return 401: the message is the same.
    set_connection(monkeypatch, fake_voila)
    fake_voila.faults.script("token", faults.status(401, body=b'{"error": "invalid_client"}'))
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert "HTTP 401 (invalid_client)" in message
    assert "or its secret was rejected" in message


def test_wrong_scope(monkeypatch: pytest.MonkeyPatch, fake_voila: FakeVoilaServer) -> None:
    set_connection(monkeypatch, fake_voila, extra={"scope": "voila/admin"})
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert "invalid_scope" in message
    assert "the scope 'voila/admin' is not allowed" in message
    assert "voila/partner_access" in message
    assert fake_voila.counts["ping"] == 0


def test_unknown_organization(monkeypatch: pytest.MonkeyPatch, fake_voila: FakeVoilaServer) -> None:
    set_connection(monkeypatch, fake_voila, extra={"organization_id": "org-unknown"})
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert "HTTP 403" in message
    assert "organization_id 'org-unknown' is the organization of this client id" in message
    assert fake_voila.counts["ping"] == 1


def test_base_url_without_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeVoilaServer(base_path="/v1") as server:
        set_connection(monkeypatch, server, host=server.root_url)
        ok, message = VoilaHook().test_connection()
        assert not ok
        assert "HTTP 404" in message
        assert f"set the host to the base URL ending in /v1 ({server.root_url}/v1)" in message

        # The URL the message suggests is the one that works.
        set_connection(monkeypatch, server, host=f"{server.root_url}/v1")
        ok, message = VoilaHook().test_connection()
        assert ok, message


def test_base_url_with_extra_v1(monkeypatch: pytest.MonkeyPatch, fake_voila: FakeVoilaServer) -> None:
    set_connection(monkeypatch, fake_voila, host=f"{fake_voila.base_url}/v1")
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert "HTTP 404" in message
    assert "or without /v1 if this API version does not use it" in message


def test_api_host_unreachable(
    monkeypatch: pytest.MonkeyPatch, fake_voila: FakeVoilaServer, closed_port: int
) -> None:
    host = f"http://127.0.0.1:{closed_port}"
    set_connection(monkeypatch, fake_voila, host=host, extra={"max_attempts": 10, "retry_budget": 600})
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert "could not connect" in message
    assert f"The API base URL is {host}." in message
    assert f"Gave up after {TEST_MAX_ATTEMPTS} attempts" in message
    assert f"at most {TEST_MAX_ATTEMPTS} attempts within" in message
    assert "tasks retry for as long as max_attempts and retry_budget" in message


def test_token_host_unreachable(
    monkeypatch: pytest.MonkeyPatch, fake_voila: FakeVoilaServer, closed_port: int
) -> None:
    token_url = f"http://127.0.0.1:{closed_port}/oauth2/token"
    set_connection(monkeypatch, fake_voila, extra={"token_url": token_url})
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert f"The token endpoint {token_url} could not connect" in message
    assert f"Gave up after {TEST_MAX_ATTEMPTS} attempts" in message
    assert fake_voila.counts["ping"] == 0


def test_api_host_times_out(
    monkeypatch: pytest.MonkeyPatch, fake_voila: FakeVoilaServer, silent_server: str
) -> None:
    set_connection(monkeypatch, fake_voila, host=silent_server, extra={"timeout": 0.5})
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert "timed out (ReadTimeout)" in message
    assert "raise timeout (seconds) in the connection extra" in message
    assert f"The API base URL is {silent_server}." in message
    assert fake_voila.counts["token"] == 1


def test_organization_id_missing(monkeypatch: pytest.MonkeyPatch, fake_voila: FakeVoilaServer) -> None:
    set_connection(monkeypatch, fake_voila, extra={"organization_id": None})
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert "organization_id (extra) is missing or empty" in message
    assert "Backstage" in message
    assert fake_voila.counts["token"] == 0


def test_connection_not_defined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_VOILA_MISSING", raising=False)
    ok, message = VoilaHook("voila_missing").test_connection()
    assert not ok
    assert "voila_missing" in message
    assert "isn't defined" in message
