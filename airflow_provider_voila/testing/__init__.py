"""Fake Voilà server for tests, demos and benchmarks: real HTTP on 127.0.0.1, seeded data."""

from __future__ import annotations

from airflow_provider_voila.testing import faults
from airflow_provider_voila.testing.data import EventData, SessionSizes
from airflow_provider_voila.testing.server import FakeVoilaServer

__all__ = ["EventData", "FakeVoilaServer", "SessionSizes", "faults"]
