"""The operator that registers many attendees from a list, a CSV file or a JSON Lines file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_voila.bulk.pool import Outcome
    from airflow_provider_voila.bulk.rows import InputRow
    from airflow_provider_voila.hooks.voila import VoilaHook

DEFAULT_MAX_CONCURRENCY = 8


class VoilaRegisterAttendeesOperator(BaseOperator):
    """
    Registers many attendees in one Voilà program and writes a report with one line per input row.

    The input is either ``attendees``, a list of dicts (for example pulled from XCom), or
    ``source``, a CSV or JSON Lines file given as a local path or an ``ObjectStoragePath`` URI.
    CSV files may start with a UTF-8 BOM, use commas or semicolons and quote fields that contain
    delimiters or line breaks. Column names match in any case and with or without spaces, dashes
    and underscores, so ``First Name``, ``first_name`` and ``firstName`` all fill ``firstName``.
    ``field_map`` adds or overrides names.

    Every row is checked before any request: first name, last name and email present, the email
    plausible, and the consent a boolean or one of true/false, yes/no, 1/0 in any case. A row that
    repeats an earlier one (same external id, or same email when it has no external id) is
    reported as ``duplicate`` and not sent.

    Rows are sent by up to ``max_concurrency`` threads sharing one HTTP session and one access
    token. An HTTP 429 halves the concurrency and pauses every thread for the ``Retry-After`` wait;
    successes raise the concurrency back to the maximum.

    A ledger (``<report>.ledger.jsonl``) beside the report records each request before it is
    sent and its result after. A retry or rerun with the same input and report skips the attendees
    already registered. An attendee whose request got no response is reported as ``unknown`` and is
    not sent again, since it may already be registered.

    The report (CSV when ``report`` ends in ``.csv``, JSON Lines otherwise) has the columns
    ``row``, ``external_id``, ``status`` (registered, rejected, duplicate, failed or unknown),
    ``attendee_id``, ``access_link`` and ``error``. The return value (XCom) holds only the
    counts per status, the number of rows and the report URI.

    .. code-block:: python

        VoilaRegisterAttendeesOperator(
            task_id="register_attendees",
            program_id="{{ params.program_id }}",
            source="s3://aws_default@crm-exports/attendees.csv",
            report="/data/voila/reports/{{ ds }}/attendees.csv",
        )

    :param program_id: Voilà program id. (templated)
    :param report: path or URI of the report file; the ledger is written beside it. (templated)
    :param attendees: list of dicts with attendee fields; give this or ``source``. (templated)
    :param source: path or URI of a CSV or JSON Lines file; give this or ``attendees``. (templated)
    :param source_format: ``csv`` or ``jsonl``; by default taken from the suffix of ``source``.
    :param csv_delimiter: CSV delimiter; by default ``;`` when the header line has more semicolons
        than commas, ``,`` otherwise.
    :param field_map: input column -> API field (``firstName``, ``lastName``, ``email``,
        ``isPersonalDataSharingAccepted``, ``externalId``), added to the default spellings. (templated)
    :param max_concurrency: maximum number of requests in flight, at least 1.
    :param fail_on_error: fail the task after every row was processed when any row was rejected,
        failed or has an unknown outcome. With ``False`` the task succeeds and only reports.
    :param progress_interval: seconds between two progress lines in the task log.
    :param voila_conn_id: id of the ``voila`` connection.
    """

    template_fields: Sequence[str] = ("program_id", "report", "attendees", "source", "field_map")
    template_fields_renderers: ClassVar[dict[str, str]] = {"attendees": "json", "field_map": "json"}
    ui_color = "#f2e8ff"

    def __init__(
        self,
        *,
        program_id: str,
        report: str | ObjectStoragePath,
        attendees: list[dict[str, Any]] | str | None = None,
        source: str | ObjectStoragePath | None = None,
        source_format: str | None = None,
        csv_delimiter: str | None = None,
        field_map: dict[str, str] | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        fail_on_error: bool = True,
        progress_interval: float = 10.0,
        voila_conn_id: str = "voila_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.program_id = program_id
        self.report = report
        self.attendees = attendees
        self.source = source
        self.source_format = source_format
        self.csv_delimiter = csv_delimiter
        self.field_map = field_map
        self.max_concurrency = max_concurrency
        self.fail_on_error = fail_on_error
        self.progress_interval = progress_interval
        self.voila_conn_id = voila_conn_id

    def make_hook(self, on_rate_limited: Any, pool_size: int) -> VoilaHook:
        from airflow_provider_voila.hooks.voila import VoilaHook

        return VoilaHook(self.voila_conn_id, pool_size=pool_size, on_rate_limited=on_rate_limited)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk import ObjectStoragePath

        from airflow_provider_voila.bulk.ledger import Ledger, ledger_path
        from airflow_provider_voila.bulk.pool import BulkRegistration
        from airflow_provider_voila.validation import check_path_id

        program_id = check_path_id("program_id", self.program_id)
        self._check_arguments()
        report = ObjectStoragePath(str(self.report))
        rows = self._read_rows(program_id)
        ledger = Ledger(ledger_path(report))
        engine = BulkRegistration(
            make_hook=self.make_hook,
            program_id=program_id,
            ledger=ledger,
            max_concurrency=self.max_concurrency,
            progress_interval=self.progress_interval,
            log=self.log,
        )
        outcomes = engine.run(rows)
        return self._finish(outcomes, report)

    def _check_arguments(self) -> None:
        from airflow_provider_voila.exceptions import VoilaConfigError

        if (self.attendees is None) == (self.source is None):
            raise VoilaConfigError(
                "Give exactly one of attendees (a list of dicts) and source (a file path or URI); "
                f"got attendees={'set' if self.attendees is not None else 'None'}, source={self.source!r}."
            )
        if isinstance(self.attendees, str):
            raise VoilaConfigError(
                "attendees rendered to a string, not a list. Pass the XCom value itself, or set "
                "render_template_as_native_obj=True on the DAG."
            )
        if not isinstance(self.max_concurrency, int) or self.max_concurrency < 1:
            raise VoilaConfigError(
                f"max_concurrency must be an integer of at least 1, got {self.max_concurrency!r}."
            )
        if not self.report:
            raise VoilaConfigError("report is empty. Give the path or URI where the report is written.")

    def _read_rows(self, program_id: str) -> list[InputRow]:
        from airflow.sdk import ObjectStoragePath

        from airflow_provider_voila.bulk.rows import build_column_map, check_rows, read_records

        columns = build_column_map(self.field_map)
        if self.source is not None:
            records: list[Any] = read_records(
                ObjectStoragePath(str(self.source)), self.source_format, self.csv_delimiter
            )
        else:
            records = list(self.attendees or [])
        return list(check_rows(program_id, records, columns))

    def _finish(self, outcomes: list[Outcome], report: ObjectStoragePath) -> dict[str, Any]:
        from airflow_provider_voila.bulk.pool import STATUSES
        from airflow_provider_voila.exceptions import VoilaError
        from airflow_provider_voila.storage import pair_records, write_records

        file_format = "csv" if report.suffix.lower() == ".csv" else "jsonl"
        write_records(pair_records(outcome.as_dict() for outcome in outcomes), report, file_format)
        counts = {status: 0 for status in STATUSES}
        for outcome in outcomes:
            counts[outcome.status] += 1
        summary = ", ".join(f"{count} {status}" for status, count in counts.items())
        self.log.info("Processed %d rows: %s. Report: %s", len(outcomes), summary, report)
        problems = counts["rejected"] + counts["failed"] + counts["unknown"]
        if problems and self.fail_on_error:
            raise VoilaError(
                f"{problems} of {len(outcomes)} rows were not registered ({summary}). Every row was "
                f"processed; see the error column of the report {report}. Fix the rejected and failed "
                "rows and rerun: registered rows are skipped. Set fail_on_error=False to only report."
            )
        return {"report": str(report), "total": len(outcomes), "counts": counts}
