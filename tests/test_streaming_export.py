"""Large exports stream every record in order, and importing the operators stays light."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from airflow_provider_voila.operators.export import VoilaExportSessionOperator
from airflow_provider_voila.testing import EventData, FakeVoilaServer, SessionSizes
from tests.conftest import set_voila_connection

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

LARGE = 200_000


@pytest.fixture(scope="module")
def large_server() -> Iterator[FakeVoilaServer]:
    data = EventData(
        programs={"prog-1": ["big"]},
        overrides={"big": SessionSizes(attendee_statistics=30, chat_messages=LARGE)},
    )
    with FakeVoilaServer(data=data) as server:
        yield server


@pytest.mark.parametrize("file_format", ["jsonl", "json", "csv"])
def test_large_export_keeps_every_record_in_order(
    large_server: FakeVoilaServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, file_format: str
) -> None:
    set_voila_connection(monkeypatch, large_server)
    operator = VoilaExportSessionOperator(
        task_id="export",
        program_id="prog-1",
        session_id="big",
        datasets=["chat_messages"],
        destination=tmp_path.as_uri(),
        file_format=file_format,
    )
    result = operator.execute(context={})  # type: ignore[arg-type]
    expected = large_server.records("chat_messages", "prog-1", "big")
    assert result["chat_messages"]["records"] == LARGE
    path = tmp_path / f"chat_messages.{file_format}"
    if file_format == "jsonl":
        with path.open(encoding="utf-8") as lines:
            written = [json.loads(line) for line in lines]
        assert written == expected
    elif file_format == "json":
        assert json.loads(path.read_text(encoding="utf-8")) == expected
    else:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [row["id"] for row in rows] == [record["id"] for record in expected]
        assert [row["text"] for row in rows] == [record["text"] for record in expected]


def test_csv_header_covers_late_fields(
    large_server: FakeVoilaServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_voila_connection(monkeypatch, large_server)
    VoilaExportSessionOperator(
        task_id="export",
        program_id="prog-1",
        session_id="big",
        datasets=["attendee_statistics"],
        destination=tmp_path.as_uri(),
        file_format="csv",
    ).execute(context={})  # type: ignore[arg-type]
    with (tmp_path / "attendee_statistics.csv").open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    records = large_server.records("attendee_statistics", "prog-1", "big")
    first_seen_late = {field for record in records[20:] for field in record} - set(records[0])
    assert "utm" in first_seen_late
    assert first_seen_late <= set(header)


def test_operators_import_without_heavy_modules() -> None:
    code = (
        "import sys, airflow.sdk\n"
        "before = set(sys.modules)\n"
        "import airflow_provider_voila.operators.export, airflow_provider_voila.operators.attendees\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.strip().splitlines()[-1]
    for heavy in ("'requests'", "'orjson'", "'urllib3'", "airflow_provider_voila.hooks"):
        assert heavy not in loaded, loaded
