"""The ``voila`` connection type as Airflow's ProvidersManager and UI API see it, and its env forms."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING
from urllib.parse import quote

from airflow.sdk import BaseHook, Connection

from airflow_provider_voila import routes
from airflow_provider_voila.hooks._config import VoilaSettings, settings_from_connection
from airflow_provider_voila.hooks.voila import VoilaHook
from airflow_provider_voila.testing import FakeVoilaServer

if TYPE_CHECKING:
    import pytest

EXTRA_FIELDS = ("organization_id", "token_url", "scope", "timeout", "max_attempts", "retry_budget")


def test_providers_manager_registers_voila() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManager()
    assert "airflow-provider-voila" in manager.providers
    hook = ProvidersManagerTaskRuntime().hooks["voila"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_voila.hooks.voila.VoilaHook"
    assert hook.hook_name == "Voilà"
    assert hook.connection_testable

    widgets = {key for key in manager.connection_form_widgets if key.startswith("extra__voila__")}
    assert widgets == {f"extra__voila__{name}" for name in EXTRA_FIELDS}

    behaviour = manager.field_behaviours["voila"]
    assert behaviour["hidden_fields"] == ["schema"]
    assert "port" not in behaviour["hidden_fields"]
    assert behaviour["relabeling"]["login"] == "Client ID"
    assert behaviour["relabeling"]["password"] == "Client Secret"
    assert behaviour["placeholders"]["host"] == routes.DEFAULT_BASE_URL


def test_ui_hook_meta_describes_form() -> None:
    """The data behind ``GET /ui/connections/hook_meta``, which the connection form is built from."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [item for item in HookMetaService.hook_meta_data() if item.connection_type == "voila"]
    standard = meta.standard_fields
    assert standard is not None
    assert standard.url_schema is not None and standard.url_schema.hidden
    assert standard.port is None or not standard.port.hidden
    assert standard.host is not None and standard.host.title == "API base URL"
    assert standard.login is not None and standard.login.title == "Client ID"
    assert standard.password is not None and standard.password.title == "Client Secret"

    extra = meta.extra_fields
    assert extra is not None
    assert set(extra) == set(EXTRA_FIELDS)
    assert extra["organization_id"]["schema"]["title"] == "Organization ID"
    assert extra["scope"]["value"] == routes.DEFAULT_SCOPE
    timeout = extra["timeout"]["schema"]
    assert "number" in timeout["type"]
    assert timeout["minimum"] > 0
    assert extra["timeout"]["value"] == routes.DEFAULT_TIMEOUT
    # A default here would reach the form masked as "***", because the key contains "token".
    assert extra["token_url"]["value"] is None
    assert routes.DEFAULT_TOKEN_URL in extra["token_url"]["description"]


def _settings_from_env(monkeypatch: pytest.MonkeyPatch, value: str) -> VoilaSettings:
    monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", value)
    return VoilaHook().settings


def _without_conn_id(settings: VoilaSettings) -> VoilaSettings:
    return dataclasses.replace(settings, conn_id="")


def test_local_uri_json_and_form_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeVoilaServer() as server:
        # What the UI form stores: the base URL in host, the port again in Port, plain extra keys.
        form = Connection(
            conn_id="voila_ui",
            conn_type="voila",
            host=server.base_url,
            port=server.port,
            login=server.client_id,
            password=server.client_secret,
            extra=json.dumps(server.connection_extra()),
        )
        from_form = settings_from_connection(form)

        from_json = _settings_from_env(monkeypatch, server.connection_json())

        uri = (
            f"voila://http://{server.client_id}:{quote(server.client_secret, safe='')}"
            f"@127.0.0.1:{server.port}"
            f"?organization_id={server.organization_id}&token_url={quote(server.token_url, safe='')}"
        )
        from_uri = _settings_from_env(monkeypatch, uri)

        assert _without_conn_id(from_uri) == _without_conn_id(from_form)
        assert _without_conn_id(from_json) == _without_conn_id(from_form)
        assert from_uri.base_url == server.base_url
        assert from_uri.client_secret == server.client_secret

        ok, message = VoilaHook().test_connection()
        assert ok, message


def test_public_uri_and_json_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    uri = "voila://my-client-id:my-client-secret@public-api.voila.live?organization_id=org-123"
    from_uri = _settings_from_env(monkeypatch, uri)
    from_json = _settings_from_env(
        monkeypatch,
        json.dumps(
            {
                "conn_type": "voila",
                "login": "my-client-id",
                "password": "my-client-secret",
                "host": "public-api.voila.live",
                "extra": {"organization_id": "org-123"},
            }
        ),
    )
    assert from_uri == from_json
    assert from_uri.base_url == routes.DEFAULT_BASE_URL
    assert from_uri.token_url == routes.DEFAULT_TOKEN_URL
    assert from_uri.scope == routes.DEFAULT_SCOPE
    assert from_uri.organization_id == "org-123"
    assert BaseHook.get_connection("voila_default").conn_type == "voila"
