"""
Register every attendee listed in a CSV or JSON Lines file in one Voilà program, with a report.

By default it reads ``data/attendees.csv`` beside this file, a small synthetic export with a BOM,
semicolons and quoted fields. Trigger with conf such as ``{"program_id": "prog-1", "source":
"s3://aws_default@crm-exports/attendees.csv", "report": "/data/voila/attendees-report.csv"}``.
The report gets one line per input row; a ledger beside it lets a retry skip the rows already
registered. The task returns the counts per status and the report URI.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import Param, dag

from airflow_provider_voila.operators.attendees import VoilaRegisterAttendeesOperator

SAMPLE_CSV = Path(__file__).resolve().parent / "data" / "attendees.csv"


@dag(
    dag_id="voila_register_attendees",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["voila", "example"],
    params={
        "program_id": Param("prog-1", type="string", minLength=1),
        "source": Param(
            str(SAMPLE_CSV), type="string", minLength=1, description="CSV or JSON Lines path/URI"
        ),
        "report": Param(
            "/tmp/voila/attendees-report.csv",
            type="string",
            minLength=1,
            description="report path or URI; the ledger is written beside it",
        ),
    },
)
def voila_register_attendees() -> None:
    VoilaRegisterAttendeesOperator(
        task_id="register_attendees",
        program_id="{{ params.program_id }}",
        source="{{ params.source }}",
        report="{{ params.report }}",
        max_concurrency=4,
    )


voila_register_attendees()
