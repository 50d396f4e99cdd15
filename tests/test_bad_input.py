"""Bad connection settings and operator arguments: each fails before any request with its own message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_voila.exceptions import VoilaError
from airflow_provider_voila.hooks.voila import VoilaHook
from airflow_provider_voila.operators.attendees import VoilaRegisterAttendeeOperator
from airflow_provider_voila.operators.export import VoilaExportSessionOperator
from airflow_provider_voila.testing import FakeVoilaServer

GOOD_ATTENDEE: dict[str, Any] = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "attendee_email": "ada@example.org",
    "personal_data_sharing_accepted": True,
    "external_id": "crm-1815",
}

# (case id, what to change, expected message). A connection case replaces keys of the connection
# JSON ("extra" replaces the whole extra); an export or register case replaces operator arguments.
CONNECTION_CASES = [
    (
        "client id missing",
        {"login": None},
        "Connection 'voila_default': Client ID (login) is missing or empty. Copy it from the Public API section of the Integrations page in Voilà Backstage.",
    ),
    (
        "client id blank",
        {"login": "   "},
        "Connection 'voila_default': Client ID (login) is missing or empty. Copy it from the Public API section of the Integrations page in Voilà Backstage.",
    ),
    (
        "secret missing",
        {"password": None},
        "Connection 'voila_default': Client Secret (password) is missing or empty. Copy it from the Public API section of the Integrations page in Voilà Backstage.",
    ),
    (
        "organization id missing",
        {"extra": {}},
        "Connection 'voila_default': organization_id (extra) is missing or empty. Copy it from the Public API section of the Integrations page in Voilà Backstage.",
    ),
    (
        "organization id empty",
        {"extra": {"organization_id": ""}},
        "Connection 'voila_default': organization_id (extra) is missing or empty. Copy it from the Public API section of the Integrations page in Voilà Backstage.",
    ),
    (
        "organization id with slash",
        {"extra": {"organization_id": "org/1"}},
        "Connection 'voila_default': organization_id 'org/1' contains /, which cannot appear in an id. Copy the id from Voilà Backstage.",
    ),
    (
        "base url bad scheme",
        {"host": "ftp://files.example.org"},
        "Connection 'voila_default': host (API base URL) 'ftp://files.example.org' is not a valid http(s) URL. Write it as scheme://host[:port][/path], for example https://public-api.voila.live.",
    ),
    (
        "base url without host",
        {"host": "http://"},
        "Connection 'voila_default': host (API base URL) 'http://' is not a valid http(s) URL. Write it as scheme://host[:port][/path], for example https://public-api.voila.live.",
    ),
    (
        "base url with query",
        {"host": "https://api.example.org?x=1"},
        "Connection 'voila_default': host (API base URL) 'https://api.example.org?x=1' is not a valid http(s) URL. Write it as scheme://host[:port][/path], for example https://public-api.voila.live.",
    ),
    (
        "token url not a url",
        {"extra": {"organization_id": "org-demo", "token_url": "auth.example.org/token"}},
        "Connection 'voila_default': token_url 'auth.example.org/token' is not a valid http(s) URL. Write it as scheme://host[:port][/path], for example https://public-api.voila.live.",
    ),
    (
        "extra not json",
        {"extra": "{organization_id: org-demo"},
        'Connection \'voila_default\': the extra field is not valid JSON (Expecting property name enclosed in double quotes at position 1). Write it as a JSON object, for example {"organization_id": "123"}.',
    ),
    (
        "extra json array",
        {"extra": "[1, 2]"},
        'Connection \'voila_default\': the extra field must be a JSON object, got list. Write it as a JSON object, for example {"organization_id": "123"}.',
    ),
    (
        "timeout negative",
        {"extra": {"organization_id": "org-demo", "timeout": -1}},
        "Connection 'voila_default': extra timeout must be a positive number, got -1. Remove it to use the default (30).",
    ),
    (
        "timeout text",
        {"extra": {"organization_id": "org-demo", "timeout": "soon"}},
        "Connection 'voila_default': extra timeout must be a positive number, got 'soon'. Remove it to use the default (30).",
    ),
    (
        "max attempts zero",
        {"extra": {"organization_id": "org-demo", "max_attempts": 0}},
        "Connection 'voila_default': extra max_attempts must be a positive number, got 0. Remove it to use the default (5).",
    ),
]

CONNECTION_CASES += [
    (
        "http base url without token url",
        {"extra": {"organization_id": "org-demo", "token_url": None}},
        "Connection 'voila_default': the API base URL 'http://127.0.0.1:{port}' is plain http, but token_url is unset, so the credentials would go to the production endpoint https://public-auth.voila.live/oauth2/token. Set token_url in the extra to the token endpoint of the same server.",
    ),
    (
        "max attempts fractional",
        {"extra": {"organization_id": "org-demo", "max_attempts": 2.5}},
        "Connection 'voila_default': extra max_attempts must be a whole number, got 2.5. Remove it to use the default (5).",
    ),
]

CONNECTION_CASES += [
    (
        "credentials in base url",
        {"host": "http://user:hunter2@127.0.0.1:8080"},
        "Connection 'voila_default': host (API base URL) contains user:password@ before the host, which would replace the Client ID and Secret. Remove it; the credentials belong in login and password.",
    ),
    (
        "organization id dot dot",
        {"extra": {"organization_id": ".."}},
        "Connection 'voila_default': organization_id '..' contains a path segment or a space, which cannot appear in an id. Copy the id from Voilà Backstage.",
    ),
]

EXPORT_CASES = [
    (
        "unknown dataset",
        {"datasets": ["chat", "questions"]},
        "Unknown datasets ['chat']. Choose from: attendee_statistics, chat_messages, questions.",
    ),
    (
        "no datasets",
        {"datasets": []},
        "datasets is empty. Choose from: attendee_statistics, chat_messages, questions.",
    ),
    ("datasets not a list", {"datasets": 3}, "datasets must be a list of dataset names, got int."),
    (
        "unknown file format",
        {"file_format": "parquet", "destination": "file:///tmp/voila-never-written"},
        "file_format 'parquet' is not supported. Use one of: jsonl, json, csv.",
    ),
    (
        "relative destination",
        {"destination": "exports/voila"},
        "destination 'exports/voila' is not an absolute path or a URI. Use for example file:///data/voila or s3://aws_conn@bucket/voila.",
    ),
    (
        "destination not a path",
        {"destination": 42},
        "destination must be a URI string or an ObjectStoragePath, got int.",
    ),
    ("program id empty", {"program_id": ""}, "program_id is empty. Copy the id from Voilà Backstage."),
    (
        "session id with slash",
        {"session_id": "sess/1"},
        "session_id 'sess/1' contains '/', which an id cannot contain. Copy the id from Voilà Backstage.",
    ),
    (
        "session id with question mark",
        {"session_id": "sess?1"},
        "session_id 'sess?1' contains '?', which an id cannot contain. Copy the id from Voilà Backstage.",
    ),
    (
        "program id with hash",
        {"program_id": "prog#1"},
        "program_id 'prog#1' contains '#', which an id cannot contain. Copy the id from Voilà Backstage.",
    ),
]

EXPORT_CASES += [
    (
        "program id dot dot",
        {"program_id": ".."},
        "program_id '..' is a path segment, not an id. Copy the id from Voilà Backstage.",
    ),
    (
        "session id percent encoded",
        {"session_id": "a%2Fb"},
        "session_id 'a%2Fb' contains '%', which an id cannot contain. Copy the id from Voilà Backstage.",
    ),
]

EXPORT_CASES += [
    (
        "file uri without absolute path",
        {"destination": "file://tmp/x"},
        "destination 'file://tmp/x' is not an absolute file URI, so it would resolve against the worker's current folder. Write it as file:///absolute/path.",
    ),
]

REGISTER_CASES = [
    ("first name missing", {"first_name": None}, "first_name is missing. Every attendee needs first_name."),
    ("last name blank", {"last_name": "  "}, "last_name is empty. Every attendee needs last_name."),
    ("first name wrong type", {"first_name": 12}, "first_name must be a string, got int 12."),
    ("last name too long", {"last_name": "x" * 300}, "last_name is 300 characters long; the maximum is 255."),
    (
        "email invalid",
        {"attendee_email": "ada.example.org"},
        "attendee_email 'ada.example.org' is not a valid email address. Expected the form name@example.com.",
    ),
    (
        "email without domain dot",
        {"attendee_email": "ada@localhost"},
        "attendee_email 'ada@localhost' is not a valid email address. Expected the form name@example.com.",
    ),
    (
        "email too long",
        {"attendee_email": "a" * 250 + "@example.org"},
        "attendee_email is 262 characters long; the maximum is 254.",
    ),
    (
        "consent as string",
        {"personal_data_sharing_accepted": "true"},
        "personal_data_sharing_accepted must be a boolean (True or False), got str 'true'. In a templated field, set render_template_as_native_obj=True on the DAG so it stays a boolean.",
    ),
    (
        "consent missing",
        {"personal_data_sharing_accepted": None},
        "personal_data_sharing_accepted must be a boolean (True or False), got NoneType None. In a templated field, set render_template_as_native_obj=True on the DAG so it stays a boolean.",
    ),
    (
        "consent as integer",
        {"personal_data_sharing_accepted": 1},
        "personal_data_sharing_accepted must be a boolean (True or False), got int 1. In a templated field, set render_template_as_native_obj=True on the DAG so it stays a boolean.",
    ),
    (
        "external id too long",
        {"external_id": "e" * 256},
        "external_id is 256 characters long; the maximum is 255.",
    ),
    (
        "external id wrong type",
        {"external_id": ["crm-1"]},
        "external_id must be a string, got list ['crm-1'].",
    ),
    (
        "program id with slash",
        {"program_id": "prog/1"},
        "program_id 'prog/1' contains '/', which an id cannot contain. Copy the id from Voilà Backstage.",
    ),
]


@pytest.fixture(scope="module")
def server() -> Any:
    with FakeVoilaServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def good_connection(server: FakeVoilaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", server.connection_json())
    server.counts.clear()


def assert_no_request(server: FakeVoilaServer) -> None:
    assert sum(server.counts.values()) == 0, dict(server.counts)


def test_table_has_enough_cases() -> None:
    assert len(CONNECTION_CASES) + len(EXPORT_CASES) + len(REGISTER_CASES) >= 25


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in CONNECTION_CASES], ids=[c[0] for c in CONNECTION_CASES]
)
def test_bad_connection(
    server: FakeVoilaServer, monkeypatch: pytest.MonkeyPatch, change: dict[str, Any], expected: str
) -> None:
    conn = json.loads(server.connection_json())
    conn.update(change)
    if isinstance(conn.get("extra"), dict) and "extra" in change:
        conn["extra"] = {
            key: value
            for key, value in {"token_url": server.token_url, **conn["extra"]}.items()
            if value is not None
        }
    expected = expected.replace("{port}", str(server.port))
    monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", json.dumps(conn))
    with pytest.raises(VoilaError) as caught:
        VoilaHook().ping()
    assert str(caught.value) == expected
    assert_no_request(server)
    ok, message = VoilaHook().test_connection()
    assert not ok
    assert message == expected


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in EXPORT_CASES], ids=[c[0] for c in EXPORT_CASES]
)
def test_bad_export_arguments(server: FakeVoilaServer, change: dict[str, Any], expected: str) -> None:
    arguments = {"program_id": "prog-1", "session_id": "sess-1", **change}
    operator = VoilaExportSessionOperator(task_id="export", **arguments)
    with pytest.raises(VoilaError) as caught:
        operator.execute(context={})  # type: ignore[arg-type]
    assert str(caught.value) == expected
    assert_no_request(server)


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in REGISTER_CASES], ids=[c[0] for c in REGISTER_CASES]
)
def test_bad_attendee(server: FakeVoilaServer, change: dict[str, Any], expected: str) -> None:
    arguments = {"program_id": "prog-1", **GOOD_ATTENDEE, **change}
    operator = VoilaRegisterAttendeeOperator(task_id="register", **arguments)
    with pytest.raises(VoilaError) as caught:
        operator.execute(context={})  # type: ignore[arg-type]
    assert str(caught.value) == expected
    assert_no_request(server)
