"""Checks on ids and attendee fields, run before any request is sent."""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_voila.exceptions import VoilaValidationError

# A plausible address: one @, no spaces, a dot in the domain. Delivery is the server's business.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
MAX_NAME_LENGTH = 255
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
MAX_EXTERNAL_ID_LENGTH = 255
MAX_ID_LENGTH = 255
# Characters that would change the request path or query if an id contained them.
FORBIDDEN_ID_CHARACTERS = "/?#%\\"

# API field name -> the maximum length of its text.
REQUIRED_TEXT_FIELDS = {"firstName": MAX_NAME_LENGTH, "lastName": MAX_NAME_LENGTH, "email": MAX_EMAIL_LENGTH}
CONSENT_FIELD = "isPersonalDataSharingAccepted"


def check_path_id(name: str, value: object) -> str:
    """Return ``value`` as an id that is safe to put in a URL path, or raise naming ``name``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise VoilaValidationError(
            name, f"{name} must be a string id, got {type(value).__name__} {value!r}. Pass the id as text."
        )
    stripped = value.strip()
    if not stripped:
        raise VoilaValidationError(name, f"{name} is empty. Copy the id from Voilà Backstage.")
    if stripped in (".", ".."):
        raise VoilaValidationError(
            name, f"{name} {value!r} is a path segment, not an id. Copy the id from Voilà Backstage."
        )
    bad = [char for char in FORBIDDEN_ID_CHARACTERS if char in stripped]
    bad += [" "] * any(c.isspace() or not c.isprintable() for c in stripped)
    if bad:
        shown = ", ".join(repr(char) for char in dict.fromkeys(bad))
        raise VoilaValidationError(
            name,
            f"{name} {value!r} contains {shown}, which an id cannot contain. "
            "Copy the id from Voilà Backstage.",
        )
    if len(stripped) > MAX_ID_LENGTH:
        raise VoilaValidationError(
            name, f"{name} is {len(stripped)} characters long; an id has at most {MAX_ID_LENGTH}."
        )
    return stripped


def validate_attendee(attendee: object, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the registration body for ``attendee`` (API field names), or raise on the first invalid field.

    :param labels: the caller's name for each API field, used in error messages; for example
        ``{"firstName": "first_name"}`` for an operator argument.

    Unknown keys are kept, so that fields the API adds later can be sent. The consent must be a
    real boolean: the strings ``"true"`` or ``"false"`` are rejected, because a template that
    renders ``"False"`` would otherwise read as consent.
    """
    if not isinstance(attendee, dict):
        raise VoilaValidationError(
            "attendee", f"An attendee must be a dict of API fields, got {type(attendee).__name__}."
        )
    labels = labels or {}
    body = dict(attendee)
    for field, max_length in REQUIRED_TEXT_FIELDS.items():
        body[field] = _required_text(labels.get(field, field), body.get(field), max_length)
    if not EMAIL_PATTERN.match(body["email"]):
        label = labels.get("email", "email")
        raise VoilaValidationError(
            label,
            f"{label} {body['email']!r} is not a valid email address. Expected the form name@example.com.",
        )
    consent = body.get(CONSENT_FIELD)
    if not isinstance(consent, bool):
        label = labels.get(CONSENT_FIELD, CONSENT_FIELD)
        raise VoilaValidationError(
            label,
            f"{label} must be a boolean (True or False), got {type(consent).__name__} {consent!r}. "
            "In a templated field, set render_template_as_native_obj=True on the DAG so it stays a boolean.",
        )
    external_id = body.get("externalId")
    if external_id is None or external_id == "":
        body.pop("externalId", None)
    else:
        label = labels.get("externalId", "externalId")
        body["externalId"] = _required_text(label, external_id, MAX_EXTERNAL_ID_LENGTH)
    return body


def _required_text(field: str, value: object, max_length: int) -> str:
    if value is None:
        raise VoilaValidationError(field, f"{field} is missing. Every attendee needs {field}.")
    if not isinstance(value, str):
        raise VoilaValidationError(field, f"{field} must be a string, got {type(value).__name__} {value!r}.")
    text = value.strip()
    if not text:
        raise VoilaValidationError(field, f"{field} is empty. Every attendee needs {field}.")
    if len(text) > max_length:
        raise VoilaValidationError(
            field, f"{field} is {len(text)} characters long; the maximum is {max_length}."
        )
    return text
