"""Writing datasets to object storage as JSON Lines, JSON or CSV, atomically and in bounded memory."""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_voila.exceptions import VoilaError, VoilaValidationError

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

FILE_FORMATS = ("jsonl", "json", "csv")
# Marks a file being written. A killed task can leave one behind; the next write removes it.
TEMP_MARKER = ".voila-tmp-"
PROGRESS_EVERY = 100_000
CSV_FLUSH_CHARS = 1 << 20


@dataclass(frozen=True)
class WrittenFile:
    """Summary of one written dataset, small enough for XCom."""

    uri: str
    records: int
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "records": self.records, "bytes": self.bytes}


def check_file_format(file_format: object) -> str:
    if file_format not in FILE_FORMATS:
        raise VoilaValidationError(
            "file_format",
            f"file_format {file_format!r} is not supported. Use one of: {', '.join(FILE_FORMATS)}.",
        )
    return str(file_format)


def to_json(record: Any) -> str:
    """Serialize one record as compact UTF-8 JSON text, keeping every field and type."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def write_records(
    records: Iterable[dict[str, Any]], target: ObjectStoragePath, file_format: str
) -> WrittenFile:
    """Write ``records`` to ``target`` so that the file appears there only once it is complete.

    The data goes to a temporary name in the same folder and is renamed into place at the end. On
    any failure the temporary file is removed and a previous file at ``target`` stays untouched.
    """
    check_file_format(file_format)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    temp = target.parent / f".{target.name}{TEMP_MARKER}{uuid.uuid4().hex}"
    try:
        with temp.open("wb") as raw:
            counter = _CountingWriter(raw)
            records_written = _WRITERS[file_format](records, counter, target)
        temp.rename(target)
    except BaseException:
        _remove_quietly(temp)
        raise
    return WrittenFile(uri=str(target), records=records_written, bytes=counter.bytes)


def remove_leftovers(target: ObjectStoragePath) -> None:
    """Delete temporary files that an interrupted write of ``target`` left in its folder."""
    for leftover in target.parent.glob(f".{target.name}{TEMP_MARKER}*"):
        log.warning("Removing %s, left by an interrupted write", leftover)
        _remove_quietly(leftover)


class _CountingWriter:
    """Binary file wrapper that counts the bytes written."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self._raw.write(data)
        self.bytes += len(data)
        return len(data)


def _write_jsonl(records: Iterable[dict[str, Any]], out: _CountingWriter, target: ObjectStoragePath) -> int:
    count = 0
    for record in _with_progress(records, target):
        out.write(to_json(record).encode() + b"\n")
        count += 1
    return count


def _write_json(records: Iterable[dict[str, Any]], out: _CountingWriter, target: ObjectStoragePath) -> int:
    count = 0
    out.write(b"[")
    for record in _with_progress(records, target):
        out.write((b",\n" if count else b"\n") + to_json(record).encode())
        count += 1
    out.write(b"\n]\n" if count else b"]\n")
    return count


def _write_csv(records: Iterable[dict[str, Any]], out: _CountingWriter, target: ObjectStoragePath) -> int:
    """Write CSV with one column per field seen in any record, in order of first appearance.

    The header is only known after the last record, so the records are spooled to a local
    temporary file as JSON Lines first and the CSV is written in a second pass.
    """
    columns: dict[str, None] = {}
    count = 0
    with tempfile.TemporaryFile("w+b") as spool:
        for record in _with_progress(records, target):
            columns.update(dict.fromkeys(record))
            spool.write(to_json(record).encode() + b"\n")
            count += 1
        spool.seek(0)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        if columns:
            writer.writerow(columns)
        for line in spool:
            record = json.loads(line)
            writer.writerow([_csv_cell(record.get(column)) for column in columns])
            if buffer.tell() >= CSV_FLUSH_CHARS:
                _flush_text(buffer, out)
        _flush_text(buffer, out)
    return count


def _csv_cell(value: Any) -> str:
    """Format one CSV cell: text as is, nested values and booleans as JSON, a missing field empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return to_json(value)


def _flush_text(buffer: io.StringIO, out: _CountingWriter) -> None:
    out.write(buffer.getvalue().encode())
    buffer.seek(0)
    buffer.truncate()


def _with_progress(records: Iterable[dict[str, Any]], target: ObjectStoragePath) -> Iterator[dict[str, Any]]:
    for count, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise VoilaError(f"Record {count} for {target} is a {type(record).__name__}, not a JSON object.")
        yield record
        if count % PROGRESS_EVERY == 0:
            log.info("%s: %d records written so far", target.name, count)


def _remove_quietly(path: ObjectStoragePath) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as err:
        log.warning("Could not remove temporary file %s: %s", path, err)


_WRITERS = {"jsonl": _write_jsonl, "json": _write_json, "csv": _write_csv}
