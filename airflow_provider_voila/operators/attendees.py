"""Operators that register attendees in a Voilà program."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_voila.hooks.voila import VoilaHook


# API field name -> operator argument, so that validation errors name the argument to fix.
ARGUMENT_NAMES = {
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "attendee_email",
    "isPersonalDataSharingAccepted": "personal_data_sharing_accepted",
    "externalId": "external_id",
}


class VoilaRegisterAttendeeOperator(BaseOperator):
    """
    Registers one attendee in a Voilà program and returns the created attendee.

    The fields are checked before any request: names and email present, the email plausible and
    the consent a real boolean. The returned dict (pushed to XCom) contains the attendee's ``id`` and
    ``accessLink``.

    A registration is not idempotent, so it is never sent twice: when the request may have reached
    the server but no response came back, the task fails with an error saying so.

    .. code-block:: python

        VoilaRegisterAttendeeOperator(
            task_id="register",
            program_id="{{ params.program_id }}",
            first_name="Ada",
            last_name="Lovelace",
            attendee_email="ada@example.com",
            personal_data_sharing_accepted=True,
            external_id="crm-1815",
        )

    :param program_id: Voilà program id. (templated)
    :param first_name: attendee first name. (templated)
    :param last_name: attendee last name. (templated)
    :param attendee_email: attendee email address. (templated) It is not called ``email`` because
        ``BaseOperator`` already has an ``email`` argument, for failure alerts.
    :param personal_data_sharing_accepted: GDPR consent, a boolean. A template renders to a string,
        which is rejected unless the DAG sets ``render_template_as_native_obj=True``. (templated)
    :param external_id: your own id for the attendee, optional. (templated)
    :param max_attempts: attempts per request, overriding the connection extra. A registration is
        only sent again when the server cannot have received it.
    :param retry_budget: seconds of retrying, overriding the connection extra.
    :param voila_conn_id: id of the ``voila`` connection.
    """

    template_fields: Sequence[str] = (
        "program_id",
        "first_name",
        "last_name",
        "attendee_email",
        "personal_data_sharing_accepted",
        "external_id",
    )
    ui_color = "#f2e8ff"

    def __init__(
        self,
        *,
        program_id: str,
        first_name: str,
        last_name: str,
        attendee_email: str,
        personal_data_sharing_accepted: bool,
        external_id: str | None = None,
        max_attempts: int | None = None,
        retry_budget: float | None = None,
        voila_conn_id: str = "voila_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.program_id = program_id
        self.first_name = first_name
        self.last_name = last_name
        self.attendee_email = attendee_email
        self.personal_data_sharing_accepted = personal_data_sharing_accepted
        self.external_id = external_id
        self.max_attempts = max_attempts
        self.retry_budget = retry_budget
        self.voila_conn_id = voila_conn_id

    @cached_property
    def hook(self) -> VoilaHook:
        from airflow_provider_voila.hooks.voila import VoilaHook

        return VoilaHook(self.voila_conn_id, max_attempts=self.max_attempts, retry_budget=self.retry_budget)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_voila.validation import check_path_id, validate_attendee

        program_id = check_path_id("program_id", self.program_id)
        attendee = validate_attendee(
            {
                "firstName": self.first_name,
                "lastName": self.last_name,
                "email": self.attendee_email,
                "isPersonalDataSharingAccepted": self.personal_data_sharing_accepted,
                "externalId": _optional_rendered(self.external_id),
            },
            labels=ARGUMENT_NAMES,
        )
        created = self.hook.register_attendee(program_id, attendee)
        self.log.info(
            "Registered attendee %s (external id %s) in program %s",
            created.get("id"),
            created.get("externalId"),
            program_id,
        )
        return created


def _optional_rendered(value: object) -> object:
    """Return ``None`` for an optional field whose template rendered a null param as ``"None"``.

    Without ``render_template_as_native_obj=True``, ``{{ params.x }}`` renders ``None`` as the
    string ``"None"``, which must not be sent as an id.
    """
    if isinstance(value, str) and value.strip() in ("", "None"):
        return None
    return value


# Defined in its own module so that this one stays small; imported here under its public path.
from airflow_provider_voila.operators._register_attendees import (  # noqa: E402
    VoilaRegisterAttendeesOperator as VoilaRegisterAttendeesOperator,
)
