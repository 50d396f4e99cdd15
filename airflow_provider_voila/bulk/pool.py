"""Sending registrations from a bounded pool of threads that slows down together on HTTP 429."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_voila.exceptions import (
    VoilaApiError,
    VoilaAuthError,
    VoilaError,
    VoilaOutcomeUnknownError,
)

if TYPE_CHECKING:
    from airflow_provider_voila.bulk.ledger import Ledger, LedgerEntry
    from airflow_provider_voila.bulk.rows import InputRow
    from airflow_provider_voila.hooks.voila import VoilaHook

STATUSES = ("registered", "rejected", "duplicate", "failed", "unknown")
MAX_LOGGED_ROW_ERRORS = 20  # later row errors go to the report only, so a broken run cannot flood the log
HookFactory = Callable[[Callable[[float], None], int], "VoilaHook"]


@dataclass
class Outcome:
    """Outcome of one input row, written as one line of the report."""

    row: int
    external_id: str | None
    status: str
    attendee_id: str | None = None
    access_link: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "external_id": self.external_id,
            "status": self.status,
            "attendee_id": self.attendee_id,
            "access_link": self.access_link,
            "error": self.error,
        }


class AdaptiveLimit:
    """Concurrency limit shared by every sending thread: halved on 429, raised again on success.

    On a 429 the limit is halved (down to 1) and no thread starts a new request until the wait
    the server asked for has passed. Each success raises the limit by ``1 / limit``, so the pool
    returns to ``maximum`` after about ``maximum ** 2 / 2`` successful requests.
    """

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.limit = float(maximum)
        self.rate_limited = 0
        self._active = 0
        self._resume_at = 0.0
        self._condition = threading.Condition()

    def acquire(self) -> None:
        with self._condition:
            while True:
                pause = self._resume_at - time.monotonic()
                if pause > 0:
                    self._condition.wait(pause)
                elif self._active < int(self.limit):
                    self._active += 1
                    return
                else:
                    self._condition.wait()

    def release(self, success: bool) -> None:
        with self._condition:
            self._active -= 1
            if success and self.limit < self.maximum:
                self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)
            self._condition.notify_all()

    def slow_down(self, wait_seconds: float) -> None:
        """Record a 429: halve the limit unless the pool is already paused, and pause new requests."""
        with self._condition:
            self.rate_limited += 1
            now = time.monotonic()
            if now >= self._resume_at:
                self.limit = max(1.0, self.limit / 2)
            self._resume_at = max(self._resume_at, now + max(wait_seconds, 0.0))
            self._condition.notify_all()


class BulkRegistration:
    """Registers checked rows in one program, skipping what the ledger shows as already done.

    :param make_hook: builds the hook from a 429 callback and a connection pool size.
    :param progress_interval: seconds between two progress lines in the log.
    :param log: logger for progress and row errors, such as the operator's ``self.log``.
    """

    def __init__(
        self,
        *,
        make_hook: HookFactory,
        program_id: str,
        ledger: Ledger,
        max_concurrency: int,
        progress_interval: float = 10.0,
        log: Any = None,
    ) -> None:
        self.program_id = program_id
        self.ledger = ledger
        self.limit = AdaptiveLimit(max_concurrency)
        self.hook = make_hook(self.limit.slow_down, max_concurrency)
        self.max_concurrency = max_concurrency
        self.progress_interval = progress_interval
        self.log = log or logging.getLogger(__name__)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._auth_error: VoilaAuthError | None = None
        self._logged_errors = 0

    def run(self, rows: Sequence[InputRow]) -> list[Outcome]:
        """Return one :class:`Outcome` per row, in row order, after sending every row that needs it."""
        outcomes: dict[int, Outcome] = {}
        to_send = self._plan(rows, outcomes)
        self.log.info(
            "Registering %d rows in program %s: %d to send, %d decided before sending, %d threads",
            len(rows),
            self.program_id,
            len(to_send),
            len(outcomes),
            self.max_concurrency,
        )
        self.ledger.open()
        try:
            self._send_all(to_send, outcomes, len(rows))
        finally:
            self.ledger.close()
        return [outcomes[row.number] for row in rows]

    def _plan(self, rows: Sequence[InputRow], outcomes: dict[int, Outcome]) -> list[InputRow]:
        """Decide rejected, duplicate and earlier-attempt rows; return the rows still to send."""
        earlier = self.ledger.load()
        first_row: dict[str, int] = {}
        to_send: list[InputRow] = []
        for row in rows:
            if row.key is None:
                outcome = Outcome(row.number, row.external_id, "rejected", error=row.error)
            elif row.key in first_row:
                first = first_row[row.key]
                message = f"Same attendee as row {first} (same external id, or same email without one)."
                outcome = Outcome(row.number, row.external_id, "duplicate", error=message)
            else:
                first_row[row.key] = row.number
                settled = _outcome_from_ledger(row, earlier.get(row.key))
                if settled is None:
                    to_send.append(row)
                    continue
                outcome = settled
            outcomes[row.number] = outcome
            self.counts[outcome.status] += 1
        return to_send

    def _send_all(self, to_send: list[InputRow], outcomes: dict[int, Outcome], total: int) -> None:
        rows = iter(to_send)
        decided_before = len(outcomes)
        started = time.monotonic()
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="voila-register") as pool:
            workers = [pool.submit(self._work, rows, outcomes) for _ in range(self.max_concurrency)]
            pending = set(workers)
            while pending:
                _, pending = wait(pending, timeout=self.progress_interval)
                self._log_progress(len(outcomes), total, len(outcomes) - decided_before, started)
            for worker in workers:
                worker.result()

    def _work(self, rows: Iterator[InputRow], outcomes: dict[int, Outcome]) -> None:
        while True:
            with self._lock:
                row = next(rows, None)
            if row is None:
                return
            outcome = self._send_one(row)
            with self._lock:
                outcomes[row.number] = outcome
                self.counts[outcome.status] += 1

    def _send_one(self, row: InputRow) -> Outcome:
        assert row.key is not None and row.body is not None
        if self._auth_error is not None:
            message = f"Not sent, because the API rejected the credentials: {self._auth_error}"
            return Outcome(row.number, row.external_id, "failed", error=message)
        self.limit.acquire()
        success = False
        try:
            self.ledger.record(row.key, "sending", row.number, row.external_id)
            created = self.hook.register_attendee(self.program_id, row.body)
            success = True
        except VoilaOutcomeUnknownError as err:
            return self._finish_unknown(row, err)
        except VoilaApiError as err:
            if isinstance(err, VoilaAuthError):
                self._auth_error = err
            return self._finish_failed(row, err)
        except VoilaError as err:
            return self._finish_failed(row, err)
        finally:
            self.limit.release(success)
        attendee_id, link = created.get("id"), created.get("accessLink")
        self.ledger.record(
            row.key, "registered", row.number, row.external_id, attendeeId=attendee_id, accessLink=link
        )
        return Outcome(row.number, row.external_id, "registered", attendee_id, link)

    def _finish_unknown(self, row: InputRow, err: VoilaError) -> Outcome:
        assert row.key is not None
        self.ledger.record(row.key, "unknown", row.number, row.external_id, error=str(err))
        self._log_row_error("Row %d (external id %s): outcome unknown: %s", row, err)
        return Outcome(row.number, row.external_id, "unknown", error=str(err))

    def _finish_failed(self, row: InputRow, err: VoilaError) -> Outcome:
        assert row.key is not None
        self.ledger.record(row.key, "failed", row.number, row.external_id, error=str(err))
        self._log_row_error("Row %d (external id %s) failed: %s", row, err)
        return Outcome(row.number, row.external_id, "failed", error=str(err))

    def _log_row_error(self, template: str, row: InputRow, err: VoilaError) -> None:
        with self._lock:
            self._logged_errors += 1
            count = self._logged_errors
        if count <= MAX_LOGGED_ROW_ERRORS:
            self.log.warning(template, row.number, row.external_id, err)
        if count == MAX_LOGGED_ROW_ERRORS:
            self.log.warning("%d row errors logged; further ones are written to the report only", count)

    def _log_progress(self, done: int, total: int, sent: int, started: float) -> None:
        elapsed = max(time.monotonic() - started, 1e-9)
        counts = ", ".join(f"{status} {self.counts[status]}" for status in STATUSES)
        self.log.info(
            "Progress: %d of %d rows done, %.1f requests/s, %s; concurrency %d of %d; %d HTTP 429 responses",
            done,
            total,
            sent / elapsed,
            counts,
            int(self.limit.limit),
            self.max_concurrency,
            self.limit.rate_limited,
        )


def _outcome_from_ledger(row: InputRow, entry: LedgerEntry | None) -> Outcome | None:
    """Return the outcome an earlier attempt settled for ``row``, or ``None`` if it must be sent."""
    if entry is None or entry.state == "failed":
        return None
    if entry.state == "registered":
        message = "Registered by an earlier attempt of this task; not sent again."
        return Outcome(
            row.number, row.external_id, "registered", entry.attendee_id, entry.access_link, message
        )
    message = (
        "An earlier attempt sent this row but received no response, so the attendee may or may not be "
        "registered. It is not sent again. Check the attendee in Voilà Backstage; to send it again, "
        "delete its lines from the ledger."
    )
    return Outcome(row.number, row.external_id, "unknown", error=message)
