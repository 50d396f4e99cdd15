"""Benchmarks run by ``make bench``; each ``bench_*`` module has ``run(quick) -> str``, a Markdown section."""

from __future__ import annotations
