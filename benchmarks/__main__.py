"""Run every benchmark and write docs/benchmarks.md: ``python -m benchmarks [--quick]``."""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import sys
from importlib.metadata import version

from benchmarks._common import ROOT

MODULES = ["bench_export", "bench_registration", "bench_import", "bench_tokens"]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_gib:.0f} GiB memory; Python {platform.python_version()}, "
        f"apache-airflow {version('apache-airflow')}, {platform.system()} {platform.release()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run; page not written")
    args = parser.parse_args()
    sections = []
    for name in MODULES:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError:
            print(f"{name}: not present, skipped", flush=True)
            continue
        print(f"Running {name} ...", flush=True)
        sections.append(module.run(quick=args.quick))
    today = datetime.date.today().isoformat()
    page = "\n\n".join(
        [
            "# Benchmarks",
            f"Measured by `make bench` on {today}, on {machine()}. Every figure on this page comes from "
            "one run, with the alternatives measured side by side on the same machine; the fake Voilà "
            "server runs on 127.0.0.1.",
            *sections,
        ]
    )
    if args.quick:
        print(page)
        return 0
    path = ROOT / "docs" / "benchmarks.md"
    path.write_text(page + "\n", encoding="utf-8")
    print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
