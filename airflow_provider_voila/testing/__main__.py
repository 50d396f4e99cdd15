"""Run the fake Voilà server: ``python -m airflow_provider_voila.testing [--port N] [--conn-file PATH]``.

It prints the connection as the JSON form of ``AIRFLOW_CONN_VOILA_DEFAULT`` (and writes it to
``--conn-file`` if given), then serves until interrupted or until ``--max-seconds`` have passed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from airflow_provider_voila.testing.server import FakeVoilaServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_voila.testing", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--conn-file", type=Path, help="file to write the connection JSON to")
    parser.add_argument(
        "--max-seconds", type=float, default=1800, help="stop after this many seconds (default 1800)"
    )
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with FakeVoilaServer(port=args.port) as server:
        connection = server.connection_json()
        if args.conn_file:
            args.conn_file.write_text(connection + "\n", encoding="utf-8")
        print(f"Fake Voilà API on {server.base_url}, token endpoint {server.token_url}", flush=True)
        print(f"Programs and sessions: {server.data.programs}", flush=True)
        print(f"AIRFLOW_CONN_VOILA_DEFAULT='{connection}'", flush=True)
        try:
            stop.wait(args.max_seconds)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
