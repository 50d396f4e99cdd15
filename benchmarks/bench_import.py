"""Import cost of the operators in a DAG file, on top of ``airflow.sdk``."""

from __future__ import annotations

import statistics
import subprocess
import sys

from benchmarks._common import airflow_env, table, temp_dir

TARGET_MS = 30
MEASURE = (
    "import time, airflow.sdk\n"
    "started = time.perf_counter()\n"
    "import airflow_provider_voila.operators.export, airflow_provider_voila.operators.attendees\n"
    "print((time.perf_counter() - started) * 1000)\n"
)
BASELINE = (
    "import time\n"
    "started = time.perf_counter()\n"
    "import airflow.sdk\n"
    "print((time.perf_counter() - started) * 1000)\n"
)


def median_ms(code: str, runs: int, env: dict[str, str]) -> float:
    samples = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
        )
        samples.append(float(result.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def run(quick: bool = False) -> str:
    runs = 5 if quick else 21
    env = airflow_env(temp_dir("voila-bench-import-"))
    operators = median_ms(MEASURE, runs, env)
    sdk = median_ms(BASELINE, runs, env)
    print(
        f"import: operators {operators:.1f} ms on top of airflow.sdk ({sdk:.0f} ms), median of {runs}",
        flush=True,
    )
    verdict = "met" if operators < TARGET_MS else f"missed by {operators - TARGET_MS:.1f} ms"
    rows = [
        ["airflow.sdk alone", f"{sdk:.1f}"],
        ["the two operator modules, after airflow.sdk", f"{operators:.1f}"],
    ]
    return "\n\n".join(
        [
            "## Import cost",
            f"Median over {runs} fresh processes. The operator modules import neither `requests` nor "
            "`orjson`: hooks and clients load when a task runs.",
            table(["import", "ms"], rows),
            f"- Operators on top of `airflow.sdk`: {operators:.1f} ms "
            f"(target under {TARGET_MS} ms: {verdict}), against {sdk:.0f} ms for `airflow.sdk` itself.",
        ]
    )


if __name__ == "__main__":
    print(run())
