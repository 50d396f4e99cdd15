"""The byte-level array splitter: exact bytes and values, tricky JSON, errors."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from airflow_provider_voila.hooks import _array_stream
from airflow_provider_voila.hooks._array_stream import ArrayFormatError, ArraySplitter

TRICKY_RECORDS: list[dict[str, Any]] = [
    {"text": "a string with },{ inside", "n": 1},
    {"text": 'escaped quote \\" then },{"x": 1}', "nested": [{"a": 1}, {"b": [2, {"c": "}, {"}]}]},
    {"big": 123456789012345678901234567890, "negative_zero": -0.0, "decimal": 1.1},
    {"emoji": "🎉 Zoë 日本語", "null": None, "bool": False, "empty": {}, "list": []},
]


def split(body: bytes, chunk: int = 7) -> list[tuple[bytes, dict[str, Any]]]:
    stream = io.BytesIO(body)
    return list(ArraySplitter(lambda _size: stream.read(chunk)))


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 20])
def test_tricky_records_split_exactly(chunk: int) -> None:
    elements = [json.dumps(record, ensure_ascii=False).encode() for record in TRICKY_RECORDS]
    body = b"[" + b",".join(elements) + b"]"
    pairs = split(body, chunk)
    assert [raw for raw, _ in pairs] == elements
    assert [record for _, record in pairs] == TRICKY_RECORDS


def test_pretty_printed_body() -> None:
    body = json.dumps(TRICKY_RECORDS, indent=2, ensure_ascii=False).encode()
    pairs = split(body, 5)
    assert [record for _, record in pairs] == TRICKY_RECORDS


def test_negative_19_digit_integer_exact() -> None:
    ((_raw, record),) = split(b'[{"id": -9999999999999999999}]')
    assert record["id"] == -9999999999999999999
    assert isinstance(record["id"], int)


def test_numbers_keep_text_and_type() -> None:
    pairs = split(b'[{"a": 1.10, "b": 1e400, "c": 18446744073709551616, "d": 3}]')
    ((raw, record),) = pairs
    assert raw == b'{"a": 1.10, "b": 1e400, "c": 18446744073709551616, "d": 3}'
    assert record["c"] == 18446744073709551616
    assert isinstance(record["c"], int)
    assert isinstance(record["d"], int)
    assert isinstance(record["a"], float)


def test_byte_order_mark_ignored() -> None:
    pairs = split(b'\xef\xbb\xbf [{"a": 1}]', chunk=1)
    assert pairs == [(b'{"a": 1}', {"a": 1})]


@pytest.mark.parametrize("body", [b"[]", b"  [ ]  ", b"\n[\n]\n"])
def test_empty_arrays(body: bytes) -> None:
    assert split(body) == []


@pytest.mark.parametrize(
    ("body", "message", "ended_early"),
    [
        (b"", "the body is empty or only whitespace", False),
        (b'{"a": 1}', "the body does not start with '['", False),
        (b"<html>", "the body does not start with '['", False),
        (b'[{"a": 1}, {"b": 2}', "the body ended before the closing ']'", True),
        (b'[{"a": 1}, {"b": ', "the body ended before the closing ']'", True),
        (b"[1, 2]", "item 0 of the array is not a JSON object", False),
        (b'[{"a": 1}, {"a": NaN}]', "item 1 of the array is not valid JSON", False),
        (b'[{"a": 1},]', "item 0 of the array is not valid JSON", False),
        (b'[{"a": "\xff"}]', "item 0 of the array is not valid JSON", False),
    ],
)
def test_invalid_bodies(body: bytes, message: str, ended_early: bool) -> None:
    with pytest.raises(ArrayFormatError) as caught:
        split(body)
    assert str(caught.value) == message
    assert caught.value.ended_early is ended_early


def test_memory_bounded_by_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_array_stream, "READ_BYTES", 4096)
    record = {"text": "x" * 100}
    count = 20_000
    body = json.dumps([record] * count).encode()
    stream = io.BytesIO(body)
    largest_read = 0

    def read(size: int) -> bytes:
        nonlocal largest_read
        largest_read = max(largest_read, size)
        return stream.read(size)

    seen = 0
    for _raw, parsed in ArraySplitter(read):
        assert parsed == record
        seen += 1
    assert seen == count
    assert largest_read == 4096
