"""Split a streamed JSON array of objects into its elements, keeping each element's original bytes.

The splitter looks for the separators ``}`` ``,`` ``{`` (with optional whitespace) between
elements, and checks each candidate element by decoding it with orjson. A separator found inside
a string or inside a nested value leaves the candidate with an unterminated string or unbalanced
brackets, so the decode fails and the candidate is extended to the next separator. A candidate
that decodes is therefore exactly one top-level element. This costs one C-level decode per record
and no Python work per byte, which is what makes it faster than an event-based parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson

READ_BYTES = 1 << 20
SEPARATOR = re.compile(rb"\}\s*,\s*\{")
WHITESPACE = b" \t\r\n"
UTF8_BOM = b"\xef\xbb\xbf"
# orjson decodes integers outside its 64-bit range as floats: above 2**64 - 1 (20 digits) and below
# -2**63 (19 digits). A record with a number token of 19 or more digits is decoded again exactly.
# A digit run inside a string can match too; that only costs time.
LONG_NUMBER = re.compile(rb"[:\[,]\s*-?\d{19}")


class ArrayFormatError(ValueError):
    """The body is not a JSON array of objects.

    :param ended_early: the body stopped before the closing bracket, as a broken download does.
    """

    def __init__(self, message: str, *, ended_early: bool = False) -> None:
        super().__init__(message)
        self.ended_early = ended_early


def decode_element(raw: bytes, *, check_long_numbers: bool = True) -> Any:
    """Decode one element exactly: orjson first, the standard library for what orjson would change.

    :param check_long_numbers: pass ``False`` when the caller already knows that ``raw`` has no
        number of 19 or more digits.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson rejects numbers beyond the double range, which the standard library accepts.
        return _standard_loads(raw)
    if check_long_numbers and LONG_NUMBER.search(raw):
        return _standard_loads(raw)
    return value


def _standard_loads(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class ArraySplitter:
    """Iterate over ``(raw_bytes, record)`` for each object of a JSON array read from ``read``.

    :param read: a function like ``file.read(size)`` that returns ``b""`` at the end of the body.
    """

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self.bytes_read = 0
        self.records = 0

    def __iter__(self) -> Iterator[tuple[bytes, dict[str, Any]]]:
        buffer = self._read_until_array_start()
        start = 0  # offset in buffer of the element being assembled
        try_decode = self._try_decode
        while True:
            # One search per buffer shows whether any record in it needs the exact decoder.
            long_numbers = LONG_NUMBER.search(buffer, start) is not None
            # NOTE: each false separator inside one record costs a decode of the record so far, so a
            # single record with thousands of "},{" inside strings takes time quadratic in its size.
            for match in SEPARATOR.finditer(buffer, start):
                if match.start() < start:
                    continue  # inside an element already yielded
                candidate = buffer[start : match.start() + 1]
                record = try_decode(candidate, long_numbers)
                if record is not None:
                    self.records += 1
                    yield candidate, record
                    start = match.end() - 1
            chunk = self._read(READ_BYTES)
            if not chunk:
                break
            self.bytes_read += len(chunk)
            buffer = buffer[start:] + chunk
            start = 0
        yield from self._last_element(buffer[start:])

    def _read_until_array_start(self) -> bytes:
        buffer = b""
        while True:
            chunk = self._read(READ_BYTES)
            if not chunk:
                raise ArrayFormatError("the body is empty or only whitespace")
            self.bytes_read += len(chunk)
            buffer += chunk
            if len(buffer) < len(UTF8_BOM) and UTF8_BOM.startswith(buffer):
                continue
            # RFC 8259 forbids a byte order mark but lets parsers ignore one, as this one does.
            stripped = buffer.removeprefix(UTF8_BOM).lstrip(WHITESPACE)
            if stripped:
                if stripped[:1] != b"[":
                    raise ArrayFormatError("the body does not start with '['")
                return stripped[1:].lstrip(WHITESPACE)

    def _last_element(self, tail: bytes) -> Iterator[tuple[bytes, dict[str, Any]]]:
        tail = tail.rstrip(WHITESPACE)
        if not tail.endswith(b"]"):
            raise ArrayFormatError("the body ended before the closing ']'", ended_early=True)
        candidate = tail[:-1].rstrip(WHITESPACE)
        if not candidate:
            return
        record = self._try_decode(candidate)
        if record is None:
            if not candidate.startswith(b"{"):
                raise ArrayFormatError(f"item {self.records} of the array is not a JSON object")
            raise ArrayFormatError(f"item {self.records} of the array is not valid JSON")
        self.records += 1
        yield candidate, record

    @staticmethod
    def _try_decode(candidate: bytes, check_long_numbers: bool = True) -> dict[str, Any] | None:
        try:
            value = decode_element(candidate, check_long_numbers=check_long_numbers)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None
