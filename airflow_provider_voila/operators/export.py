"""Operator that exports a Voilà session's attendee statistics, chat messages and questions."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_voila.hooks.voila import VoilaHook

ALL_DATASETS = ("attendee_statistics", "chat_messages", "questions")
DEFAULT_MAX_XCOM_BYTES = 1 << 20


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
        empty file and logging a warning. Nothing is written then, so an earlier file is kept.
    :param max_xcom_bytes: without ``destination``, fail before pushing when a dataset's records
        exceed this many bytes of JSON; 1 MiB by default, because XCom lives in the metadata DB.
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
        max_xcom_bytes: int = DEFAULT_MAX_XCOM_BYTES,
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
        self.max_xcom_bytes = max_xcom_bytes
        self.max_attempts = max_attempts
        self.retry_budget = retry_budget
        self.voila_conn_id = voila_conn_id

    @cached_property
    def hook(self) -> VoilaHook:
        from airflow_provider_voila.hooks.voila import VoilaHook

        return VoilaHook(self.voila_conn_id, max_attempts=self.max_attempts, retry_budget=self.retry_budget)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_voila.operators._export_steps import (
            check_export_arguments,
            export_to_file,
            export_to_xcom,
        )

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
                records = export_to_xcom(self.hook, arguments, dataset, max_xcom_bytes=self.max_xcom_bytes)
                results[dataset] = records
                count = len(records)
            else:
                written = export_to_file(self.hook, arguments, dataset, fail_on_empty=self.fail_on_empty)
                self.log.info("Wrote %s (%d records, %d bytes)", written.uri, written.records, written.bytes)
                results[dataset] = written.as_dict()
                count = written.records
            self.log.info(
                "Exported %d %s of session %s in %.1f s",
                count,
                dataset,
                arguments.session_id,
                time.monotonic() - started,
            )
            self._check_empty(dataset, count, arguments.session_id)
        return results

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
            from airflow_provider_voila.operators._export_steps import empty_dataset_error

            raise empty_dataset_error(dataset, session_id)
        self.log.warning("Dataset %s of session %s has no records", dataset, session_id)
