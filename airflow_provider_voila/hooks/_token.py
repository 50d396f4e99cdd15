"""OAuth2 client-credentials tokens: fetched once, reused until shortly before they expire."""

from __future__ import annotations

import base64
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_voila.exceptions import VoilaApiError, VoilaAuthError
from airflow_provider_voila.hooks._responses import decode_json_object, server_message

if TYPE_CHECKING:
    import requests

    from airflow_provider_voila.hooks._config import VoilaSettings

log = logging.getLogger(__name__)

# Lifetime assumed when the token response has no expires_in, which RFC 6749 makes optional.
# A 401 before then still triggers one refresh.
ASSUMED_LIFETIME = 300.0
# A token is renewed this long before it expires: 60 s, or a fifth of a short lifetime.
MAX_SAFETY_MARGIN = 60.0


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"Token(expires_at={self.expires_at})"


def basic_authorization(client_id: str, client_secret: str) -> str:
    """Return the ``Authorization`` header value for the token request, as the Voilà reference sets it."""
    pair = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


class TokenProvider:
    """Holds the current access token and fetches a new one when it is missing or about to expire.

    Thread-safe, so that concurrent registrations share one token and one token request.
    """

    def __init__(self, settings: VoilaSettings, fetch: requests.Session) -> None:
        self._settings = settings
        self._session = fetch
        self._lock = threading.Lock()
        self._token: Token | None = None
        self.requests_made = 0

    def get(self, *, stale: str | None = None) -> str:
        """Return a valid access token.

        :param stale: a token the API just rejected with 401. When it is still the current one,
            a new token is fetched; when another thread already replaced it, the new one is reused.
        """
        with self._lock:
            token = self._token
            if token is None or time.monotonic() >= token.expires_at or token.value == stale:
                token = self._token = self._fetch()
            return token.value

    def _fetch(self) -> Token:
        settings = self._settings
        header = basic_authorization(settings.client_id, settings.client_secret)
        _mask(header)
        _mask(header.removeprefix("Basic "))
        self.requests_made += 1
        response = self._session.post(
            settings.token_url,
            headers={"Authorization": header, "Accept": "application/json"},
            data={"grant_type": "client_credentials", "scope": settings.scope},
            timeout=settings.timeout,
        )
        if not 200 <= response.status_code < 300:
            raise token_error(response, settings)
        payload = decode_json_object(response, "token", f"The token endpoint {settings.token_url}")
        value = payload.get("access_token")
        if not isinstance(value, str) or not value:
            raise VoilaApiError(
                f"The token endpoint {settings.token_url} returned no access_token "
                f"(keys: {sorted(payload)}). Check that token_url points at the Voilà token endpoint.",
                operation="token",
                status=response.status_code,
            )
        _mask(value)
        lifetime = _lifetime(payload.get("expires_in"))
        margin = min(MAX_SAFETY_MARGIN, lifetime / 5)
        log.debug("Fetched an access token valid for %.0f s", lifetime)
        return Token(value, time.monotonic() + lifetime - margin)


def token_error(response: requests.Response, settings: VoilaSettings) -> VoilaApiError:
    """Build the error for a token response that is not 2xx, with what to check."""
    status = response.status_code
    message = server_message(response)
    where = f"The token endpoint {settings.token_url} answered HTTP {status} ({message})"
    if "invalid_scope" in message:
        return VoilaAuthError(
            f"{where}: the scope {settings.scope!r} is not allowed for client {settings.client_id!r}. "
            "Remove the scope extra to use voila/partner_access, or ask Voilà to grant it.",
            operation="token",
            status=status,
            server_message=message,
        )
    if status in (400, 401, 403):
        return VoilaAuthError(
            f"{where}: the client id {settings.client_id!r} or its secret was rejected. Copy both "
            "from the Public API section of the Integrations page in Voilà Backstage.",
            operation="token",
            status=status,
            server_message=message,
        )
    return VoilaApiError(
        f"{where}. Check token_url, or retry later if the endpoint is down.",
        operation="token",
        status=status,
        server_message=message,
        retryable=status in (429, 500, 502, 503, 504),
    )


def _lifetime(expires_in: object) -> float:
    if isinstance(expires_in, bool):
        return ASSUMED_LIFETIME
    try:
        seconds = float(expires_in)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ASSUMED_LIFETIME
    return seconds if seconds > 0 else ASSUMED_LIFETIME


def _mask(secret: str) -> None:
    # Imported here so that importing the hook module stays cheap outside a task.
    from airflow.sdk.log import mask_secret

    mask_secret(secret)
