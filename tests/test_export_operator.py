"""VoilaExportSessionOperator: XCom output, each file format, CSV columns and atomic writes."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_voila.exceptions import VoilaError
from airflow_provider_voila.operators.export import VoilaExportSessionOperator
from airflow_provider_voila.testing import EventData, FakeVoilaServer, SessionSizes, faults
from tests.conftest import set_voila_connection

if TYPE_CHECKING:
    from pathlib import Path

DATASETS = ("attendee_statistics", "chat_messages", "questions")


def run_export(**kwargs: Any) -> dict[str, Any]:
    operator = VoilaExportSessionOperator(
        task_id="export", program_id="prog-1", session_id="sess-1", **kwargs
    )
    return operator.execute(context={})  # type: ignore[arg-type]


def read_back(path: Path, file_format: str) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if file_format == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    if file_format == "json":
        return json.loads(text)
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_export_to_xcom_returns_records(voila_conn: FakeVoilaServer) -> None:
    result = run_export()
    assert set(result) == set(DATASETS)
    for dataset in DATASETS:
        assert result[dataset] == voila_conn.records(dataset, "prog-1", "sess-1")
    assert voila_conn.counts["token"] == 1


def test_export_selected_datasets_only(voila_conn: FakeVoilaServer) -> None:
    result = run_export(datasets=["questions"])
    assert list(result) == ["questions"]
    assert voila_conn.counts["chat_messages"] == 0


@pytest.mark.parametrize("file_format", ["jsonl", "json"])
def test_export_json_formats_keep_records(
    voila_conn: FakeVoilaServer, tmp_path: Path, file_format: str
) -> None:
    result = run_export(destination=tmp_path.as_uri(), file_format=file_format)
    for dataset in DATASETS:
        path = tmp_path / f"{dataset}.{file_format}"
        assert result[dataset] == {
            "uri": ObjectStoragePath(path.as_uri()).as_uri(),
            "records": len(voila_conn.records(dataset, "prog-1", "sess-1")),
            "bytes": path.stat().st_size,
        }
        assert read_back(path, file_format) == voila_conn.records(dataset, "prog-1", "sess-1")


def test_export_csv_has_every_column(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    run_export(destination=str(tmp_path.as_uri()), file_format="csv", datasets=["attendee_statistics"])
    expected = voila_conn.records("attendee_statistics", "prog-1", "sess-1")
    rows = read_back(tmp_path / "attendee_statistics.csv", "csv")
    assert len(rows) == len(expected)
    header = list(rows[0])
    assert "utm" in header  # first present in record 20
    assert "utm" not in expected[0]
    for row, record in zip(rows, expected, strict=True):
        for field, value in record.items():
            if isinstance(value, str):
                assert row[field] == value
            else:
                assert json.loads(row[field]) == value  # nested, numeric and boolean values as JSON
        for field in set(header) - set(record):
            assert row[field] == ""


def test_destination_as_object_storage_path(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    result = run_export(destination=ObjectStoragePath(tmp_path.as_uri()), datasets=["questions"])
    assert result["questions"]["records"] == len(voila_conn.records("questions", "prog-1", "sess-1"))


def test_empty_dataset_writes_empty_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data = EventData(overrides={"sess-1": SessionSizes(attendee_statistics=0, chat_messages=0, questions=0)})
    with FakeVoilaServer(data=data) as server:
        set_voila_connection(monkeypatch, server)
        result = run_export(destination=tmp_path.as_uri(), datasets=["chat_messages"])
        assert result["chat_messages"]["records"] == 0
        # The operator's task logger writes through Airflow's structlog set-up, not to caplog.
        output = capfd.readouterr()
        assert "Dataset chat_messages of session sess-1 has no records" in output.out + output.err
        assert (tmp_path / "chat_messages.jsonl").read_bytes() == b""
        with pytest.raises(VoilaError, match="has no records and fail_on_empty is set"):
            run_export(destination=tmp_path.as_uri(), datasets=["chat_messages"], fail_on_empty=True)


def test_failed_write_keeps_previous_file(
    monkeypatch: pytest.MonkeyPatch, voila_conn: FakeVoilaServer, tmp_path: Path
) -> None:
    run_export(destination=tmp_path.as_uri(), datasets=["chat_messages"])
    previous = (tmp_path / "chat_messages.jsonl").read_bytes()
    set_voila_connection(monkeypatch, voila_conn, max_attempts=1)
    voila_conn.faults.script("chat_messages", faults.drop_mid_body())
    with pytest.raises(VoilaError, match=r"broke|ended early"):
        run_export(destination=tmp_path.as_uri(), datasets=["chat_messages"])
    assert (tmp_path / "chat_messages.jsonl").read_bytes() == previous
    assert sorted(path.name for path in tmp_path.iterdir()) == ["chat_messages.jsonl"]


def test_leftover_temp_file_removed(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    leftover = tmp_path / ".questions.jsonl.voila-tmp-deadbeef"
    leftover.write_text("partial", encoding="utf-8")
    run_export(destination=tmp_path.as_uri(), datasets=["questions"])
    assert not leftover.exists()
    assert (tmp_path / "questions.jsonl").exists()


def test_mapped_export_warns_on_shared_destination(
    voila_conn: FakeVoilaServer, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    class MappedTaskInstance:
        """Stand-in for the runtime task instance of map index 1; the operator reads only map_index."""

        map_index = 1

    operator = VoilaExportSessionOperator(
        task_id="export", program_id="prog-1", session_id="sess-2", destination=tmp_path.as_uri()
    )
    operator.execute(context={"ti": MappedTaskInstance()})  # type: ignore[typeddict-item]
    output = capfd.readouterr()
    assert "whose path does not contain the session id" in output.out + output.err


def test_fail_on_empty_keeps_previous_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    previous = b'{"id": "kept"}\n'
    (tmp_path / "questions.jsonl").write_bytes(previous)
    data = EventData(overrides={"sess-1": SessionSizes(questions=0)})
    with FakeVoilaServer(data=data) as server:
        set_voila_connection(monkeypatch, server)
        with pytest.raises(VoilaError, match="so nothing was written"):
            run_export(destination=tmp_path.as_uri(), datasets=["questions"], fail_on_empty=True)
    assert (tmp_path / "questions.jsonl").read_bytes() == previous
    assert [path.name for path in tmp_path.iterdir()] == ["questions.jsonl"]


def test_xcom_guard_fails_before_push(voila_conn: FakeVoilaServer) -> None:
    size = len(json.dumps(voila_conn.records("chat_messages", "prog-1", "sess-1")))
    with pytest.raises(VoilaError, match="larger than max_xcom_bytes") as caught:
        run_export(datasets=["chat_messages"], max_xcom_bytes=size // 2)
    assert "Set destination to write the records to storage" in str(caught.value)
    assert run_export(datasets=["chat_messages"], max_xcom_bytes=size * 2)["chat_messages"]


def test_folder_at_target_path_rejected(voila_conn: FakeVoilaServer, tmp_path: Path) -> None:
    (tmp_path / "questions.jsonl").mkdir()
    with pytest.raises(VoilaError, match="a folder exists at that path"):
        run_export(destination=tmp_path.as_uri(), datasets=["questions"])
    assert list((tmp_path / "questions.jsonl").iterdir()) == []
