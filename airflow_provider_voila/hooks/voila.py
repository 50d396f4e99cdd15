"""Hook for the Voilà public API: OAuth2 client credentials, retries and streamed lists."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from airflow.sdk import BaseHook
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from airflow_provider_voila import routes
from airflow_provider_voila.exceptions import (
    VoilaApiError,
    VoilaConfigError,
    VoilaError,
    VoilaValidationError,
)
from airflow_provider_voila.hooks._config import VoilaSettings, settings_from_connection
from airflow_provider_voila.hooks._failures import describe_failure, outcome_unknown, transport_failure
from airflow_provider_voila.hooks._responses import decode_json_object, iter_json_array, iter_json_array_raw
from airflow_provider_voila.hooks._retry import RetryState, parse_retry_after
from airflow_provider_voila.hooks._token import TokenProvider
from airflow_provider_voila.validation import check_path_id, validate_attendee

if TYPE_CHECKING:
    from airflow_provider_voila.routes import Route

T = TypeVar("T")
log = logging.getLogger(__name__)

# Max attempts and seconds of test_connection(), so that the UI's Test button returns within
# about one request timeout even when the host is unreachable.
TEST_MAX_ATTEMPTS = 2
TEST_RETRY_BUDGET = 5.0


class VoilaHook(BaseHook):
    """
    Calls the Voilà public API with a ``voila`` connection.

    The connection contains the Client ID (login), the Client Secret (password), the API base URL
    (host) and, in its extra, ``organization_id`` and optionally ``token_url``, ``scope``,
    ``timeout`` (seconds per request), ``max_attempts``, ``retry_budget`` (seconds),
    ``retry_base_delay`` (first backoff, seconds) and ``max_retry_wait`` (cap on one wait, seconds).

    One access token is fetched and reused by every call until shortly before it expires. Reads
    are retried on 429, 5xx, connection errors and timeouts. A registration is sent again only
    when the server cannot have received it.

    .. seealso::
        The README section "Connection" for the form fields and the environment variable forms.

    :param voila_conn_id: id of the ``voila`` connection.
    :param max_attempts: attempts per call, the first included; overrides the connection extra.
    :param retry_budget: seconds after which no new attempt starts; overrides the connection extra.
    :param pool_size: HTTP connections kept open, at least the number of threads calling the hook.
    :param on_rate_limited: called with the wait in seconds each time the API answers 429, before
        the hook waits or gives up; bulk callers use it to slow all their threads down.
    """

    conn_name_attr = "voila_conn_id"
    default_conn_name = "voila_default"
    conn_type = "voila"
    hook_name = "Voilà"

    def __init__(
        self,
        voila_conn_id: str = default_conn_name,
        *,
        max_attempts: int | None = None,
        retry_budget: float | None = None,
        pool_size: int = 10,
        on_rate_limited: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__()
        self.voila_conn_id = voila_conn_id
        self._max_attempts = max_attempts
        self._retry_budget = retry_budget
        self._pool_size = pool_size
        self._on_rate_limited = on_rate_limited

    @cached_property
    def settings(self) -> VoilaSettings:
        """Connection settings with defaults applied; invalid values raise before any request."""
        settings = settings_from_connection(self.get_connection(self.voila_conn_id))
        if self._max_attempts is not None and self._max_attempts < 1:
            raise VoilaConfigError(f"max_attempts must be at least 1, got {self._max_attempts}.")
        if self._retry_budget is not None and not self._retry_budget > 0:
            raise VoilaConfigError(
                f"retry_budget must be a positive number of seconds, got {self._retry_budget}."
            )
        return settings

    @cached_property
    def session(self) -> requests.Session:
        """The one HTTP session that every call of this hook shares."""
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(self._pool_size, 1))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = "airflow-provider-voila/0.1.0"
        return session

    @cached_property
    def tokens(self) -> TokenProvider:
        return TokenProvider(self.settings, self.session)

    def get_conn(self) -> requests.Session:
        """Return the shared :class:`requests.Session`."""
        return self.session

    def new_retry_state(self) -> RetryState:
        """Return a fresh attempt counter and time budget for one logical operation."""
        settings = self.settings
        return RetryState(
            max_attempts=self._max_attempts or settings.max_attempts,
            budget=self._retry_budget or settings.retry_budget,
            base_delay=settings.retry_base_delay,
            max_delay=settings.max_retry_wait,
        )

    # Public API operations

    def ping(self) -> dict[str, Any]:
        """Call the ping route and return its response body, ``{"organizationId": "..."}``."""
        response = self._send(routes.PING, {})
        return decode_json_object(response, "ping", self._where(routes.PING, {}))

    def register_attendee(self, program_id: str, attendee: dict[str, Any]) -> dict[str, Any]:
        """Register one attendee in a program and return the attendee the API created.

        :param attendee: API field names: ``firstName``, ``lastName``, ``email``,
            ``isPersonalDataSharingAccepted`` and optionally ``externalId``. Validated before sending.
        :raises VoilaOutcomeUnknownError: the request may have reached the server but no response
            arrived, so the attendee may or may not be registered. It is not sent again.
        """
        ids = {"program_id": check_path_id("program_id", program_id)}
        body = validate_attendee(attendee)
        # Errors and retry logs name the attendee by external id only: an email is personal data.
        ids_with_attendee = {**ids, "externalId": body.get("externalId") or "(none)"}
        response = self._send(routes.REGISTER_ATTENDEE, ids, json=body, described_as=ids_with_attendee)
        return decode_json_object(response, "register_attendee", self._where(routes.REGISTER_ATTENDEE, ids))

    def get_attendee_statistics(self, program_id: str, session_id: str) -> Iterator[dict[str, Any]]:
        """Yield one dict per attendee who watched the live or the replay of a session."""
        return self.iter_dataset("attendee_statistics", program_id, session_id)

    def get_chat_messages(self, program_id: str, session_id: str) -> Iterator[dict[str, Any]]:
        """Yield the chat messages of a session, one dict each, as the API sent them."""
        return self.iter_dataset("chat_messages", program_id, session_id)

    def get_questions(self, program_id: str, session_id: str) -> Iterator[dict[str, Any]]:
        """Yield the questions attendees asked in a session, one dict each, as the API sent them."""
        return self.iter_dataset("questions", program_id, session_id)

    def iter_dataset(self, dataset: str, program_id: str, session_id: str) -> Iterator[dict[str, Any]]:
        """Yield the records of one dataset of a session while the response streams in.

        A connection that breaks after the first record raises a retryable :class:`VoilaApiError`;
        use :meth:`consume_dataset` to restart the download from the start in that case.
        """
        route, ids = self._dataset_route(dataset, program_id, session_id)
        response = self._send(route, ids, stream=True)
        with response:
            yield from iter_json_array(response, route.name, self._where(route, ids))

    def consume_dataset(
        self,
        dataset: str,
        program_id: str,
        session_id: str,
        consume: Callable[[Iterator[Any]], T],
        *,
        raw: bool = False,
    ) -> T:
        """Stream one dataset into ``consume`` and return its result, restarting on a broken stream.

        ``consume`` receives an iterator of records and must start over cleanly each time it is
        called, because a download that breaks midway is retried from the first record.

        :param raw: pass ``(raw_bytes, record)`` pairs in place of records, where ``raw_bytes``
            is the element exactly as the API sent it.
        """
        route, ids = self._dataset_route(dataset, program_id, session_id)
        where = self._where(route, ids)
        retry = self.new_retry_state()
        while True:
            try:
                response = self._send(route, ids, stream=True, retry=retry)
                with response:
                    if raw:
                        return consume(iter_json_array_raw(response, route.name, where))
                    return consume(iter_json_array(response, route.name, where))
            except VoilaApiError as err:
                if not err.retryable:
                    raise
                self._wait_before_retry(retry, route, err, None)

    def test_connection(self) -> tuple[bool, str]:
        """Get a token and ping the organization, and return whether it worked with a message saying why.

        The Test button of the Airflow UI calls this on the API server and waits for it, so it makes
        at most :data:`TEST_MAX_ATTEMPTS` attempts within :data:`TEST_RETRY_BUDGET` seconds, whatever
        the connection extra sets. Each attempt still waits up to the connection's ``timeout``.
        """
        route = routes.PING
        try:
            settings = self.settings
            response = self._send(route, {}, retry=self._test_retry_state())
            answer = decode_json_object(response, route.name, self._where(route, {}))
        except VoilaApiError as err:
            if err.status is None and err.operation == route.name:
                # A ping without a response names no URL, so the base URL is what to check first.
                return False, f"{err} The API base URL is {settings.base_url}."
            return False, str(err)
        except VoilaError as err:
            return False, str(err)
        except Exception as err:  # the UI shows this message; never let it become a 500
            return False, f"Testing connection {self.voila_conn_id!r} failed: {type(err).__name__}: {err}"
        organization = answer.get("organizationId", settings.organization_id)
        return True, (
            f"Connected to Voilà at {settings.base_url} as organization {organization!r}: "
            "the token request and the ping succeeded."
        )

    def _test_retry_state(self) -> RetryState:
        retry = self.new_retry_state()
        retry.max_attempts = min(retry.max_attempts, TEST_MAX_ATTEMPTS)
        retry.budget = min(retry.budget, TEST_RETRY_BUDGET)
        retry.exhausted_advice = (
            f"The connection test makes at most {retry.max_attempts} attempts within {retry.budget:g} s, "
            "but tasks retry for as long as max_attempts and retry_budget in the connection extra allow."
        )
        return retry

    # Request machinery

    def _dataset_route(self, dataset: str, program_id: str, session_id: str) -> tuple[Route, dict[str, str]]:
        route = routes.DATASET_ROUTES.get(dataset)
        if route is None:
            raise VoilaValidationError(
                "dataset", f"Unknown dataset {dataset!r}. Use one of: {', '.join(routes.DATASETS)}."
            )
        ids = {
            "program_id": check_path_id("program_id", program_id),
            "session_id": check_path_id("session_id", session_id),
        }
        return route, ids

    def _where(self, route: Route, ids: dict[str, str]) -> str:
        details = ", ".join(f"{key} {value!r}" for key, value in ids.items())
        org = self.settings.organization_id
        return f"Voilà {route.name} (organization {org!r}{', ' + details if details else ''})"

    def _send(
        self,
        route: Route,
        ids: dict[str, str],
        *,
        json: dict[str, Any] | None = None,
        stream: bool = False,
        retry: RetryState | None = None,
        described_as: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send one API request with a valid token, retry it where that is safe, and return the 2xx response.

        :param described_as: ids to name in error messages in place of ``ids``.
        """
        settings = self.settings
        url = settings.base_url + route.format(organization_id=settings.organization_id, **ids)
        where = self._where(route, described_as or ids)
        retry = retry or self.new_retry_state()
        rejected_token: str | None = None
        refreshed = False
        while True:
            retry.start_attempt()
            try:
                token = self.tokens.get(stale=rejected_token)
            except requests.RequestException as err:
                token_failure = transport_failure("token", f"The token endpoint {settings.token_url}", err)
                self._wait_before_retry(retry, route, token_failure, None)
                continue
            except VoilaApiError as err:
                if not err.retryable:
                    raise
                self._wait_before_retry(retry, route, err, None)
                continue

            try:
                # NOTE: timeout applies to the connection and to each read, not to the whole body, so
                # a server that trickles bytes can hold one attempt longer than timeout.
                response = self.session.request(
                    route.method,
                    url,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    json=json,
                    stream=stream,
                    timeout=settings.timeout,
                )
            except requests.RequestException as err:
                sent = _may_have_been_sent(err)
                if sent and not route.idempotent:
                    raise outcome_unknown(where, err) from None
                self._wait_before_retry(retry, route, transport_failure(route.name, where, err), None)
                continue

            if response.ok:
                return response
            status = response.status_code
            if status == 401 and not refreshed:
                log.warning("%s: HTTP 401, fetching a new access token and retrying once", where)
                response.close()
                rejected_token, refreshed = token, True
                retry.attempts -= 1  # a token refresh is not a failed attempt
                continue

            failure = describe_failure(route, where, response, settings)
            response.close()
            if not failure.retryable:
                raise failure
            if not route.idempotent and not _post_safe_to_resend(response):
                raise outcome_unknown(where, failure)
            self._wait_before_retry(retry, route, failure, response)

    def _wait_before_retry(
        self,
        retry: RetryState,
        route: Route,
        failure: VoilaApiError,
        response: requests.Response | None,
    ) -> None:
        """Sleep before the next attempt, or raise ``failure`` when attempts or time run out."""
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
        wait = retry.next_wait(retry_after)
        if failure.status == 429 and self._on_rate_limited is not None:
            # The same cap as the hook's own wait, so a huge Retry-After cannot stall the caller.
            requested = retry_after if retry_after is not None else (wait or 0.0)
            self._on_rate_limited(min(requested, retry.max_delay))
        if wait is None:
            failure.args = (
                f"{failure.args[0]} Gave up after {_attempts(retry.attempts)} in {retry.elapsed():.1f} s. "
                f"{retry.exhausted_advice}",
            )
            raise failure
        log.warning(
            "%s failed (%s), retrying in %.2f s (attempt %d of %d)",
            failure.operation,
            failure.reason,
            wait,
            retry.attempts + 1,
            retry.max_attempts,
        )
        time.sleep(wait)


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _may_have_been_sent(err: requests.RequestException) -> bool:
    """Return whether the server may have received the request before ``err`` happened."""
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(err, requests.exceptions.ConnectionError) and err.args:
        # requests wraps urllib3's MaxRetryError, whose reason shows whether a connection was made.
        # NewConnectionError covers refused connections and failed name lookups.
        reason = getattr(err.args[0], "reason", None)
        return not isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return True


def _post_safe_to_resend(response: requests.Response) -> bool:
    """Return whether the response proves the server did not process the request.

    That is a 429, or a 503 with ``Retry-After``.
    """
    if response.status_code == 429:
        return True
    return response.status_code == 503 and response.headers.get("Retry-After") is not None


__all__ = ["VoilaHook"]
