"""
Register one attendee in a Voilà program, from the DAG params or the DAG-run conf.

Trigger with conf such as ``{"program_id": "prog-1", "first_name": "Ada", "last_name": "Lovelace",
"email": "ada@example.com", "personal_data_sharing_accepted": true, "external_id": "crm-1815"}``.
The task returns the created attendee, including its access link.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from airflow_provider_voila.operators.attendees import VoilaRegisterAttendeeOperator


@dag(
    dag_id="voila_register_attendee",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["voila", "example"],
    # Keeps the consent a boolean after templating, as the API requires.
    render_template_as_native_obj=True,
    params={
        "program_id": Param("prog-1", type="string", minLength=1),
        "first_name": Param("Ada", type="string", minLength=1),
        "last_name": Param("Lovelace", type="string", minLength=1),
        "email": Param("ada@example.com", type="string", minLength=3),
        "personal_data_sharing_accepted": Param(True, type="boolean"),
        "external_id": Param(None, type=["null", "string"]),
    },
)
def voila_register_attendee() -> None:
    VoilaRegisterAttendeeOperator(
        task_id="register_attendee",
        program_id="{{ params.program_id }}",
        first_name="{{ params.first_name }}",
        last_name="{{ params.last_name }}",
        attendee_email="{{ params.email }}",
        personal_data_sharing_accepted="{{ params.personal_data_sharing_accepted }}",
        external_id="{{ params.external_id }}",
    )


voila_register_attendee()
