"""Retry timing: exponential backoff with jitter, ``Retry-After`` and a total time budget."""

from __future__ import annotations

import email.utils
import random
import re
import time
from dataclasses import dataclass, field

from airflow_provider_voila.routes import DEFAULT_MAX_RETRY_WAIT

# Statuses that mean "try again later" for a read. A POST is resent on fewer of them.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return the wait in seconds that a ``Retry-After`` header requests, or ``None`` if absent or invalid.

    The header contains either a number of seconds or an HTTP date (RFC 9110, section 10.2.3).
    """
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]+", value):
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


@dataclass
class RetryState:
    """Attempts and elapsed time of one logical operation, shared by every retry loop inside it.

    :param max_attempts: total attempts allowed, the first one included.
    :param budget: seconds after the first attempt past which no new attempt starts.
    :param exhausted_advice: sentence appended to the last error when no attempt is left.
    """

    max_attempts: int
    budget: float
    base_delay: float = 1.0
    max_delay: float = DEFAULT_MAX_RETRY_WAIT
    attempts: int = 0
    started: float = field(default_factory=time.monotonic)
    exhausted_advice: str = (
        "To wait longer, raise max_attempts or retry_budget in the connection extra, or in the "
        "operator argument of the same name, which overrides it."
    )

    def start_attempt(self) -> int:
        self.attempts += 1
        return self.attempts

    def next_wait(self, retry_after: float | None = None) -> float | None:
        """Return how long to sleep before the next attempt, or ``None`` when no attempt is left.

        ``Retry-After`` is honoured up to ``max_delay``. Otherwise the wait doubles with each
        attempt, and half of it is random so that many workers do not retry in step.
        """
        if self.attempts >= self.max_attempts:
            return None
        if retry_after is not None:
            wait = min(retry_after, self.max_delay)
        else:
            ceiling = min(self.max_delay, self.base_delay * 2 ** (self.attempts - 1))
            wait = ceiling / 2 + random.uniform(0, ceiling / 2)
        if self.elapsed() + wait > self.budget:
            return None
        return wait

    def elapsed(self) -> float:
        return time.monotonic() - self.started
