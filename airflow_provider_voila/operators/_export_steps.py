"""Argument checks of the export operator, imported only when a task runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_voila.exceptions import VoilaValidationError
from airflow_provider_voila.routes import DATASETS
from airflow_provider_voila.storage import check_file_format
from airflow_provider_voila.validation import check_path_id


@dataclass(frozen=True)
class ExportArguments:
    program_id: str
    session_id: str
    datasets: tuple[str, ...]
    destination: ObjectStoragePath | None
    file_format: str


def check_export_arguments(
    *,
    program_id: object,
    session_id: object,
    datasets: object,
    destination: object,
    file_format: object,
) -> ExportArguments:
    """Return the rendered operator arguments in checked form, or raise naming the invalid one."""
    return ExportArguments(
        program_id=check_path_id("program_id", program_id),
        session_id=check_path_id("session_id", session_id),
        datasets=check_datasets(datasets),
        destination=check_destination(destination),
        file_format=check_file_format(file_format),
    )


def check_datasets(datasets: object) -> tuple[str, ...]:
    names: Sequence[Any]
    if isinstance(datasets, str):
        names = [part.strip() for part in datasets.split(",") if part.strip()]
    elif isinstance(datasets, (list, tuple)):
        names = datasets
    else:
        raise VoilaValidationError(
            "datasets", f"datasets must be a list of dataset names, got {type(datasets).__name__}."
        )
    if not names:
        raise VoilaValidationError("datasets", f"datasets is empty. Choose from: {', '.join(DATASETS)}.")
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        raise VoilaValidationError(
            "datasets", f"Unknown datasets {unknown!r}. Choose from: {', '.join(DATASETS)}."
        )
    return tuple(dict.fromkeys(names))


def check_destination(destination: object) -> ObjectStoragePath | None:
    if destination is None or destination == "":
        return None
    if isinstance(destination, ObjectStoragePath):
        return destination
    if not isinstance(destination, str):
        raise VoilaValidationError(
            "destination",
            f"destination must be a URI string or an ObjectStoragePath, got {type(destination).__name__}.",
        )
    text = destination.strip()
    if "://" not in text and not text.startswith("/"):
        raise VoilaValidationError(
            "destination",
            f"destination {destination!r} is not an absolute path or a URI. Use for example "
            "file:///data/voila or s3://aws_conn@bucket/voila.",
        )
    try:
        return ObjectStoragePath(text)
    except (ValueError, TypeError) as err:
        raise VoilaValidationError(
            "destination", f"destination {destination!r} is not a usable storage URI: {err}."
        ) from None
