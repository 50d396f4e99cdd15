"""Test DAG: registers the attendees given in the DAG-run conf, one mapped task each.

Task retries are on, so that tests can check that a registration with an unknown outcome is not
sent again by an Airflow retry either.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_provider_voila.operators.attendees import VoilaRegisterAttendeeOperator


@dag(
    dag_id="voila_test_register_batch",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    default_args={"retries": 2, "retry_delay": pendulum.duration(seconds=0)},
)
def voila_test_register_batch() -> None:
    @task
    def attendees(**context: object) -> list[dict[str, object]]:
        return context["dag_run"].conf["attendees"]  # type: ignore[attr-defined]

    VoilaRegisterAttendeeOperator.partial(
        task_id="register", program_id="{{ dag_run.conf['program_id'] }}"
    ).expand_kwargs(attendees())


voila_test_register_batch()
