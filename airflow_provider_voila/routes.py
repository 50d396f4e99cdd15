"""Voilà API routes, dataset names and published defaults, kept in one table."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

DEFAULT_BASE_URL = "https://public-api.voila.live"
DEFAULT_TOKEN_URL = "https://public-auth.voila.live/oauth2/token"
DEFAULT_SCOPE = "voila/partner_access"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_BUDGET = 300.0
DEFAULT_MAX_RETRY_WAIT = 60.0
DEFAULT_RETRY_BASE_DELAY = 1.0


@dataclass(frozen=True)
class Route:
    """One API operation: its HTTP method and path template relative to the base URL."""

    name: str
    method: str
    path: str
    # A POST creates a resource, so it is sent again only when the server cannot have seen it.
    idempotent: bool = True

    def format(self, **ids: str) -> str:
        """Return the path with each id percent-encoded, so that no id can change the path."""
        return self.path.format(**{name: quote(value, safe="") for name, value in ids.items()})


# NOTE: the published API reference prints only the ping path. The other paths are inferred
# from the endpoint titles and path parameters, and may need changing once the live API is known.
PING = Route("ping", "GET", "/organizations/{organization_id}/ping")
REGISTER_ATTENDEE = Route(
    "register_attendee",
    "POST",
    "/organizations/{organization_id}/programs/{program_id}/attendees",
    idempotent=False,
)
ATTENDEE_STATISTICS = Route(
    "attendee_statistics",
    "GET",
    "/organizations/{organization_id}/programs/{program_id}/sessions/{session_id}/attendees",
)
CHAT_MESSAGES = Route(
    "chat_messages",
    "GET",
    "/organizations/{organization_id}/programs/{program_id}/sessions/{session_id}/chat-messages",
)
QUESTIONS = Route(
    "questions",
    "GET",
    "/organizations/{organization_id}/programs/{program_id}/sessions/{session_id}/questions",
)

ROUTES: dict[str, Route] = {
    route.name: route for route in (PING, REGISTER_ATTENDEE, ATTENDEE_STATISTICS, CHAT_MESSAGES, QUESTIONS)
}

# Per-session datasets that the export operator can write, mapped to the route that lists them.
DATASET_ROUTES: dict[str, Route] = {
    "attendee_statistics": ATTENDEE_STATISTICS,
    "chat_messages": CHAT_MESSAGES,
    "questions": QUESTIONS,
}
DATASETS: tuple[str, ...] = tuple(DATASET_ROUTES)
