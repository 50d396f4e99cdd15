"""Soak: the export DAG and a batch of registrations under random faults and 3-second tokens."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import TYPE_CHECKING

import pendulum
import pytest

from airflow_provider_voila.testing import FakeVoilaServer, faults
from tests.conftest import load_dag, set_voila_connection

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_voila.testing.server import RecordedRequest

pytestmark = pytest.mark.usefixtures("airflow_db")

ROUTES = ["token", "ping", "register_attendee", "attendee_statistics", "chat_messages", "questions"]
# About 10% 5xx, 5% 429 and 2% dropped connections on every route.
FAULT_RATES = [
    (0.025, faults.status(500)),
    (0.025, faults.status(502)),
    (0.025, faults.status(503)),
    (0.025, faults.status(504)),
    (0.025, faults.status(429, retry_after="0")),
    (0.025, faults.status(429)),
    (0.01, faults.drop_before(process=True)),
    (0.01, faults.drop_mid_body()),
]
ATTENDEES = 60
SESSIONS = ["sess-1", "sess-2", "sess-3"]


def safe_to_resend(request: RecordedRequest) -> bool:
    """Return whether the fake server responded in a way that proves it did not process the request."""
    fault = request.fault
    if fault is None or fault.kind != "status":
        return False
    return fault.status == 429 or (fault.status == 503 and fault.retry_after is not None)


def test_soak_export_and_registration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with FakeVoilaServer(token_lifetime=3) as server:
        server.requests = type(server.requests)(maxlen=100_000)
        set_voila_connection(monkeypatch, server, retry_base_delay=0.05, max_retry_wait=0.5, max_attempts=8)
        server.faults.set_rates(ROUTES, FAULT_RATES, seed=2026)

        export_run = load_dag("voila_post_live_export").test(
            logical_date=pendulum.datetime(2026, 12, 3, tz="UTC"),
            run_conf={"destination": tmp_path.as_uri(), "session_ids": SESSIONS},
        )
        attendees = [
            {
                "first_name": "Zoë",
                "last_name": f"Soak {index}",
                "attendee_email": f"soak{index}@example.org",
                "personal_data_sharing_accepted": True,
                "external_id": f"soak-{index:03d}",
            }
            for index in range(ATTENDEES)
        ]
        load_dag("voila_test_register_batch").test(run_conf={"program_id": "prog-1", "attendees": attendees})
        output = capfd.readouterr()

    # Exports: every file equals the server's data exactly, despite restarts and retries.
    assert export_run.state == "success"
    for session_id in SESSIONS:
        for dataset in ("attendee_statistics", "chat_messages", "questions"):
            path = tmp_path / "2026-12-03" / "prog-1" / session_id / f"{dataset}.jsonl"
            written = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            assert written == server.records(dataset, "prog-1", session_id), path
    faulted = [request for request in server.requests if request.fault is not None]
    assert len(faulted) >= 5, "the soak injected too few faults to mean anything"

    # Registrations: none twice; every one registered unless named in an unknown-outcome error.
    registered = server.registration_counts()
    assert max(registered.values()) == 1
    unknown_error = re.compile(r"externalId '(soak-\d{3})'\): [^\n]*may or may not be registered")
    unknown = set(unknown_error.findall(output.out + output.err))
    posts: dict[str, list[RecordedRequest]] = defaultdict(list)
    for request in server.requests:
        if request.route == "register_attendee":
            posts[json.loads(request.body)["externalId"]].append(request)
    for attendee in attendees:
        external_id = attendee["external_id"]
        if external_id in unknown:
            *earlier, last = posts[external_id]
            assert all(safe_to_resend(request) for request in earlier), external_id
            assert not safe_to_resend(last), f"{external_id} was sent again after an unknown outcome"
        else:
            assert registered[attendee["attendee_email"]] == 1, (
                f"{external_id} neither registered nor reported"
            )
            assert all(safe_to_resend(request) for request in posts[external_id][:-1]), external_id
    assert registered.total() + len(unknown) >= ATTENDEES
    assert unknown, "no registration had an unknown outcome, so the soak did not exercise that rule"
