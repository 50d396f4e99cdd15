"""Benchmark of bulk registration: the pooled operator engine against a sequential loop and the floor.

Run alone with ``python -m benchmarks.bench_registration [--quick]``; ``run()`` returns the
Markdown section for the benchmarks page.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROWS = 10_000
QUICK_ROWS = 2_000
SEQUENTIAL_SAMPLE = 500
QUICK_SEQUENTIAL_SAMPLE = 100
LATENCY = 0.02  # seconds the fake server adds before each API response
CONCURRENCY = 8  # the operator's default max_concurrency
SERVER_MAX_SECONDS = 900.0  # the server process stops by itself after this long without a command
PROGRAM = "prog-1"

DESCRIPTION = (
    "{rows:,} attendees are registered in one program on the fake Voilà server, which runs in its "
    "own process on 127.0.0.1 and adds {latency_ms:.0f} ms before every API answer. The pooled run "
    "is the engine of `VoilaRegisterAttendeesOperator` with {concurrency} threads, one session and "
    "one token, and the ledger and report on a local temporary folder. The sequential baseline is "
    "a loop of `requests.post` that fetches a fresh token for every row; it runs on the first "
    "{sample} rows and its time is extrapolated to {rows:,} rows. The floor is rows x latency / "
    "concurrency, the time the server's added latency alone takes at that concurrency."
)


@dataclass
class ServerCounts:
    """Request and registration counts that the server process sends back."""

    register_requests: int
    token_requests: int
    registrations: int
    max_per_email: int


def _serve(latency: float, pipe: Any) -> None:
    """Run the fake server here, sending its counts on each command, until the command is "stop"."""
    from airflow_provider_voila.testing import FakeVoilaServer

    with FakeVoilaServer(latency=latency) as server:
        pipe.send(server.connection_json())
        while True:
            if not pipe.poll(SERVER_MAX_SECONDS):
                return
            command = pipe.recv()
            counts = server.registration_counts()
            pipe.send(
                ServerCounts(
                    register_requests=server.counts["register_attendee"],
                    token_requests=server.counts["token"],
                    registrations=sum(counts.values()),
                    max_per_email=max(counts.values(), default=0),
                )
            )
            if command == "stop":
                return


class ServerProcess:
    """The fake server in a child process, so that its threads do not share this process's GIL."""

    def __init__(self, latency: float) -> None:
        self._pipe, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(latency, child), daemon=True
        )

    def __enter__(self) -> ServerProcess:
        self._process.start()
        if not self._pipe.poll(60):
            raise RuntimeError("The fake server process did not start within 60 s.")
        self.connection = self._pipe.recv()
        return self

    def counts(self) -> ServerCounts:
        self._pipe.send("counts")
        return self._pipe.recv()

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._pipe.send("stop")
            self._pipe.recv()
        finally:
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()


def _people(count: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "externalId": f"{prefix}-{index}",
            "firstName": f"First{index}",
            "lastName": "Bench",
            "email": f"{prefix}{index}@example.com",
            "isPersonalDataSharingAccepted": True,
        }
        for index in range(count)
    ]


def _run_pooled(rows: int, folder: Path) -> float:
    from airflow_provider_voila.operators.attendees import VoilaRegisterAttendeesOperator

    operator = VoilaRegisterAttendeesOperator(
        task_id="bench",
        program_id=PROGRAM,
        attendees=_people(rows, "pool"),
        report=str(folder / "report.csv"),
        max_concurrency=CONCURRENCY,
        progress_interval=10.0,
    )
    started = time.perf_counter()
    result = operator.execute({})  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    if result["counts"]["registered"] != rows:
        raise RuntimeError(f"The pooled run registered {result['counts']} of {rows} rows.")
    return elapsed


def _run_sequential(sample: int, connection: str) -> float:
    """Register ``sample`` rows one by one with plain requests and a fresh token per row."""
    import json

    import requests

    settings = json.loads(connection)
    extra = settings["extra"]
    base = f"{settings['host']}/organizations/{extra['organization_id']}/programs/{PROGRAM}/attendees"
    started = time.perf_counter()
    for person in _people(sample, "seq"):
        token = requests.post(
            extra["token_url"],
            auth=(settings["login"], settings["password"]),
            data={"grant_type": "client_credentials", "scope": "voila/partner_access"},
            timeout=30,
        ).json()["access_token"]
        answer = requests.post(base, json=person, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        answer.raise_for_status()
    return time.perf_counter() - started


def run(quick: bool = False) -> str:
    """Run the benchmark, print its figures and return its Markdown section."""
    rows = QUICK_ROWS if quick else ROWS
    sample = QUICK_SEQUENTIAL_SAMPLE if quick else SEQUENTIAL_SAMPLE
    floor = rows * LATENCY / CONCURRENCY

    with ServerProcess(LATENCY) as server, tempfile.TemporaryDirectory() as folder:
        os.environ["AIRFLOW_CONN_VOILA_DEFAULT"] = server.connection
        pooled = _run_pooled(rows, Path(folder))
        after_pool = server.counts()
        sequential_sample = _run_sequential(sample, server.connection)
    sequential = sequential_sample * rows / sample

    figures = [
        ("Pooled engine, measured", pooled, pooled / floor),
        (f"Sequential loop, {sample} rows measured, extrapolated", sequential, sequential / floor),
        ("Floor: rows x latency / concurrency", floor, 1.0),
    ]
    once = after_pool.registrations == rows and after_pool.max_per_email == 1

    lines = [
        "## Registration",
        "",
        DESCRIPTION.format(rows=rows, latency_ms=LATENCY * 1000, concurrency=CONCURRENCY, sample=sample),
        "",
        "| run | wall time (s) | x floor |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {seconds:.1f} | {ratio:.2f} |" for name, seconds, ratio in figures),
        "",
        f"- Pooled run vs sequential loop: {sequential / pooled:.1f}x faster.",
        f"- Token requests during the pooled run: {after_pool.token_requests} (target 1).",
        f"- Registration requests: {after_pool.register_requests}; attendees stored: "
        f"{after_pool.registrations}; each registered once: {'yes' if once else 'NO'}.",
        f"- Target: within 1.25x of the floor; measured {pooled / floor:.2f}x.",
        "",
    ]
    section = "\n".join(lines)
    print(section, flush=True)
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS} rows instead of {ROWS}")
    args = parser.parse_args()
    run(quick=args.quick)


if __name__ == "__main__":
    main()
