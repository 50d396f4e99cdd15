"""Settings of a ``voila`` connection, read and checked before any request."""

from __future__ import annotations

import difflib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_voila import routes
from airflow_provider_voila.exceptions import VoilaConfigError
from airflow_provider_voila.validation import FORBIDDEN_ID_CHARACTERS

if TYPE_CHECKING:
    from airflow.sdk import Connection

log = logging.getLogger(__name__)

KNOWN_EXTRA_KEYS = (
    "organization_id",
    "token_url",
    "scope",
    "timeout",
    "max_attempts",
    "retry_budget",
    "retry_base_delay",
    "max_retry_wait",
)


@dataclass(frozen=True)
class VoilaSettings:
    """Everything the hook needs from a connection, with defaults applied."""

    conn_id: str
    client_id: str
    client_secret: str
    base_url: str
    organization_id: str
    token_url: str = routes.DEFAULT_TOKEN_URL
    scope: str = routes.DEFAULT_SCOPE
    timeout: float = routes.DEFAULT_TIMEOUT
    max_attempts: int = routes.DEFAULT_MAX_ATTEMPTS
    retry_budget: float = routes.DEFAULT_RETRY_BUDGET
    retry_base_delay: float = routes.DEFAULT_RETRY_BASE_DELAY
    max_retry_wait: float = routes.DEFAULT_MAX_RETRY_WAIT

    def __repr__(self) -> str:
        # The dataclass repr would print the client secret.
        return (
            f"VoilaSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r}, "
            f"organization_id={self.organization_id!r}, token_url={self.token_url!r})"
        )


def settings_from_connection(conn: Connection) -> VoilaSettings:
    """Build :class:`VoilaSettings` from an Airflow connection, rejecting invalid values.

    :raises VoilaConfigError: a required field is missing or a value is malformed.
    """
    conn_id = conn.conn_id
    extra = _load_extra(conn_id, conn.extra)
    _warn_unknown_keys(conn_id, extra)
    client_id = _required_text(conn_id, "Client ID (login)", conn.login)
    client_secret = _required_text(conn_id, "Client Secret (password)", conn.password)
    organization_id = _required_text(conn_id, "organization_id (extra)", extra.get("organization_id"))
    _check_id_characters(conn_id, "organization_id", organization_id)
    base_url = build_base_url(conn_id, conn.host, conn.port, conn.schema)
    token_url = _check_url(conn_id, "token_url", extra.get("token_url") or routes.DEFAULT_TOKEN_URL)
    _check_token_url_matches(conn_id, base_url, token_url)
    return VoilaSettings(
        conn_id=conn_id,
        client_id=client_id,
        client_secret=client_secret,
        base_url=base_url,
        organization_id=organization_id,
        token_url=token_url,
        scope=_optional_text(conn_id, "scope", extra.get("scope")) or routes.DEFAULT_SCOPE,
        timeout=_positive_number(conn_id, "timeout", extra.get("timeout"), routes.DEFAULT_TIMEOUT),
        max_attempts=_positive_integer(
            conn_id, "max_attempts", extra.get("max_attempts"), routes.DEFAULT_MAX_ATTEMPTS
        ),
        retry_budget=_positive_number(
            conn_id, "retry_budget", extra.get("retry_budget"), routes.DEFAULT_RETRY_BUDGET
        ),
        retry_base_delay=_positive_number(
            conn_id, "retry_base_delay", extra.get("retry_base_delay"), routes.DEFAULT_RETRY_BASE_DELAY
        ),
        max_retry_wait=_positive_number(
            conn_id, "max_retry_wait", extra.get("max_retry_wait"), routes.DEFAULT_MAX_RETRY_WAIT
        ),
    )


def build_base_url(conn_id: str, host: str | None, port: int | None, path: str | None) -> str:
    """Return the API base URL from the connection's host, port and schema fields.

    The host contains the whole base URL, for example ``http://127.0.0.1:8080``. A host without a
    scheme means https. A port field fills in the port when the host has none. In the URI form of a
    connection, a path after the host lands in the schema field, so it is appended here.
    """
    host = (host or "").strip()
    if not host:
        return routes.DEFAULT_BASE_URL
    if "://" not in host:
        host = f"https://{host}"
    url = _check_url(conn_id, "host (API base URL)", host)
    parts = urlsplit(url)
    netloc = parts.netloc
    if port is not None and not 0 < port < 65536:
        raise VoilaConfigError(
            f"Connection {conn_id!r}: port {port} is not a valid TCP port. Use 1 to 65535, or leave it empty."
        )
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    base_path = parts.path.rstrip("/")
    if path and path.strip("/"):
        base_path = f"{base_path}/{path.strip('/')}"
    return f"{parts.scheme}://{netloc}{base_path}"


def _warn_unknown_keys(conn_id: str, extra: dict[str, Any]) -> None:
    for key in extra:
        if key in KNOWN_EXTRA_KEYS:
            continue
        close = difflib.get_close_matches(key, KNOWN_EXTRA_KEYS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        log.warning(
            "Connection %r: extra key %r is not a Voilà setting and is ignored.%s Known keys: %s.",
            conn_id,
            key,
            hint,
            ", ".join(KNOWN_EXTRA_KEYS),
        )


def _check_token_url_matches(conn_id: str, base_url: str, token_url: str) -> None:
    """Reject a plain-http base URL paired with the production token endpoint.

    A local or test server is plain http, and without its own token_url the client secret would
    be sent to the production token endpoint.
    """
    if base_url.startswith("http://") and token_url == routes.DEFAULT_TOKEN_URL:
        raise VoilaConfigError(
            f"Connection {conn_id!r}: the API base URL {base_url!r} is plain http, but token_url is "
            f"unset, so the credentials would go to the production endpoint {routes.DEFAULT_TOKEN_URL}. "
            "Set token_url in the extra to the token endpoint of the same server."
        )


def _load_extra(conn_id: str, extra: str | dict[str, Any] | None) -> dict[str, Any]:
    if not extra:
        return {}
    if isinstance(extra, dict):
        return extra
    try:
        loaded = json.loads(extra)
    except json.JSONDecodeError as err:
        raise VoilaConfigError(
            f"Connection {conn_id!r}: the extra field is not valid JSON ({err.msg} at position {err.pos}). "
            'Write it as a JSON object, for example {"organization_id": "123"}.'
        ) from None
    if not isinstance(loaded, dict):
        raise VoilaConfigError(
            f"Connection {conn_id!r}: the extra field must be a JSON object, got {type(loaded).__name__}. "
            'Write it as a JSON object, for example {"organization_id": "123"}.'
        )
    return loaded


def _required_text(conn_id: str, label: str, value: object) -> str:
    text = _optional_text(conn_id, label, value)
    if not text:
        raise VoilaConfigError(
            f"Connection {conn_id!r}: {label} is missing or empty. Copy it from the Public API section "
            "of the Integrations page in Voilà Backstage."
        )
    return text


def _optional_text(conn_id: str, label: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise VoilaConfigError(
            f"Connection {conn_id!r}: {label} must be text, got {type(value).__name__}. Set it as a string."
        )
    return str(value).strip()


def _check_id_characters(conn_id: str, label: str, value: str) -> None:
    bad = [char for char in FORBIDDEN_ID_CHARACTERS if char in value]
    if value in (".", "..") or any(c.isspace() or not c.isprintable() for c in value):
        bad.append("a path segment or a space")
    if bad:
        raise VoilaConfigError(
            f"Connection {conn_id!r}: {label} {value!r} contains {' '.join(bad)}, which cannot appear in "
            "an id. Copy the id from Voilà Backstage."
        )


def _check_url(conn_id: str, label: str, value: object) -> str:
    if not isinstance(value, str):
        raise VoilaConfigError(f"Connection {conn_id!r}: {label} must be a URL string, got {value!r}.")
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        # The value is not repeated, because the part before @ may be a password.
        raise VoilaConfigError(
            f"Connection {conn_id!r}: {label} contains user:password@ before the host, which would "
            "replace the Client ID and Secret. Remove it; the credentials belong in login and password."
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise VoilaConfigError(
            f"Connection {conn_id!r}: {label} {value!r} is not a valid http(s) URL. "
            "Write it as scheme://host[:port][/path], for example https://public-api.voila.live."
        )
    return url


def _positive_integer(conn_id: str, label: str, value: object, default: int) -> int:
    number = _positive_number(conn_id, label, value, default)
    if number != int(number):
        raise VoilaConfigError(
            f"Connection {conn_id!r}: extra {label} must be a whole number, got {value!r}. "
            f"Remove it to use the default ({default})."
        )
    return int(number)


def _positive_number(conn_id: str, label: str, value: object, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not number > 0 or number == float("inf"):
        raise VoilaConfigError(
            f"Connection {conn_id!r}: extra {label} must be a positive number, got {value!r}. "
            f"Remove it to use the default ({default:g})."
        )
    return number
