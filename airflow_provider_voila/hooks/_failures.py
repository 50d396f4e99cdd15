"""Error messages for failed API calls: what failed, on which ids, and what to check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_voila.exceptions import VoilaApiError, VoilaAuthError, VoilaOutcomeUnknownError
from airflow_provider_voila.hooks._responses import server_message
from airflow_provider_voila.hooks._retry import RETRYABLE_STATUSES

if TYPE_CHECKING:
    import requests

    from airflow_provider_voila.hooks._config import VoilaSettings
    from airflow_provider_voila.routes import Route


def describe_failure(
    route: Route, where: str, response: requests.Response, settings: VoilaSettings
) -> VoilaApiError:
    """Build the error for an API response that is not 2xx."""
    status = response.status_code
    message = server_message(response)
    head = f"{where} failed with HTTP {status} ({message})"
    error_class = VoilaAuthError if status in (401, 403) else VoilaApiError
    return error_class(
        f"{head}. {_advice(route, status, settings)}",
        operation=route.name,
        status=status,
        server_message=message,
        retryable=status in RETRYABLE_STATUSES,
    )


def _advice(route: Route, status: int, settings: VoilaSettings) -> str:
    if status == 401:
        return (
            "The API rejected a freshly issued token: check that the client id belongs to "
            f"organization {settings.organization_id!r} and that the scope is {settings.scope!r}."
        )
    if status == 403:
        return (
            f"Access denied: check that organization_id {settings.organization_id!r} is the organization "
            "of this client id, and that the client has the voila/partner_access scope."
        )
    if status == 404 and route.name == "ping":
        return _ping_not_found_advice(settings)
    if status == 404:
        return (
            "Check the program and session ids, the organization_id and the base URL "
            f"{settings.base_url!r} (it may need to end in /v1)."
        )
    if status == 409:
        return (
            "The attendee conflicts with one already registered in this program (same email or external id)."
        )
    if status in (400, 422):
        return "The server rejected the request body or ids: check the values named in its message."
    if status == 429:
        return "The API is rate limiting this client: lower concurrency or raise retry_budget."
    if status in RETRYABLE_STATUSES:
        return "The API had a temporary failure: retry later."
    return "Check the base URL and the ids."


def _ping_not_found_advice(settings: VoilaSettings) -> str:
    base_url = settings.base_url
    advice = (
        f"Check organization_id {settings.organization_id!r} and the base URL {base_url!r}: "
        "if the API serves its routes under /v1, set the host to the base URL ending in /v1"
    )
    if base_url.endswith("/v1"):
        return f"{advice}, as it does now, or without /v1 if this API version does not use it."
    return f"{advice} ({base_url}/v1)."


def transport_failure(operation: str, where: str, err: Exception) -> VoilaApiError:
    """Build the retryable error for a request that got no HTTP response."""
    if "Timeout" in type(err).__name__:
        message = (
            f"{where} timed out ({type(err).__name__}). Check that the host is reachable from the "
            "Airflow worker or API server, or raise timeout (seconds) in the connection extra if the "
            "API is slow."
        )
    else:
        message = (
            f"{where} could not connect or lost the connection ({type(err).__name__}). Check that the "
            "host and port in the URL are right and reachable from the Airflow worker or API server."
        )
    return VoilaApiError(message, operation=operation, retryable=True, reason=type(err).__name__)


def outcome_unknown(where: str, cause: Exception) -> VoilaOutcomeUnknownError:
    """Build the error for a registration whose request may have reached the server."""
    if isinstance(cause, VoilaApiError) and cause.status is not None:
        what_happened = (
            f"the server returned HTTP {cause.status}, which does not tell whether it processed the request"
        )
    else:
        what_happened = f"the request was sent but no response came back ({type(cause).__name__})"
    return VoilaOutcomeUnknownError(
        f"{where}: {what_happened}, so the attendee may or may not be registered. It was not sent "
        "again, to avoid a duplicate: check the attendee list in Voilà Backstage before registering "
        "this attendee again.",
        operation="register_attendee",
        status=cause.status if isinstance(cause, VoilaApiError) else None,
    )
