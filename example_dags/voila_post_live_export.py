"""
Export each session of a Voilà program after the live: attendee statistics, chat messages and questions.

Runs daily. For every session id in the ``session_ids`` param, one mapped task writes the three
datasets as JSON Lines under ``<destination>/<YYYY-MM-DD>/<program_id>/<session_id>/``; the last
task logs and returns the record counts per session.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from airflow_provider_voila.operators.export import VoilaExportSessionOperator

log = logging.getLogger(__name__)


@dag(
    dag_id="voila_post_live_export",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["voila", "example"],
    params={
        "program_id": Param("prog-1", type="string", minLength=1, description="Voilà program id"),
        "session_ids": Param(
            ["sess-1", "sess-2", "sess-3"],
            type="array",
            minItems=1,
            description="Sessions of the program to export",
        ),
        "destination": Param(
            "file:///tmp/voila-exports",
            type="string",
            description="Base folder URI, for example s3://aws_default@bucket/voila",
        ),
    },
)
def voila_post_live_export() -> None:
    @task
    def plan_exports(params: dict[str, Any], **context: Any) -> list[dict[str, str]]:
        """Return one export per session, each with its own dated destination folder."""
        run_date = context.get("logical_date") or context["dag_run"].run_after
        day = pendulum.instance(run_date).in_timezone("UTC").to_date_string()
        base = str(params["destination"]).rstrip("/")
        program_id = params["program_id"]
        return [
            {"session_id": session_id, "destination": f"{base}/{day}/{program_id}/{session_id}"}
            for session_id in params["session_ids"]
        ]

    export = VoilaExportSessionOperator.partial(
        task_id="export_session",
        program_id="{{ params.program_id }}",
        file_format="jsonl",
        retries=2,
        retry_delay=pendulum.duration(minutes=1),
    ).expand_kwargs(plan_exports())

    @task
    def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
        """Log the files written per dataset and return the record totals."""
        totals: dict[str, int] = {}
        # Indexing by position reads exactly len(results) XComs from the lazy sequence.
        for index in range(len(results)):
            for dataset, written in results[index].items():
                totals[dataset] = totals.get(dataset, 0) + written["records"]
                log.info("%s: %d records, %d bytes", written["uri"], written["records"], written["bytes"])
        return {"sessions": len(results), "records": totals}

    summarize(export.output)


voila_post_live_export()
