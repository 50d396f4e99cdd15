"""One export measured in a fresh process: ``python -m benchmarks._export_child MODE FORMAT OUT_DIR``.

MODE is ``provider`` (the export operator), ``naive`` (one ``requests.get``, ``.json()``, then
write the records) or ``raw`` (download the body to nowhere). The connection comes from
``AIRFLOW_CONN_VOILA_DEFAULT``, the session from ``BENCH_PROGRAM`` and ``BENCH_SESSION``. Prints one
JSON line: wall seconds of the export alone, peak RSS and RSS before the export, in MB.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path


def peak_rss_mb() -> float:
    """Return this process's peak resident size since exec, from VmHWM.

    ``getrusage().ru_maxrss`` would not do: Linux carries it across exec, so a child forked from
    the benchmark process (which contains the fake server's bodies) would report the parent's size.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # the value is in kB
    raise RuntimeError("VmHWM not found in /proc/self/status")


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def connection() -> dict[str, str]:
    conn = json.loads(os.environ["AIRFLOW_CONN_VOILA_DEFAULT"])
    return {
        "base_url": conn["host"],
        "token_url": conn["extra"]["token_url"],
        "organization_id": conn["extra"]["organization_id"],
        "login": conn["login"],
        "password": conn["password"],
    }


def session_url(settings: dict[str, str]) -> str:
    program, session = os.environ["BENCH_PROGRAM"], os.environ["BENCH_SESSION"]
    return (
        f"{settings['base_url']}/organizations/{settings['organization_id']}/programs/{program}"
        f"/sessions/{session}/chat-messages"
    )


def token(requests: object, settings: dict[str, str]) -> str:
    answer = requests.post(  # type: ignore[attr-defined]
        settings["token_url"],
        auth=(settings["login"], settings["password"]),
        data={"grant_type": "client_credentials", "scope": "voila/partner_access"},
        timeout=30,
    )
    return str(answer.json()["access_token"])


def run_provider(file_format: str, out_dir: Path) -> None:
    from airflow_provider_voila.operators.export import VoilaExportSessionOperator

    operator = VoilaExportSessionOperator(
        task_id="bench",
        program_id=os.environ["BENCH_PROGRAM"],
        session_id=os.environ["BENCH_SESSION"],
        datasets=["chat_messages"],
        destination=out_dir.as_uri(),
        file_format=file_format,
    )
    operator.execute(context={})  # type: ignore[arg-type]


def run_naive(file_format: str, out_dir: Path) -> None:
    import requests

    settings = connection()
    headers = {"Authorization": f"Bearer {token(requests, settings)}"}
    records = requests.get(session_url(settings), headers=headers, timeout=300).json()
    path = out_dir / f"chat_messages.{file_format}"
    with path.open("w", encoding="utf-8", newline="") as out:
        if file_format == "jsonl":
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            columns = list(dict.fromkeys(field for record in records for field in record))
            writer = csv.DictWriter(out, fieldnames=columns)
            writer.writeheader()
            for record in records:
                writer.writerow(
                    {
                        key: json.dumps(value) if isinstance(value, (dict, list)) else value
                        for key, value in record.items()
                    }
                )


def run_raw(_file_format: str, _out_dir: Path) -> None:
    import requests

    settings = connection()
    headers = {"Authorization": f"Bearer {token(requests, settings)}"}
    with (
        requests.get(session_url(settings), headers=headers, timeout=300, stream=True) as response,
        open(os.devnull, "wb") as sink,
    ):
        for chunk in response.iter_content(1 << 20):
            sink.write(chunk)


MODES = {"provider": run_provider, "naive": run_naive, "raw": run_raw}


def main() -> None:
    mode, file_format, out_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    if mode == "provider":
        # Import what the task runner has loaded before execute() runs, so that only the export is timed.
        import airflow_provider_voila.hooks.voila
        import airflow_provider_voila.operators._export_steps  # noqa: F401
    else:
        import requests  # noqa: F401
    before = current_rss_mb()
    started = time.perf_counter()
    MODES[mode](file_format, out_dir)
    wall = time.perf_counter() - started
    print(json.dumps({"wall": wall, "peak_rss_mb": peak_rss_mb(), "rss_before_mb": before}))


if __name__ == "__main__":
    main()
