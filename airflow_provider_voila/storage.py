"""Writing datasets to object storage as JSON Lines, JSON or CSV, atomically and in bounded memory.

Writers take ``(raw_bytes, record)`` pairs: JSON Lines and JSON copy each record's bytes as the API
sent them, and CSV formats the decoded record. Memory stays bounded by one write buffer and one
record, whatever the number of records.
"""

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

import orjson

from airflow_provider_voila.exceptions import VoilaError, VoilaValidationError
from airflow_provider_voila.hooks._array_stream import decode_element

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

FILE_FORMATS = ("jsonl", "json", "csv")
# Marks a file being written. A killed task can leave one behind; the next write removes it.
TEMP_MARKER = ".voila-tmp-"
PROGRESS_EVERY = 100_000
WRITE_BUFFER_BYTES = 1 << 20

RawRecord = tuple[bytes, dict[str, Any]]


@dataclass(frozen=True)
class WrittenFile:
    """Summary of one written dataset, small enough for XCom."""

    uri: str
    records: int
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "records": self.records, "bytes": self.bytes}


class EmptyDatasetError(VoilaError):
    """A dataset had no records and the caller asked for that to fail; nothing was written."""


def check_file_format(file_format: object) -> str:
    if file_format not in FILE_FORMATS:
        raise VoilaValidationError(
            "file_format",
            f"file_format {file_format!r} is not supported. Use one of: {', '.join(FILE_FORMATS)}.",
        )
    return str(file_format)


def to_json_bytes(value: Any) -> bytes:
    """Serialize a value as compact UTF-8 JSON, keeping every field and type."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # orjson rejects integers beyond 64 bits, which the standard library writes exactly.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def pair_records(records: Iterable[dict[str, Any]]) -> Iterator[RawRecord]:
    """Return ``(raw_bytes, record)`` pairs for records that arrive without their original bytes."""
    for record in records:
        yield to_json_bytes(record), record


def write_records(
    records: Iterable[RawRecord],
    target: ObjectStoragePath,
    file_format: str,
    *,
    allow_empty: bool = True,
) -> WrittenFile:
    """Write ``(raw_bytes, record)`` pairs to ``target`` so that the file appears only once complete.

    The data goes to a temporary name in the same folder and is renamed into place at the end. On
    any failure the temporary file is removed and a previous file at ``target`` stays untouched.

    :param allow_empty: when false, a dataset without records raises :class:`EmptyDatasetError`
        before the rename, so that an earlier file at ``target`` is kept.
    """
    check_file_format(file_format)
    if target.is_dir():
        raise VoilaError(
            f"Cannot write {target}: a folder exists at that path. Move it or choose another destination."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    temp = target.parent / f".{target.name}{TEMP_MARKER}{uuid.uuid4().hex}"
    try:
        with temp.open("wb") as raw:
            out = _BufferedCounter(raw)
            records_written = _WRITERS[file_format](_with_progress(records, target), out)
            out.flush()
        if not records_written and not allow_empty:
            raise EmptyDatasetError(f"{target.name} has no records")
        temp.rename(target)
    except BaseException:
        _remove_quietly(temp)
        raise
    return WrittenFile(uri=str(target), records=records_written, bytes=out.bytes)


def remove_leftovers(target: ObjectStoragePath) -> None:
    """Delete temporary files that an interrupted write of ``target`` left in its folder.

    NOTE: this cannot tell a leftover from the temporary file of another writer of the same target
    that is still running, such as an overlapping retry or a mapped task sharing the destination.
    That writer then fails with FileNotFoundError.
    """
    for leftover in target.parent.glob(f".{target.name}{TEMP_MARKER}*"):
        log.warning("Removing %s, left by an interrupted write", leftover)
        _remove_quietly(leftover)


class _BufferedCounter:
    """Binary writer that batches small writes into large ones and counts the bytes."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._parts: list[bytes] = []
        self._pending = 0
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self._parts.append(data)
        self._pending += len(data)
        self.bytes += len(data)
        if self._pending >= WRITE_BUFFER_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self._raw.write(b"".join(self._parts))
            self._parts.clear()
            self._pending = 0


def _one_line(raw: bytes) -> bytes:
    # JSON strings cannot contain raw line breaks, so any line break in raw is whitespace between
    # tokens and may become a space.
    if b"\n" in raw or b"\r" in raw:
        return raw.replace(b"\r", b" ").replace(b"\n", b" ")
    return raw


def _write_jsonl(records: Iterable[RawRecord], out: _BufferedCounter) -> int:
    count = 0
    batch: list[bytes] = []
    pending = 0
    for raw, _record in records:
        batch.append(raw)
        pending += len(raw)
        count += 1
        if pending >= WRITE_BUFFER_BYTES:
            out.write(_jsonl_block(batch))
            batch.clear()
            pending = 0
    if batch:
        out.write(_jsonl_block(batch))
    return count


def _jsonl_block(batch: list[bytes]) -> bytes:
    """Join records into JSON Lines, checking line breaks once per block rather than per record."""
    block = b"\n".join(batch) + b"\n"
    if block.count(b"\n") == len(batch) and b"\r" not in block:
        return block
    return b"".join(_one_line(raw) + b"\n" for raw in batch)


def _write_json(records: Iterable[RawRecord], out: _BufferedCounter) -> int:
    count = 0
    out.write(b"[")
    for raw, _record in records:
        out.write((b",\n" if count else b"\n") + raw)
        count += 1
    out.write(b"\n]\n" if count else b"]\n")
    return count


def _write_csv(records: Iterable[RawRecord], out: _BufferedCounter) -> int:
    """Write CSV with one column per field seen in any record, in order of first appearance.

    The header is only known after the last record, so the raw records are spooled to a local
    temporary file as JSON Lines first and the CSV is written in a second pass.
    """
    columns: dict[str, None] = {}
    count = 0
    with tempfile.TemporaryFile("w+b") as spool:
        for raw, record in records:
            columns.update(dict.fromkeys(record))
            spool.write(_one_line(raw) + b"\n")
            count += 1
        spool.seek(0)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        if columns:
            writer.writerow(columns)
        while lines := spool.readlines(WRITE_BUFFER_BYTES):
            for record in _decode_lines(lines):
                values = map(record.get, columns)
                writer.writerow([value if type(value) is str else _csv_cell(value) for value in values])
            _flush_text(buffer, out)
    return count


def _decode_lines(lines: list[bytes]) -> list[dict[str, Any]]:
    """Decode a block of JSON Lines with one call, keeping integers of any size exact."""
    block = b"[" + b",".join(lines) + b"]"
    return decode_element(block)


def _csv_cell(value: Any) -> str:
    """Format one CSV cell: text as is, nested values and booleans as JSON, null or missing empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return to_json_bytes(value).decode()


def _flush_text(buffer: io.StringIO, out: _BufferedCounter) -> None:
    out.write(buffer.getvalue().encode())
    buffer.seek(0)
    buffer.truncate()


def _with_progress(records: Iterable[RawRecord], target: ObjectStoragePath) -> Iterator[RawRecord]:
    count = 0
    for pair in records:
        yield pair
        count += 1
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
