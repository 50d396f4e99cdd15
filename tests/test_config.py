"""Connection settings: defaults, base URL forms, and the env-var JSON and URI forms."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import pytest
from airflow.models.connection import Connection

from airflow_provider_voila import routes
from airflow_provider_voila.hooks._config import build_base_url, settings_from_connection
from airflow_provider_voila.hooks.voila import VoilaHook
from airflow_provider_voila.testing import FakeVoilaServer


@pytest.mark.parametrize(
    ("host", "port", "schema", "expected"),
    [
        (None, None, None, routes.DEFAULT_BASE_URL),
        ("", None, None, routes.DEFAULT_BASE_URL),
        ("public-api.voila.live", None, None, "https://public-api.voila.live"),
        ("https://public-api.voila.live/v1/", None, None, "https://public-api.voila.live/v1"),
        ("http://127.0.0.1:8080", None, None, "http://127.0.0.1:8080"),
        ("http://127.0.0.1", 8080, None, "http://127.0.0.1:8080"),
        ("http://127.0.0.1:9000", 8080, None, "http://127.0.0.1:9000"),
        ("https://api.example.org", None, "v1", "https://api.example.org/v1"),
    ],
)
def test_base_url_forms(host: str | None, port: int | None, schema: str | None, expected: str) -> None:
    assert build_base_url("voila_default", host, port, schema) == expected


def test_defaults_from_minimal_connection() -> None:
    conn = Connection(
        conn_id="voila_default",
        conn_type="voila",
        login="client",
        password="secret-value",
        extra=json.dumps({"organization_id": "org-1"}),
    )
    settings = settings_from_connection(conn)
    assert settings.base_url == routes.DEFAULT_BASE_URL
    assert settings.token_url == routes.DEFAULT_TOKEN_URL
    assert settings.scope == routes.DEFAULT_SCOPE
    assert settings.timeout == routes.DEFAULT_TIMEOUT
    assert settings.max_attempts == routes.DEFAULT_MAX_ATTEMPTS
    assert "secret-value" not in repr(settings)


def test_json_and_uri_forms_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeVoilaServer() as server:
        monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", server.connection_json())
        from_json = VoilaHook().settings
        uri = (
            f"voila://http://{server.client_id}:{server.client_secret}@127.0.0.1:{server.port}"
            f"?organization_id={server.organization_id}&token_url={quote(server.token_url, safe='')}"
        )
        monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", uri)
        from_uri = VoilaHook().settings
        assert from_uri == from_json
        assert VoilaHook().ping() == {"organizationId": server.organization_id}


def test_unknown_extra_key_warns(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    with FakeVoilaServer() as server:
        monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", server.connection_json(organisation_id="typo"))
        with caplog.at_level(logging.WARNING):
            VoilaHook().ping()
    assert "extra key 'organisation_id' is not a Voilà setting and is ignored" in caplog.text
    assert "Did you mean 'organization_id'?" in caplog.text
