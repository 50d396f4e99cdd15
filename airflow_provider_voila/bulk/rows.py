"""Reading attendee rows from a list, a CSV file or a JSON Lines file, and checking each row."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_voila.exceptions import VoilaConfigError, VoilaValidationError
from airflow_provider_voila.validation import CONSENT_FIELD, validate_attendee

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

API_FIELDS = ("firstName", "lastName", "email", CONSENT_FIELD, "externalId")
SOURCE_FORMATS = ("csv", "jsonl")

# Normalized column name (lower case, letters and digits only) -> API field.
DEFAULT_COLUMN_ALIASES: dict[str, str] = {
    **dict.fromkeys(("firstname", "first", "fname", "givenname", "forename", "prenom"), "firstName"),
    **dict.fromkeys(("lastname", "last", "lname", "surname", "familyname", "nom"), "lastName"),
    **dict.fromkeys(("email", "emailaddress", "mail", "emailid"), "email"),
    **dict.fromkeys(
        (
            "ispersonaldatasharingaccepted",
            "personaldatasharingaccepted",
            "personaldatasharing",
            "datasharingaccepted",
            "consent",
            "gdprconsent",
            "gdpr",
        ),
        CONSENT_FIELD,
    ),
    **dict.fromkeys(("externalid", "externalref", "externalreference", "crmid", "extid"), "externalId"),
}
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})


@dataclass(frozen=True)
class InputRow:
    """One input row after mapping and validation.

    :param number: position of the row in the input, 1 for the first attendee (a CSV header is
        not counted).
    :param body: the registration body, or ``None`` when the row was rejected.
    :param key: identity used for duplicates and the ledger: a hash of the program id and the
        external id, or of the email in lower case when there is no external id.
    """

    number: int
    external_id: str | None
    body: dict[str, Any] | None
    error: str | None
    key: str | None


def normalize_column(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def build_column_map(field_map: Mapping[str, str] | None) -> dict[str, str]:
    """Return normalized column name -> API field: the defaults, overridden by ``field_map``.

    :param field_map: input column -> API field, for example ``{"Vorname": "firstName"}``.
    """
    columns = dict(DEFAULT_COLUMN_ALIASES)
    for column, field in (field_map or {}).items():
        if field not in API_FIELDS:
            raise VoilaConfigError(
                f"field_map maps column {column!r} to {field!r}, which is not an attendee field. "
                f"Map each column to one of: {', '.join(API_FIELDS)}."
            )
        columns[normalize_column(column)] = field
    return columns


def map_record(record: Mapping[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    """Return the API fields of one input record; unmapped columns are left out."""
    body: dict[str, Any] = {}
    for name, value in record.items():
        if not isinstance(name, str):
            continue
        field = columns.get(normalize_column(name))
        if field is not None and field not in body:
            body[field] = value.strip() if isinstance(value, str) else value
    return body


def parse_consent(value: object) -> bool:
    """Return the consent as a boolean from a boolean, 1 or 0, or a true/false/yes/no word in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    if value is None or value == "":
        raise VoilaValidationError(CONSENT_FIELD, f"{CONSENT_FIELD} is missing. Every attendee needs it.")
    raise VoilaValidationError(
        CONSENT_FIELD,
        f"{CONSENT_FIELD} {value!r} is not a consent value. Use true/false, yes/no or 1/0.",
    )


def identity_key(program_id: str, body: Mapping[str, Any]) -> str:
    external_id = body.get("externalId")
    identity = f"external:{external_id}" if external_id else f"email:{str(body['email']).lower()}"
    return hashlib.sha256(f"{program_id}\n{identity}".encode()).hexdigest()[:32]


def check_rows(
    program_id: str, records: Iterable[Mapping[str, Any]], columns: Mapping[str, str]
) -> Iterator[InputRow]:
    """Map and validate each record; yield one :class:`InputRow` per record, in input order."""
    for number, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            error = f"Row {number} is a {type(record).__name__}, not an object with attendee fields."
            yield InputRow(number, None, None, error, None)
            continue
        mapped = map_record(record, columns)
        external_id = mapped.get("externalId")
        external_text = str(external_id).strip() if external_id not in (None, "") else None
        if external_text is not None:
            mapped["externalId"] = external_text
        try:
            mapped[CONSENT_FIELD] = parse_consent(mapped.get(CONSENT_FIELD))
            body = validate_attendee(mapped)
        except VoilaValidationError as err:
            yield InputRow(number, external_text, None, str(err), None)
            continue
        yield InputRow(number, external_text, body, None, identity_key(program_id, body))


def read_records(
    source: ObjectStoragePath, source_format: str | None, delimiter: str | None
) -> list[dict[str, Any]]:
    """Read every record of a CSV or JSON Lines file; the format comes from the suffix when not given."""
    file_format = source_format or _format_from_suffix(source)
    if file_format not in SOURCE_FORMATS:
        raise VoilaConfigError(
            f"source_format {file_format!r} is not supported for {source}. Use one of: "
            f"{', '.join(SOURCE_FORMATS)}."
        )
    if not source.exists():
        raise VoilaConfigError(f"The source file {source} was not found. Check the path or URI in source.")
    with source.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        if file_format == "csv":
            return _read_csv(text, delimiter, source)
        return _read_jsonl(text, source)


def _format_from_suffix(source: ObjectStoragePath) -> str:
    suffix = source.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise VoilaConfigError(
        f"Cannot tell the format of {source} from its suffix {suffix!r}. "
        "Name it .csv or .jsonl, or set source_format."
    )


def _read_csv(
    text: io.TextIOWrapper, delimiter: str | None, source: ObjectStoragePath
) -> list[dict[str, Any]]:
    content = text.read()
    first_line = content.split("\n", 1)[0]
    chosen = delimiter or (";" if first_line.count(";") > first_line.count(",") else ",")
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=chosen)
    if not reader.fieldnames:
        raise VoilaConfigError(
            f"The CSV file {source} has no header row. Its first line must name the columns."
        )
    records = []
    for record in reader:
        if not any((value or "").strip() for value in record.values() if isinstance(value, str)):
            continue  # blank line, often at the end of an export
        records.append(dict(record))
    return records


def _read_jsonl(text: io.TextIOWrapper, source: ObjectStoragePath) -> list[dict[str, Any]]:
    records: list[Any] = []
    for line_number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as err:
            raise VoilaConfigError(
                f"Line {line_number} of {source} is not valid JSON ({err}). "
                "Each line must be one JSON object."
            ) from None
    return records
