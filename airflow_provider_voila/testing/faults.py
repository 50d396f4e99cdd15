"""Fault injection for the fake Voilà server: scripted per route, or drawn at random rates."""

from __future__ import annotations

import random
import threading
from collections import defaultdict, deque
from dataclasses import dataclass

# Route names as FakeVoilaServer.counts uses them.
ROUTE_NAMES = ("token", "ping", "register_attendee", "attendee_statistics", "chat_messages", "questions")


@dataclass(frozen=True)
class Fault:
    """One misbehaviour of the fake server for one request.

    :param kind: ``status`` (respond with ``status`` and ``body``), ``drop_before`` (close the connection
        without a response), ``drop_mid_body`` (send the headers and half of the real body, then close),
        ``slow`` (sleep ``delay`` seconds, then respond normally), ``body`` (respond 200 with ``body``),
        ``no_expires_in`` (token answer without ``expires_in``).
    :param process: for ``drop_before`` and ``drop_mid_body`` on a registration, whether the
        attendee is stored before the connection closes.
    """

    kind: str
    status: int = 200
    body: bytes = b""
    retry_after: str | None = None
    delay: float = 0.0
    process: bool = True


def status(code: int, *, retry_after: str | None = None, body: bytes | None = None) -> Fault:
    """Respond with an error status; a JSON message is the default body."""
    default = b'{"message": "injected fault"}'
    return Fault("status", status=code, body=default if body is None else body, retry_after=retry_after)


def drop_before(*, process: bool = False) -> Fault:
    return Fault("drop_before", process=process)


def drop_mid_body() -> Fault:
    return Fault("drop_mid_body")


def slow(delay: float) -> Fault:
    return Fault("slow", delay=delay)


def body(content: bytes, code: int = 200) -> Fault:
    """Respond with ``content`` as the body, for truncated JSON, an HTML error page or an empty body."""
    return Fault("body", status=code, body=content)


def no_expires_in() -> Fault:
    """Answer a token request normally but without ``expires_in``, which RFC 6749 allows."""
    return Fault("no_expires_in")


class FaultPlan:
    """Faults to inject, looked up once per request by route name.

    Scripted faults are used first, in order. After the script runs out, random faults are drawn
    at the configured rates from a seeded generator, so that a soak run is repeatable.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Fault | None]] = defaultdict(deque)
        self._rates: dict[str, list[tuple[float, Fault]]] = {}
        self._rng = random.Random(0)

    def script(self, route: str, *faults: Fault | None) -> None:
        """Queue faults for the next requests to ``route``; ``None`` lets one request through."""
        _check_routes([route])
        with self._lock:
            self._scripts[route].extend(faults)

    def set_rates(self, routes: list[str], rates: list[tuple[float, Fault]], seed: int = 0) -> None:
        """Inject each fault with its probability on every request to ``routes``."""
        _check_routes(routes)
        with self._lock:
            self._rng = random.Random(seed)
            for route in routes:
                self._rates[route] = list(rates)

    def clear(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._rates.clear()

    def next_fault(self, route: str) -> Fault | None:
        with self._lock:
            script = self._scripts.get(route)
            if script:
                return script.popleft()
            draw = self._rng.random()
            for probability, fault in self._rates.get(route, []):
                if draw < probability:
                    return fault
                draw -= probability
            return None


def _check_routes(routes: list[str]) -> None:
    unknown = [route for route in routes if route not in ROUTE_NAMES]
    if unknown:
        raise ValueError(f"Unknown route names {unknown}. Use any of: {', '.join(ROUTE_NAMES)}.")
