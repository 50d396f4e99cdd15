"""The resume ledger: a JSON Lines file beside the report that records every registration attempt.

Before a request is sent, a ``sending`` line is appended and flushed; after the response, a
``registered``, ``failed`` or ``unknown`` line. A later attempt reads the file and skips every row
whose last line is ``registered``. A row whose last line is ``sending`` or ``unknown`` may have
been stored by the server, so it is reported as unknown and never sent again. A ``failed`` row
was rejected by the API without being stored and is sent again.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)
LEDGER_SUFFIX = ".ledger.jsonl"


@dataclass(frozen=True)
class LedgerEntry:
    """The last recorded state of one attendee."""

    state: str
    attendee_id: str | None = None
    access_link: str | None = None
    error: str | None = None


def ledger_path(report: ObjectStoragePath) -> ObjectStoragePath:
    return report.parent / f"{report.name}{LEDGER_SUFFIX}"


class Ledger:
    """Append-only record of registration attempts, safe to call from many threads.

    Rows are identified by the key of :class:`~airflow_provider_voila.bulk.rows.InputRow`, which
    contains no personal data. The row number and external id are stored as well, to help a person
    reading the file.

    NOTE: appending needs a file system that supports append mode (local disks and mounted
    volumes). Object stores such as S3 do not, so keep the report on such a volume for now.
    Lines are flushed to the operating system, which survives a killed process but not a lost
    machine.
    """

    def __init__(self, path: ObjectStoragePath) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None

    def load(self) -> dict[str, LedgerEntry]:
        """Return the last state of each key recorded by earlier attempts."""
        entries: dict[str, LedgerEntry] = {}
        if not self.path.exists():
            return entries
        with self.path.open("rb") as raw:
            for line in raw:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a killed process
                if not isinstance(item, dict) or not isinstance(item.get("key"), str) or "state" not in item:
                    log.warning("Ignoring a ledger line of %s that is not a ledger record", self.path)
                    continue
                entries[item["key"]] = LedgerEntry(
                    item["state"], item.get("attendeeId"), item.get("accessLink"), item.get("error")
                )
        return entries

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ends_mid_line = False
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb") as existing:
                existing.seek(-1, 2)
                ends_mid_line = existing.read(1) != b"\n"
        self._file = self.path.open("ab")
        if ends_mid_line:
            # A killed process cut the last line; end it so that the next record stays readable.
            self._file.write(b"\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def record(self, key: str, state: str, row: int, external_id: str | None, **details: Any) -> None:
        """Append one line and flush it before returning."""
        item = {"key": key, "state": state, "row": row, "externalId": external_id, **details}
        line = (json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._file is None:
                raise RuntimeError("Ledger.open() must be called before recording.")
            self._file.write(line)
            self._file.flush()
