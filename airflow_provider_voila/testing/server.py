"""A real HTTP server on 127.0.0.1 that behaves like the Voilà API, for tests and the demo."""

from __future__ import annotations

import base64
import functools
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_voila.routes import DATASET_ROUTES, DEFAULT_SCOPE
from airflow_provider_voila.testing.data import EventData, ksuid, timestamp
from airflow_provider_voila.testing.faults import Fault, FaultPlan

TOKEN_PATH = "/oauth2/token"
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake server received it."""

    route: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    fault: Fault | None = None


class FakeVoilaServer:
    """
    Fake Voilà API and token endpoint on an ephemeral port of 127.0.0.1.

    It checks Basic credentials and scope, issues tokens that expire after ``token_lifetime``
    seconds, rejects unknown or expired tokens with 401, stores registrations and serves the
    seeded records of :class:`EventData`. Every request is counted by route in ``counts``.

    .. code-block:: python

        with FakeVoilaServer() as server:
            print(server.base_url, server.token_url, server.client_id, server.organization_id)

    :param latency: seconds added before each API response (not the token endpoint).
    :param base_path: path prefix of the API routes, for example ``/v1``.
    """

    def __init__(
        self,
        *,
        data: EventData | None = None,
        client_id: str = "fake-client-id",
        client_secret: str | None = None,
        organization_id: str = "org-demo",
        token_lifetime: float = 3600,
        latency: float = 0.0,
        base_path: str = "",
        port: int = 0,
    ) -> None:
        self.data = data or EventData()
        self.client_id = client_id
        self.client_secret = client_secret or "fake-secret-" + secrets.token_hex(8)
        self.organization_id = organization_id
        self.token_lifetime = token_lifetime
        self.latency = latency
        self.base_path = base_path.rstrip("/")
        self.faults = FaultPlan()
        self.counts: Counter[str] = Counter()
        self.registrations: list[dict[str, Any]] = []
        # The most recent requests, for tests that check headers and bodies.
        self.requests: deque[RecordedRequest] = deque(maxlen=1000)
        self._tokens: dict[str, float] = {}
        self._bodies: dict[tuple[str, str, str], bytes] = {}
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    # Addresses and lifecycle

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + self.base_path

    @property
    def token_url(self) -> str:
        return self.root_url + TOKEN_PATH

    def connection_extra(self) -> dict[str, Any]:
        return {"organization_id": self.organization_id, "token_url": self.token_url}

    def connection_json(self, **extra: Any) -> str:
        """Return the connection as the JSON form of ``AIRFLOW_CONN_<ID>``."""
        return json.dumps(
            {
                "conn_type": "voila",
                "login": self.client_id,
                "password": self.client_secret,
                "host": self.base_url,
                "extra": {**self.connection_extra(), **extra},
            }
        )

    def start(self) -> FakeVoilaServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-voila", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeVoilaServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Data and state

    def records(self, dataset: str, program_id: str, session_id: str) -> list[dict[str, Any]]:
        """Return the records served for one dataset of a session, decoded from the exact body sent."""
        return json.loads(self.body(dataset, program_id, session_id))

    def body(self, dataset: str, program_id: str, session_id: str) -> bytes:
        """Return the JSON body served for a dataset, built once and then reused."""
        key = (dataset, program_id, session_id)
        with self._lock:
            cached = self._bodies.get(key)
        if cached is None:
            cached = self.data.body(dataset, program_id, session_id)
            with self._lock:
                self._bodies[key] = cached
        return cached

    def issue_token(self) -> str:
        token = "fake-token-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime
        return token

    def issued_tokens(self) -> list[str]:
        """Return every access token this server has issued and not yet expired by ``expire_tokens``."""
        with self._lock:
            return list(self._tokens)

    def token_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    def expire_tokens(self) -> None:
        """Make every issued token invalid, as if they had all expired."""
        with self._lock:
            self._tokens.clear()

    def register(self, program_id: str, body: dict[str, Any]) -> dict[str, Any]:
        attendee = {
            "id": ksuid(_rng_for_ids),
            "externalId": body.get("externalId"),
            "organizationId": self.organization_id,
            "programId": program_id,
            "createdAt": timestamp(_utc_now()),
            "firstName": body["firstName"],
            "lastName": body["lastName"],
            "email": body["email"],
            "isPersonalDataSharingAccepted": body["isPersonalDataSharingAccepted"],
        }
        attendee["accessLink"] = f"{self.root_url}/live/{program_id}?access={attendee['id']}"
        with self._lock:
            self.registrations.append(attendee)
        return attendee

    def registration_counts(self) -> Counter[str]:
        """Return how many times each email was registered, to detect duplicates."""
        with self._lock:
            return Counter(item["email"] for item in self.registrations)


def _utc_now() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


class _SeededIds:
    """Thread-safe random source for attendee ids."""

    def __init__(self) -> None:
        import random

        self._rng = random.Random()
        self._lock = threading.Lock()

    def choice(self, seq: str) -> str:
        with self._lock:
            return self._rng.choice(seq)


_rng_for_ids: Any = _SeededIds()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeVoilaServer


_API_PATTERNS = [
    ("ping", "GET", re.compile(r"^/organizations/(?P<org>[^/]+)/ping$")),
    (
        "register_attendee",
        "POST",
        re.compile(r"^/organizations/(?P<org>[^/]+)/programs/(?P<program>[^/]+)/attendees$"),
    ),
] + [
    (
        dataset,
        "GET",
        re.compile(
            r"^/organizations/(?P<org>[^/]+)/programs/(?P<program>[^/]+)/sessions/(?P<session>[^/]+)/"
            + re.escape(route.path.rsplit("/", 1)[1])
            + "$"
        ),
    )
    for dataset, route in DATASET_ROUTES.items()
]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in separate writes. Without TCP_NODELAY, Nagle's algorithm
    # delays the body until the client acknowledges the headers, which a client with delayed
    # ACKs does after up to 40 ms on Linux: a stall per request on keep-alive connections.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet; counts are in FakeVoilaServer.counts

    @property
    def fake(self) -> FakeVoilaServer:
        return self.server.fake

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        # One handler serves every request of a keep-alive connection, so per-request flags reset here.
        self._truncate_after_headers = False
        self._omit_expires_in = False
        path = urlsplit(self.path).path
        body = self._read_body()
        if path == TOKEN_PATH and method == "POST":
            self._handle_with_faults("token", lambda: self._token(body))
            return
        if not path.startswith(self.fake.base_path + "/"):
            self._send_json(404, {"message": f"No route for {path}"})
            return
        api_path = path[len(self.fake.base_path) :]
        for name, route_method, pattern in _API_PATTERNS:
            match = pattern.match(api_path)
            if match and method == route_method:
                ids = match.groupdict()
                self._handle_with_faults(name, functools.partial(self._api, name, ids, body))
                return
        self._send_json(404, {"message": f"No route for {method} {path}"})

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(length) if length else b""
        return self._body

    # Fault handling

    def _handle_with_faults(self, route: str, handle: Any) -> None:
        self.fake.counts[route] += 1
        fault = self.fake.faults.next_fault(route)
        self.fake.requests.append(
            RecordedRequest(route, self.command, self.path, dict(self.headers.items()), self._body, fault)
        )
        if fault is None:
            handle()
            return
        self._apply_fault(fault, handle)

    def _apply_fault(self, fault: Fault, handle: Any) -> None:
        if fault.kind == "slow":
            time.sleep(fault.delay)
            handle()
        elif fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send_raw(fault.status, fault.body, "application/json", headers)
        elif fault.kind == "body":
            self._send_raw(fault.status, fault.body, "text/html; charset=utf-8")
        elif fault.kind == "drop_before":
            if fault.process:
                self.wfile = _NullWriter()  # type: ignore[assignment]
                handle()
            self._drop()
        elif fault.kind == "drop_mid_body":
            self._truncate_after_headers = True
            handle()
        elif fault.kind == "no_expires_in":
            self._omit_expires_in = True
            handle()
        else:
            raise ValueError(f"Unknown fault kind {fault.kind!r}")

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # Token endpoint

    def _token(self, body: bytes) -> None:
        fake = self.fake
        expected = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}":
            self._send_json(400, {"error": "invalid_client"})
            return
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            self._send_json(400, {"error": "unsupported_grant_type"})
            return
        if form.get("scope") != DEFAULT_SCOPE:
            self._send_json(400, {"error": "invalid_scope"})
            return
        answer: dict[str, Any] = {"access_token": fake.issue_token(), "token_type": "Bearer"}
        if not self._omit_expires_in:
            answer["expires_in"] = fake.token_lifetime
        self._send_json(200, answer)

    # API routes

    def _api(self, name: str, ids: dict[str, str], body: bytes) -> None:
        fake = self.fake
        if fake.latency:
            time.sleep(fake.latency)
        authorization = self.headers.get("Authorization", "")
        if not authorization.startswith("Bearer ") or not fake.token_valid(authorization[7:]):
            self._send_json(401, {"message": "Unauthorized"})
            return
        if ids["org"] != fake.organization_id:
            self._send_json(403, {"message": f"Forbidden for organization {ids['org']}"})
            return
        if name == "ping":
            self._send_json(200, {"organizationId": fake.organization_id})
        elif name == "register_attendee":
            self._register(ids["program"], body)
        else:
            self._dataset(name, ids["program"], ids["session"])

    def _register(self, program_id: str, body: bytes) -> None:
        if program_id not in self.fake.data.programs:
            self._send_json(404, {"message": f"Program {program_id} not found"})
            return
        try:
            payload = json.loads(body)
        except ValueError:
            self._send_json(400, {"message": "Body is not JSON"})
            return
        problems = _registration_problems(payload)
        if problems:
            self._send_json(422, {"message": "; ".join(problems)})
            return
        self._send_json(201, self.fake.register(program_id, payload))

    def _dataset(self, dataset: str, program_id: str, session_id: str) -> None:
        if not self.fake.data.has_session(program_id, session_id):
            self._send_json(404, {"message": f"Session {session_id} not found in program {program_id}"})
            return
        self._send_raw(200, self.fake.body(dataset, program_id, session_id), "application/json")

    # Writing answers

    def _send_json(self, code: int, payload: Any) -> None:
        self._send_raw(code, json.dumps(payload, ensure_ascii=False).encode(), "application/json")

    def _send_raw(
        self, code: int, content: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self._truncate_after_headers:
            self.wfile.write(content[: len(content) // 2])
            self.wfile.flush()
            self._drop()
            return
        view = memoryview(content)
        for start in range(0, len(content), CHUNK_BYTES):
            self.wfile.write(view[start : start + CHUNK_BYTES])


def _registration_problems(payload: object) -> list[str]:
    if not isinstance(payload, dict):
        return ["body must be a JSON object"]
    problems = [f"{key} is required" for key in ("firstName", "lastName", "email") if not payload.get(key)]
    if not isinstance(payload.get("isPersonalDataSharingAccepted"), bool):
        problems.append("isPersonalDataSharingAccepted must be a boolean")
    return problems


class _NullWriter:
    """Stand-in for the socket writer that discards the response of a dropped request."""

    closed = False

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass
