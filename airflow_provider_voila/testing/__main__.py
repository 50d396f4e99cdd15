"""Run the fake Voilà server: ``python -m airflow_provider_voila.testing [--port N] [--conn-file PATH]``.

It prints an ``export AIRFLOW_CONN_VOILA_DEFAULT=...`` line for the connection (and writes the
connection JSON to ``--conn-file`` if given), then serves until interrupted or until
``--max-seconds`` have passed.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from pathlib import Path
from urllib.parse import quote

from airflow_provider_voila.testing.server import FakeVoilaServer


def positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def port_number(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {text}")
    return value


def connection_uri(server: FakeVoilaServer) -> str:
    """Return the connection in Airflow's URI form, with every value URL-encoded."""
    return (
        f"voila://http://{quote(server.client_id, safe='')}:{quote(server.client_secret, safe='')}"
        f"@127.0.0.1:{server.port}?organization_id={quote(server.organization_id, safe='')}"
        f"&token_url={quote(server.token_url, safe='')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_voila.testing", description=__doc__)
    parser.add_argument("--port", type=port_number, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--client-secret", help="client secret to accept (default: random per run)")
    parser.add_argument("--conn-file", type=Path, help="file to write the connection JSON to")
    parser.add_argument(
        "--max-seconds",
        type=positive_seconds,
        default=1800,
        help="stop after this many seconds (default 1800)",
    )
    args = parser.parse_args(argv)

    try:
        server = FakeVoilaServer(port=args.port, client_secret=args.client_secret)
    except OSError as err:
        parser.exit(1, f"Cannot listen on 127.0.0.1:{args.port}: {err.strerror}. Pick another --port.\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        connection = server.connection_json()
        if args.conn_file:
            try:
                args.conn_file.write_text(connection + "\n", encoding="utf-8")
            except OSError as err:
                parser.exit(1, f"Cannot write --conn-file {args.conn_file}: {err.strerror}.\n")
        print(f"Fake Voilà API on {server.base_url}, token endpoint {server.token_url}", flush=True)
        print(f"Programs and sessions: {server.data.programs}", flush=True)
        print(f"export AIRFLOW_CONN_VOILA_DEFAULT={shlex.quote(connection)}", flush=True)
        print(f"# or, as a URI: export AIRFLOW_CONN_VOILA_DEFAULT={shlex.quote(connection_uri(server))}")
        try:
            stop.wait(args.max_seconds)
        except KeyboardInterrupt:
            pass
        print(f"Stopping the fake Voilà server; requests served: {dict(server.counts)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
