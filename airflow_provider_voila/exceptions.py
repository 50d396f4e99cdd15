"""Errors raised by the Voilà provider.

Every message names the operation, the ids or value involved and what to check next. None of them
contains the client secret, the Basic header or an access token.

Errors that a task retry cannot fix (invalid input, a registration whose outcome is unknown) derive
from ``AirflowFailException``, so Airflow fails the task at once in place of retrying it.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class VoilaError(AirflowException):
    """Base class of every error the Voilà provider raises."""


class VoilaConfigError(VoilaError, AirflowFailException, ValueError):
    """Invalid connection settings or operator arguments, detected before any request."""


class VoilaValidationError(VoilaError, AirflowFailException, ValueError):
    """An input value (an attendee field, a dataset name, a path) is invalid.

    :param field: name of the invalid field, as the caller spelled it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class VoilaApiError(VoilaError):
    """The Voilà API or the token endpoint returned an error status or an unreadable body.

    :param operation: route name, for example ``chat_messages``.
    :param status: HTTP status, or ``None`` when no response arrived.
    :param server_message: the message the server sent, shortened.
    :param reason: short cause for retry logs, for example ``HTTP 503`` or ``ConnectionError``;
        defaults to the HTTP status.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        status: int | None = None,
        server_message: str | None = None,
        retryable: bool = False,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.status = status
        self.server_message = server_message
        self.retryable = retryable
        self.reason = reason or (f"HTTP {status}" if status is not None else "no response")


class VoilaAuthError(VoilaApiError):
    """The token endpoint rejected the credentials or the scope, or the API rejected the token."""


class VoilaOutcomeUnknownError(VoilaApiError, AirflowFailException):
    """A registration request may have reached the server, but no usable response came back.

    Sending it again could register the attendee twice, so neither the hook nor an Airflow task
    retry sends it again.
    """
