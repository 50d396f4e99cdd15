"""Bulk registration: input forms, row checks, duplicates, 429 slow-down, reports and resume.

Every test sends real HTTP requests over loopback to the fake server and reads and writes real
files through ``ObjectStoragePath``.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_voila.bulk.ledger import Ledger
from airflow_provider_voila.bulk.pool import AdaptiveLimit, BulkRegistration
from airflow_provider_voila.bulk.rows import build_column_map, check_rows, normalize_column, parse_consent
from airflow_provider_voila.exceptions import VoilaConfigError, VoilaError, VoilaValidationError
from airflow_provider_voila.operators.attendees import VoilaRegisterAttendeesOperator
from airflow_provider_voila.testing import FakeVoilaServer, faults

if TYPE_CHECKING:
    from pathlib import Path

PROGRAM = "prog-1"


def person(index: int, **changes: Any) -> dict[str, Any]:
    record = {
        "externalId": f"crm-{index}",
        "firstName": f"First{index}",
        "lastName": f"Last{index}",
        "email": f"person{index}@example.com",
        "isPersonalDataSharingAccepted": True,
    }
    record.update(changes)
    return record


def run_operator(tmp_path: Path, report_name: str = "report.csv", **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("program_id", PROGRAM)
    kwargs.setdefault("progress_interval", 0.5)
    operator = VoilaRegisterAttendeesOperator(
        task_id="register_attendees", report=str(tmp_path / report_name), **kwargs
    )
    return operator.execute({})  # type: ignore[arg-type]


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


# Input forms


def test_list_input_registers_every_row(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    result = run_operator(tmp_path, attendees=[person(i) for i in range(30)], max_concurrency=4)
    assert result["counts"]["registered"] == 30
    assert result["total"] == 30
    assert voila_conn.counts["register_attendee"] == 30
    assert voila_conn.counts["token"] == 1
    assert set(voila_conn.registration_counts().values()) == {1}


CSV_EXPORTS = {
    "bom_semicolon": (
        "\ufeffExternal ID;FIRST NAME;last name;E-mail;Consent\r\n"
        'crm-1;"Ana; María";Pérez;ana@example.com;YES\r\n'
        'crm-2;Ben;"Two\r\nLines";ben@example.com;0\r\n'
    ),
    "comma_no_bom": (
        "externalId,firstName,lastName,email,isPersonalDataSharingAccepted\n"
        'crm-1,"Ana; María",Pérez,ana@example.com,true\n'
        'crm-2,Ben,"Two\nLines",ben@example.com,False\n'
    ),
    "snake_case_quoted_comma": (
        "external_id,first_name,last_name,email_address,gdpr_consent\n"
        'crm-1,"Ana; María",Pérez,ana@example.com,1\n'
        'crm-2,Ben,"Two\nLines",ben@example.com,no\n\n'
    ),
}


@pytest.mark.parametrize("export", sorted(CSV_EXPORTS))
def test_csv_export_forms(voila_conn: FakeVoilaServer, tmp_path: Path, export: str) -> None:
    source = tmp_path / "attendees.csv"
    source.write_bytes(CSV_EXPORTS[export].encode("utf-8"))
    result = run_operator(tmp_path, source=str(source))
    assert result["counts"]["registered"] == 2
    by_id = {item["externalId"]: item for item in voila_conn.registrations}
    assert by_id["crm-1"]["firstName"] == "Ana; María"
    assert by_id["crm-1"]["isPersonalDataSharingAccepted"] is True
    assert by_id["crm-2"]["lastName"].splitlines() == ["Two", "Lines"]
    assert by_id["crm-2"]["isPersonalDataSharingAccepted"] is False


def test_jsonl_source(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    source = tmp_path / "attendees.jsonl"
    lines = [json.dumps(person(i, isPersonalDataSharingAccepted="yes")) for i in range(5)]
    source.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    result = run_operator(tmp_path, source=source.as_uri())
    assert result["counts"]["registered"] == 5
    assert len(voila_conn.registrations) == 5


def test_jsonl_invalid_line_names_line(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    source = tmp_path / "attendees.jsonl"
    source.write_text(json.dumps(person(1)) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(VoilaConfigError, match="Line 2 of"):
        run_operator(tmp_path, source=str(source))
    assert voila_conn.counts["register_attendee"] == 0


def test_source_and_attendees_both_given(tmp_path: Path) -> None:
    with pytest.raises(VoilaConfigError, match="exactly one of attendees"):
        run_operator(tmp_path, attendees=[person(1)], source=str(tmp_path / "a.csv"))


def test_source_missing_file(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    with pytest.raises(VoilaConfigError, match="was not found"):
        run_operator(tmp_path, source=str(tmp_path / "absent.csv"))


# Mapping


def test_field_map_overrides_defaults(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    records = [{"Vorname": "Jana", "Nachname": "Beispiel", "Mail": "jana@example.de", "OK": "ja"}]
    field_map = {"Vorname": "firstName", "Nachname": "lastName", "OK": "isPersonalDataSharingAccepted"}
    result = run_operator(tmp_path, attendees=records, field_map=field_map, fail_on_error=False)
    # "ja" is not a consent word, so the row is rejected even though every column was mapped.
    assert result["counts"]["rejected"] == 1
    records[0]["OK"] = "yes"
    result = run_operator(tmp_path, "second.csv", attendees=records, field_map=field_map)
    assert result["counts"]["registered"] == 1
    assert voila_conn.registrations[0]["firstName"] == "Jana"
    assert voila_conn.registrations[0]["email"] == "jana@example.de"


def test_field_map_unknown_target() -> None:
    with pytest.raises(VoilaConfigError, match="not an attendee field"):
        build_column_map({"Vorname": "givenName"})


@pytest.mark.parametrize(
    ("column", "field"),
    [
        ("first_name", "firstName"),
        ("First Name", "firstName"),
        ("firstName", "firstName"),
        ("Surname", "lastName"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("External-Id", "externalId"),
        ("consent", "isPersonalDataSharingAccepted"),
    ],
)
def test_default_column_spellings(column: str, field: str) -> None:
    assert build_column_map(None)[normalize_column(column)] == field


# Row checks


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("TRUE", True),
        ("false", False),
        ("Yes", True),
        ("NO", False),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
        (" yes ", True),
    ],
)
def test_consent_accepted_values(value: object, expected: bool) -> None:
    assert parse_consent(value) is expected


@pytest.mark.parametrize("value", ["maybe", "y", "2", 2, None, "", "ja"])
def test_consent_rejected_values(value: object) -> None:
    with pytest.raises(VoilaValidationError):
        parse_consent(value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"firstName": None}, "firstName is missing"),
        ({"firstName": "  "}, "firstName is empty"),
        ({"lastName": ""}, "lastName is empty"),
        ({"email": None}, "email is missing"),
        ({"email": "not-an-address"}, "not a valid email address"),
        ({"email": "a@b"}, "not a valid email address"),
        ({"isPersonalDataSharingAccepted": "maybe"}, "is not a consent value"),
        ({"isPersonalDataSharingAccepted": None}, "isPersonalDataSharingAccepted is missing"),
        ({"firstName": "x" * 300}, "the maximum is 255"),
    ],
)
def test_row_rejected_by_rule(changes: dict[str, Any], message: str) -> None:
    rows = list(check_rows(PROGRAM, [person(1, **changes)], build_column_map(None)))
    assert rows[0].body is None
    assert rows[0].error is not None
    assert message in rows[0].error


def test_row_not_an_object() -> None:
    rows = list(check_rows(PROGRAM, [["a", "b"]], build_column_map(None)))  # type: ignore[list-item]
    assert rows[0].error == "Row 1 is a list, not an object with attendee fields."


def test_rejected_rows_are_never_sent(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    records = [person(1), person(2, email="broken"), person(3, isPersonalDataSharingAccepted="perhaps")]
    result = run_operator(tmp_path, attendees=records, fail_on_error=False)
    assert result["counts"]["registered"] == 1
    assert result["counts"]["rejected"] == 2
    assert voila_conn.counts["register_attendee"] == 1


# Duplicates


def test_duplicates_registered_once(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    records = [
        person(1),
        person(1, email="other@example.com"),  # same external id
        person(2, externalId=None),
        person(3, externalId=None, email="PERSON2@example.com"),  # same email, no external id
        person(4, email="person1@example.com"),  # same email but its own external id
    ]
    result = run_operator(tmp_path, attendees=records)
    assert result["counts"]["registered"] == 3
    assert result["counts"]["duplicate"] == 2
    assert voila_conn.counts["register_attendee"] == 3
    report = read_report(tmp_path / "report.csv")
    assert [line["status"] for line in report] == [
        "registered",
        "duplicate",
        "registered",
        "duplicate",
        "registered",
    ]
    assert report[1]["error"].startswith("Same attendee as row 1")
    assert report[3]["error"].startswith("Same attendee as row 3")


# Rate limiting


def test_429_slows_whole_pool(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    voila_conn.faults.script("register_attendee", faults.status(429, retry_after="1"))
    engine = BulkRegistration(
        make_hook=VoilaRegisterAttendeesOperator(task_id="t", program_id=PROGRAM, report="r").make_hook,
        program_id=PROGRAM,
        ledger=Ledger(_local_path(tmp_path / "ledger.jsonl")),
        max_concurrency=8,
        progress_interval=0.5,
    )
    rows = list(check_rows(PROGRAM, [person(i) for i in range(40)], build_column_map(None)))
    with ThreadPoolExecutor(1) as runner:
        running = runner.submit(engine.run, rows)
        deadline = time.monotonic() + 30
        while engine.limit.rate_limited == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        # From the moment the client saw the 429, only requests already in flight may arrive during
        # the 1 s Retry-After. Without the shared pause the other threads would send the rest.
        seen_at_pause = voila_conn.counts["register_attendee"]
        time.sleep(0.5)
        seen_during_pause = voila_conn.counts["register_attendee"] - seen_at_pause
        outcomes = running.result(timeout=60)
    assert seen_during_pause <= 8
    assert [outcome.status for outcome in outcomes] == ["registered"] * 40
    assert voila_conn.counts["register_attendee"] == 41  # one 429, then every row once
    assert engine.limit.rate_limited == 1


def test_adaptive_limit_halves_and_recovers() -> None:
    limit = AdaptiveLimit(8)
    limit.slow_down(0.0)
    assert limit.limit == 4
    limit.slow_down(0.0)
    assert limit.limit == 2
    for _ in range(40):
        limit.acquire()
        limit.release(True)
    assert limit.limit == 8
    assert limit.rate_limited == 2


def test_adaptive_limit_one_halving_per_pause() -> None:
    limit = AdaptiveLimit(8)
    limit.slow_down(0.2)
    limit.slow_down(0.2)  # a second 429 from a request already in flight during the pause
    assert limit.limit == 4
    started = time.monotonic()
    limit.acquire()
    assert time.monotonic() - started >= 0.15
    limit.release(True)


# Report, policy and logs


def test_report_contents(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    records = [person(1), person(2, email="broken"), person(1), person(4)]
    result = run_operator(tmp_path, attendees=records, fail_on_error=False)
    report = read_report(tmp_path / "report.csv")
    assert list(report[0]) == ["row", "external_id", "status", "attendee_id", "access_link", "error"]
    assert [line["row"] for line in report] == ["1", "2", "3", "4"]
    assert [line["external_id"] for line in report] == ["crm-1", "crm-2", "crm-1", "crm-4"]
    assert [line["status"] for line in report] == ["registered", "rejected", "duplicate", "registered"]
    by_email = {item["email"]: item for item in voila_conn.registrations}
    assert report[0]["attendee_id"] == by_email["person1@example.com"]["id"]
    assert report[0]["access_link"] == by_email["person1@example.com"]["accessLink"]
    assert report[0]["error"] == ""
    assert "not a valid email address" in report[1]["error"]
    assert report[1]["attendee_id"] == ""
    assert result["report"] == str(tmp_path / "report.csv")
    assert set(result) == {"report", "total", "counts"}  # no rows in XCom
    assert result["counts"] == {"registered": 2, "rejected": 1, "duplicate": 1, "failed": 0, "unknown": 0}


def test_report_jsonl_and_failed_rows(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    result = run_operator(
        tmp_path, "report.jsonl", program_id="prog-unknown", attendees=[person(1)], fail_on_error=False
    )
    lines = [json.loads(line) for line in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert result["counts"]["failed"] == 1
    assert lines[0]["status"] == "failed"
    assert "404" in lines[0]["error"]
    assert lines[0]["attendee_id"] is None


def test_fail_on_error_after_all_rows(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    records = [person(1), person(2, email="broken"), person(3)]
    with pytest.raises(VoilaError, match=r"1 of 3 rows were not registered \(2 registered, 1 rejected"):
        run_operator(tmp_path, attendees=records)
    assert voila_conn.counts["register_attendee"] == 2
    assert len(read_report(tmp_path / "report.csv")) == 3


def test_info_logs_hold_no_personal_data(
    voila_conn: FakeVoilaServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_operator(tmp_path, attendees=[person(i, firstName="Secretname") for i in range(5)])
    # The task SDK writes operator logs through structlog to stdout, one line per event.
    info = [line for line in capsys.readouterr().out.splitlines() if "[info" in line]
    assert any("5 of 5 rows done" in message for message in info)
    assert not any("@example.com" in message or "Secretname" in message for message in info)


# Resume


def test_rerun_skips_registered_rows(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    records = [person(i) for i in range(10)]
    run_operator(tmp_path, attendees=records)
    result = run_operator(tmp_path, attendees=[*records, person(10)])
    assert result["counts"]["registered"] == 11
    assert voila_conn.counts["register_attendee"] == 11
    report = read_report(tmp_path / "report.csv")
    assert report[0]["error"].startswith("Registered by an earlier attempt")
    assert report[0]["attendee_id"] != ""


def test_unknown_outcome_never_resent(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    voila_conn.faults.script("register_attendee", faults.drop_before(process=True))
    records = [person(1)]
    first = run_operator(tmp_path, attendees=records, fail_on_error=False)
    assert first["counts"]["unknown"] == 1
    second = run_operator(tmp_path, attendees=records, fail_on_error=False)
    assert second["counts"]["unknown"] == 1
    assert voila_conn.counts["register_attendee"] == 1
    assert voila_conn.registration_counts()["person1@example.com"] == 1
    assert "may or may not be registered" in read_report(tmp_path / "report.csv")[0]["error"]


def test_failed_rows_resent_on_rerun(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    voila_conn.faults.script("register_attendee", faults.status(422))
    records = [person(1), person(2)]
    with pytest.raises(VoilaError, match="1 failed"):
        run_operator(tmp_path, attendees=records, max_concurrency=1)
    result = run_operator(tmp_path, attendees=records)
    assert result["counts"]["registered"] == 2
    assert set(voila_conn.registration_counts().values()) == {1}


KILLED_RUN = textwrap.dedent(
    """
    import sys
    from airflow_provider_voila.operators.attendees import VoilaRegisterAttendeesOperator

    VoilaRegisterAttendeesOperator(
        task_id="register_attendees", program_id="prog-1", source=sys.argv[1], report=sys.argv[2],
        max_concurrency=4, progress_interval=0.5,
    ).execute({})
    """
)


def test_sigkill_halfway_then_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    total = 200
    source = tmp_path / "attendees.jsonl"
    source.write_text("".join(json.dumps(person(i)) + "\n" for i in range(total)), encoding="utf-8")
    report = tmp_path / "report.csv"
    with FakeVoilaServer(latency=0.05) as server:
        env = {**os.environ, "AIRFLOW_CONN_VOILA_DEFAULT": server.connection_json()}
        script = tmp_path / "killed_run.py"
        script.write_text(KILLED_RUN, encoding="utf-8")
        process = subprocess.Popen([sys.executable, str(script), str(source), str(report)], env=env)
        try:
            deadline = time.monotonic() + 60
            while server.counts["register_attendee"] < total // 2 and time.monotonic() < deadline:
                assert process.poll() is None, "the run ended before it could be killed"
                time.sleep(0.01)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        time.sleep(0.2)  # let the server finish the requests that were in flight
        sent_before_kill = server.counts["register_attendee"]
        assert total // 2 <= sent_before_kill < total

        monkeypatch.setenv("AIRFLOW_CONN_VOILA_DEFAULT", server.connection_json())
        result = run_operator(tmp_path, source=str(source), fail_on_error=False, max_concurrency=4)

        counts = server.registration_counts()
        assert len(counts) == total
        assert set(counts.values()) == {1}
        assert server.counts["register_attendee"] == total
        # Rows in flight at the kill are reported unknown, not resent; the server stored them.
        assert result["counts"]["unknown"] <= 4
        assert result["counts"]["registered"] + result["counts"]["unknown"] == total


def _local_path(path: Path) -> Any:
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(str(path))


def test_operator_import_skips_requests() -> None:
    code = (
        "import sys\n"
        "import airflow_provider_voila.operators.attendees as module\n"
        "assert module.VoilaRegisterAttendeesOperator\n"
        "print('requests' in sys.modules)\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "False"


def test_row_errors_logged_up_to_limit(
    voila_conn: FakeVoilaServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [person(i) for i in range(30)]
    result = run_operator(tmp_path, program_id="prog-unknown", attendees=records, fail_on_error=False)
    warnings = [line for line in capsys.readouterr().out.splitlines() if "failed: " in line]
    assert result["counts"]["failed"] == 30
    assert len(warnings) == 20
    assert len(read_report(tmp_path / "report.csv")) == 30


def test_ledger_cut_line_keeps_next_record(tmp_path: Path) -> None:
    path = tmp_path / "report.csv.ledger.jsonl"
    path.write_bytes(b'{"key":"k1","state":"registered","row":1}\n{"key":"k2","sta')
    ledger = Ledger(_local_path(path))
    ledger.open()
    ledger.record("k3", "sending", 3, None)
    ledger.close()
    path.write_bytes(path.read_bytes() + b"[1, 2]\n")  # a hand-edited line that is not a record
    entries = Ledger(_local_path(path)).load()
    assert entries["k1"].state == "registered"
    assert entries["k3"].state == "sending"
    assert "k2" not in entries
