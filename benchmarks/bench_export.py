"""Export of one large session: this provider against a naive export and the raw download.

Each case runs in a fresh process, so that its peak RSS is its own; the fake server runs in this
process and builds each body before any timing starts.
"""

from __future__ import annotations

import shutil

from airflow_provider_voila.testing import EventData, FakeVoilaServer, SessionSizes
from benchmarks._common import airflow_env, run_child, table, temp_dir

TARGET_RSS_MB = 150
TARGET_JSONL_RATIO = 0.7


def run(quick: bool = False) -> str:
    counts = [20_000, 100_000] if quick else [100_000, 1_000_000]
    sessions = {
        f"s{count}": SessionSizes(attendee_statistics=1, chat_messages=count, questions=1) for count in counts
    }
    data = EventData(programs={"bench": list(sessions)}, overrides=sessions)
    rows = []
    findings = []
    with FakeVoilaServer(data=data) as server:
        home = temp_dir("voila-bench-export-")
        for count in counts:
            session = f"s{count}"
            body_bytes = len(server.body("chat_messages", "bench", session))
            env = airflow_env(
                home,
                AIRFLOW_CONN_VOILA_DEFAULT=server.connection_json(),
                BENCH_PROGRAM="bench",
                BENCH_SESSION=session,
            )
            raw = run_child(["benchmarks._export_child", "raw", "jsonl", str(home)], env)
            rows.append(_row(count, body_bytes, "raw download to /dev/null", "-", raw, raw))
            for file_format in ("jsonl", "csv"):
                results = {}
                for mode in ("provider", "naive"):
                    out_dir = temp_dir(f"voila-bench-{mode}-")
                    results[mode] = run_child(
                        ["benchmarks._export_child", mode, file_format, str(out_dir)], env
                    )
                    shutil.rmtree(out_dir, ignore_errors=True)
                rows.append(
                    _row(
                        count, body_bytes, "this provider", file_format, results["provider"], results["naive"]
                    )
                )
                rows.append(_row(count, body_bytes, "naive", file_format, results["naive"], results["naive"]))
                ratio = results["provider"]["wall"] / results["naive"]["wall"]
                print(
                    f"export {count} messages {file_format}: provider {results['provider']['wall']:.2f} s "
                    f"{results['provider']['peak_rss_mb']:.0f} MB, naive {results['naive']['wall']:.2f} s "
                    f"{results['naive']['peak_rss_mb']:.0f} MB, ratio {ratio:.2f}, raw {raw['wall']:.2f} s",
                    flush=True,
                )
                if count == max(counts):
                    findings.append(_finding(file_format, results["provider"], ratio))
        shutil.rmtree(home, ignore_errors=True)
    bytes_per_message = body_bytes / max(counts)
    header = [
        "messages",
        "body MB",
        "path",
        "format",
        "wall s",
        "peak RSS MB",
        "RSS before MB",
        "wall vs naive",
    ]
    return "\n\n".join(
        [
            "## Export of one session",
            f"Chat messages of one session, about {bytes_per_message:.0f} bytes each as JSON, exported to "
            "local disk (`file://`). Each case runs in a fresh "
            "process; wall time covers the export alone, and peak RSS is the process's maximum resident "
            'size, Airflow imports included ("RSS before" is the size just before the export starts).',
            table(header, rows),
            "\n".join(findings),
        ]
    )


def _row(count: int, body_bytes: int, path: str, file_format: str, result: dict, naive: dict) -> list[str]:
    return [
        f"{count:,}",
        f"{body_bytes / 1e6:.0f}",
        path,
        file_format,
        f"{result['wall']:.2f}",
        f"{result['peak_rss_mb']:.0f}",
        f"{result['rss_before_mb']:.0f}",
        f"{result['wall'] / naive['wall']:.2f}x",
    ]


def _finding(file_format: str, provider: dict, ratio: float) -> str:
    rss = provider["peak_rss_mb"]
    rss_note = "met" if rss < TARGET_RSS_MB else f"missed by {rss - TARGET_RSS_MB:.0f} MB"
    line = f"- {file_format}: peak RSS {rss:.0f} MB (target under {TARGET_RSS_MB} MB: {rss_note})"
    if file_format == "jsonl":
        wall_note = "met" if ratio <= TARGET_JSONL_RATIO else f"missed by {ratio - TARGET_JSONL_RATIO:.2f}"
        line += (
            f"; wall time {ratio:.2f}x the naive export (target at most {TARGET_JSONL_RATIO}x: {wall_note})"
        )
    else:
        line += f"; wall time {ratio:.2f}x the naive export"
    return line + "."


if __name__ == "__main__":
    print(run())
