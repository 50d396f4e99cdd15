"""Argument checks of the export operator, imported only when a task runs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_voila.exceptions import VoilaError, VoilaValidationError
from airflow_provider_voila.routes import DATASETS
from airflow_provider_voila.storage import (
    EmptyDatasetError,
    RawRecord,
    WrittenFile,
    check_file_format,
    write_records,
)
from airflow_provider_voila.validation import check_path_id

if TYPE_CHECKING:
    from airflow_provider_voila.hooks.voila import VoilaHook


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
    if text.startswith("file:") and not text.startswith(("file:///", "file://localhost/")):
        raise VoilaValidationError(
            "destination",
            f"destination {destination!r} is not an absolute file URI, so it would resolve against the "
            "worker's current folder. Write it as file:///absolute/path.",
        )
    text = text.replace("file://localhost/", "file:///", 1)
    try:
        return ObjectStoragePath(text)
    except (ValueError, TypeError) as err:
        raise VoilaValidationError(
            "destination", f"destination {destination!r} is not a usable storage URI: {err}."
        ) from None


class _Counted:
    """Iterable wrapper that counts the items passing through."""

    def __init__(self, items: Iterable[RawRecord]) -> None:
        self._items = items
        self.count = 0

    def __iter__(self) -> Iterator[RawRecord]:
        for item in self._items:
            self.count += 1
            yield item


def export_to_file(
    hook: VoilaHook, arguments: ExportArguments, dataset: str, *, fail_on_empty: bool
) -> WrittenFile:
    """Stream one dataset into ``<destination>/<dataset>.<format>`` and return what was written.

    :raises VoilaError: the count of records written differs from the count received, or the
        dataset is empty and ``fail_on_empty`` is set (then nothing is written).
    """
    assert arguments.destination is not None
    target = arguments.destination / f"{dataset}.{arguments.file_format}"

    def write(records: Iterator[RawRecord]) -> WrittenFile:
        received = _Counted(records)
        written = write_records(received, target, arguments.file_format, allow_empty=not fail_on_empty)
        if written.records != received.count:
            raise VoilaError(
                f"{written.uri} contains {written.records} records but {received.count} were received for "
                f"{dataset} of session {arguments.session_id!r}. Rerun the task; if it repeats, report it."
            )
        return written

    try:
        return hook.consume_dataset(dataset, arguments.program_id, arguments.session_id, write, raw=True)
    except EmptyDatasetError:
        raise empty_dataset_error(dataset, arguments.session_id) from None


def export_to_xcom(
    hook: VoilaHook, arguments: ExportArguments, dataset: str, *, max_xcom_bytes: int
) -> list[dict[str, Any]]:
    """Return the records of one dataset, failing as soon as their JSON size exceeds ``max_xcom_bytes``."""

    def collect(records: Iterator[RawRecord]) -> list[dict[str, Any]]:
        collected: list[dict[str, Any]] = []
        size = 0
        for raw, record in records:
            size += len(raw)
            if size > max_xcom_bytes:
                raise VoilaError(
                    f"{dataset} of session {arguments.session_id!r} is larger than max_xcom_bytes "
                    f"({max_xcom_bytes} bytes) after {len(collected)} records, too large for XCom, which "
                    "lives in the metadata database. Set destination to write the records to storage, "
                    "or raise max_xcom_bytes if your metadata database can hold them."
                )
            collected.append(record)
        return collected

    return hook.consume_dataset(dataset, arguments.program_id, arguments.session_id, collect, raw=True)


def empty_dataset_error(dataset: str, session_id: str) -> VoilaError:
    return VoilaError(
        f"Dataset {dataset} of session {session_id!r} has no records and fail_on_empty is set, so "
        "nothing was written. Check the session id, or unset fail_on_empty if an empty session is expected."
    )
