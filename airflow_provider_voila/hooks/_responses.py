"""Reading Voilà API responses: JSON bodies, streamed JSON arrays and server error messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from requests.exceptions import ChunkedEncodingError, ConnectionError, ContentDecodingError, ReadTimeout
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from airflow_provider_voila.exceptions import VoilaApiError
from airflow_provider_voila.hooks._array_stream import ArrayFormatError, ArraySplitter

if TYPE_CHECKING:
    import requests

SNIPPET_BYTES = 200

# Network failures that can interrupt a body after its status line arrived.
STREAM_ERRORS = (ChunkedEncodingError, ContentDecodingError, ConnectionError, ReadTimeout, Urllib3HTTPError)


def snippet(data: bytes | str, limit: int = SNIPPET_BYTES) -> str:
    """Return the first bytes of a body as printable text for an error message."""
    if isinstance(data, bytes):
        data = data[:limit].decode("utf-8", errors="replace")
    text = data[:limit]
    return repr(text) if text else "an empty body"


def server_message(response: requests.Response) -> str:
    """Return the error message the server sent, from a JSON ``message`` or ``error`` key or the raw text."""
    body = response.content
    if b"access_token" in body:
        # Never quote a body that may carry a token: the message reaches logs and the UI.
        return "a body with an access_token, not quoted"
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return snippet(body)
    if isinstance(payload, dict):
        parts = [str(payload[key]) for key in ("error", "error_description", "message") if payload.get(key)]
        if parts:
            return ": ".join(parts)[:SNIPPET_BYTES]
    return snippet(body)


def decode_json_object(response: requests.Response, operation: str, where: str) -> dict[str, Any]:
    """Decode a body that must be one JSON object, failing with the body's first bytes otherwise."""
    body = response.content
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        raise VoilaApiError(
            f"{where} returned HTTP {response.status_code} with a body that is not a JSON object: "
            f"{snippet(body)}. Check that the URL points at the Voilà API.",
            operation=operation,
            status=response.status_code,
            retryable=True,
        )
    return payload


class _PeekingReader:
    """File-like wrapper that keeps the first bytes read, to quote them when parsing fails."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.head = b""
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        if len(self.head) < SNIPPET_BYTES:
            self.head += chunk[: SNIPPET_BYTES - len(self.head)]
        self.bytes_read += len(chunk)
        return chunk


def iter_json_array(response: requests.Response, operation: str, where: str) -> Iterator[dict[str, Any]]:
    """Yield the objects of a JSON array body one by one, without holding the whole body.

    See :func:`iter_json_array_raw` for the errors.
    """
    for _raw, record in iter_json_array_raw(response, operation, where):
        yield record


def iter_json_array_raw(
    response: requests.Response, operation: str, where: str
) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Yield ``(raw_bytes, record)`` for each object of a JSON array body while it streams in.

    ``raw_bytes`` are the element exactly as the server sent it. In ``record``, numbers keep their
    JSON type: integers stay ``int`` (of any size) and decimals become ``float``.

    :raises VoilaApiError: the body is not a JSON array of objects (not retryable), or the
        connection broke or the body ended early (retryable).
    """
    response.raw.decode_content = True
    reader = _PeekingReader(response.raw)
    splitter = ArraySplitter(reader.read)
    try:
        yield from splitter
    except ArrayFormatError as err:
        if not reader.head.lstrip().startswith(b"["):
            raise _not_json_array(response, operation, where, reader.head) from None
        if err.ended_early:
            raise VoilaApiError(
                f"{where} sent a body that ended early, after {splitter.records} records "
                f"({reader.bytes_read} bytes).",
                operation=operation,
                status=response.status_code,
                retryable=True,
                reason=f"body ended early after {splitter.records} records",
            ) from None
        raise VoilaApiError(
            f"{where} returned an invalid array: {err}. Check that the base URL points at the Voilà API.",
            operation=operation,
            status=response.status_code,
        ) from None
    except STREAM_ERRORS as err:
        raise VoilaApiError(
            f"{where}: the connection broke after {splitter.records} records ({reader.bytes_read} bytes): "
            f"{type(err).__name__}.",
            operation=operation,
            status=response.status_code,
            retryable=True,
            reason=f"connection broke after {splitter.records} records",
        ) from None


def _not_json_array(response: requests.Response, operation: str, where: str, head: bytes) -> VoilaApiError:
    return VoilaApiError(
        f"{where} returned HTTP {response.status_code} with a body that is not a JSON array: "
        f"{snippet(head)}. Check that the base URL points at the Voilà API.",
        operation=operation,
        status=response.status_code,
        retryable=bool(head.lstrip()[:1] in (b"", b"<")),
    )
