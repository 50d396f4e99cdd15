"""Operator that exports a Voilà session's attendee statistics, chat messages and questions."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_voila.hooks.voila import VoilaHook
    from airflow_provider_voila.storage import WrittenFile

ALL_DATASETS = ("attendee_statistics", "chat_messages", "questions")
FILE_EXTENSIONS = {"jsonl": "jsonl", "json": "json", "csv": "csv"}


class VoilaExportSessionOperator(BaseOperator):
    """
    Exports the data of one Voilà session to XCom or to files in object storage.

    Without ``destination`` the records of each dataset go to XCom as lists. With a destination,
    each dataset is written to ``<destination>/<dataset>.<file_format>`` as UTF-8 and XCom receives
    only a summary per dataset: ``{"uri": ..., "records": ..., "bytes": ...}``. A file appears at its
    final path only once complete, and a failed run leaves an earlier file untouched.

    Records keep every field the API sent. In CSV, each field seen in any record gets a column,
    in order of first appearance, and nested values are written as JSON text.

    .. code-block:: python

        VoilaExportSessionOperator.partial(
            task_id="export",
            program_id="{{ params.program_id }}",
            file_format="csv",
        ).expand_kwargs(
            [
                {"session_id": "s1", "destination": "s3://aws_default@my-bucket/voila/{{ ds }}/s1"},
                {"session_id": "s2", "destination": "s3://aws_default@my-bucket/voila/{{ ds }}/s2"},
            ]
        )

    :param program_id: Voilà program id. (templated)
    :param session_id: Voilà session id. (templated)
    :param datasets: any of ``attendee_statistics``, ``chat_messages``, ``questions``; all three by
        default. (templated)
    :param destination: folder URI or :class:`~airflow.sdk.ObjectStoragePath`, for example
        ``file:///data/voila/2026-12-04/session-1`` or ``s3://aws_conn@bucket/voila``. ``None`` pushes
        the records to XCom. (templated)
    :param file_format: ``jsonl`` (default), ``json`` or ``csv``. (templated)
    :param fail_on_empty: fail the task when a dataset has no records, in place of writing an
        empty file and logging a warning.
    :param max_attempts: attempts per request, overriding the connection extra.
    :param retry_budget: seconds of retrying per request, overriding the connection extra.
    :param voila_conn_id: id of the ``voila`` connection.
    """

    template_fields: Sequence[str] = ("program_id", "session_id", "datasets", "destination", "file_format")
    ui_color = "#e8f0ff"

    def __init__(
        self,
        *,
        program_id: str,
        session_id: str,
        datasets: Sequence[str] | str = ALL_DATASETS,
        destination: str | ObjectStoragePath | None = None,
        file_format: str = "jsonl",
        fail_on_empty: bool = False,
        max_attempts: int | None = None,
        retry_budget: float | None = None,
        voila_conn_id: str = "voila_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.program_id = program_id
        self.session_id = session_id
        self.datasets = datasets
        self.destination = destination
        self.file_format = file_format
        self.fail_on_empty = fail_on_empty
        self.max_attempts = max_attempts
        self.retry_budget = retry_budget
        self.voila_conn_id = voila_conn_id

    @cached_property
    def hook(self) -> VoilaHook:
        from airflow_provider_voila.hooks.voila import VoilaHook

        return VoilaHook(self.voila_conn_id, max_attempts=self.max_attempts, retry_budget=self.retry_budget)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_voila.operators._export_steps import check_export_arguments

        arguments = check_export_arguments(
            program_id=self.program_id,
            session_id=self.session_id,
            datasets=self.datasets,
            destination=self.destination,
            file_format=self.file_format,
        )
        self._warn_if_mapped_sessions_share_files(context, arguments)
        results: dict[str, Any] = {}
        for dataset in arguments.datasets:
            started = time.monotonic()
            if arguments.destination is None:
                results[dataset] = self._export_to_xcom(arguments, dataset)
                count = len(results[dataset])
            else:
                results[dataset] = self._export_to_file(arguments, dataset, arguments.destination)
                count = results[dataset]["records"]
            self.log.info(
                "Exported %d %s of session %s in %.1f s",
                count,
                dataset,
                arguments.session_id,
                time.monotonic() - started,
            )
            self._check_empty(dataset, count, arguments.session_id)
        return results

    def _export_to_xcom(self, arguments: Any, dataset: str) -> list[dict[str, Any]]:
        return self.hook.consume_dataset(dataset, arguments.program_id, arguments.session_id, list)

    def _export_to_file(self, arguments: Any, dataset: str, folder: ObjectStoragePath) -> dict[str, Any]:
        from airflow_provider_voila.exceptions import VoilaError
        from airflow_provider_voila.storage import write_records

        target = folder / f"{dataset}.{FILE_EXTENSIONS[arguments.file_format]}"
        received = 0

        def count_and_write(records: Iterator[dict[str, Any]]) -> WrittenFile:
            nonlocal received
            received = 0

            def counted() -> Iterator[dict[str, Any]]:
                nonlocal received
                for record in records:
                    received += 1
                    yield record

            return write_records(counted(), target, arguments.file_format)

        written = self.hook.consume_dataset(
            dataset, arguments.program_id, arguments.session_id, count_and_write
        )
        if written.records != received:
            raise VoilaError(
                f"{written.uri} holds {written.records} records but {received} were received for "
                f"{dataset} of session {arguments.session_id!r}. Rerun the task; if it repeats, report it."
            )
        self.log.info("Wrote %s (%d records, %d bytes)", written.uri, written.records, written.bytes)
        return written.as_dict()

    def _warn_if_mapped_sessions_share_files(self, context: Context, arguments: Any) -> None:
        task_instance = context.get("ti")
        map_index = getattr(task_instance, "map_index", -1)
        if map_index is None or map_index < 0 or arguments.destination is None:
            return
        if arguments.session_id not in str(arguments.destination):
            self.log.warning(
                "Mapped export %d writes session %s to %s, whose path does not contain the session id. "
                "If other mapped tasks use the same destination, their files overwrite each other; "
                "give each session its own destination, for example with .expand_kwargs().",
                map_index,
                arguments.session_id,
                arguments.destination,
            )

    def _check_empty(self, dataset: str, count: int, session_id: str) -> None:
        if count:
            return
        if self.fail_on_empty:
            from airflow_provider_voila.exceptions import VoilaError

            raise VoilaError(
                f"Dataset {dataset} of session {session_id!r} has no records and fail_on_empty is set. "
                "Check the session id, or unset fail_on_empty if an empty session is expected."
            )
        self.log.warning("Dataset %s of session %s has no records", dataset, session_id)
