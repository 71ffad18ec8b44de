"""Shared benchmark machinery: every speed figure is a ratio to a reference timed in the same run.

Run with ``pytest benchmarks`` (add ``--benchmark-json out.json`` to keep the
numbers: each result's ``extra_info`` holds the reference, the ratio and the
throughput). A benchmark calls the ``against`` fixture with the code under
test and a reference doing the same work the plain way (raw ``mujoco.mj_step``,
a plain Gymnasium env); both are timed with the same loop, in the same process,
moments apart, so the ratio is meaningful on any machine.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")

_SUMMARY: list[tuple[str, str, float, float, str]] = []


def _loop(fn: Callable[[], object], calls: int) -> None:
    for _ in range(calls):
        fn()


def seconds_per_call(fn: Callable[[], object], calls: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean time of one call in a loop of ``calls`` calls."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        _loop(fn, calls)
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


@pytest.fixture
def against(benchmark, request):
    """``against(subject, reference, reference_name=..., units=..., unit=..., calls=...)``.

    Benchmarks ``subject`` with pytest-benchmark, times ``reference`` with the
    same loop, and records ``ratio = time(subject) / time(reference)`` (below 1
    means faster than the reference) and the throughput in ``unit``/s, where
    one call does ``units`` units of work (e.g. env steps). Returns the ratio.
    """

    def run(
        subject: Callable[[], object],
        reference: Callable[[], object],
        *,
        reference_name: str,
        units: int = 1,
        unit: str = "step",
        calls: int = 1000,
        rounds: int = 5,
    ) -> float:
        _loop(reference, calls)  # warm-up
        reference_s = seconds_per_call(reference, calls, rounds)
        benchmark.pedantic(_loop, args=(subject, calls), rounds=rounds, warmup_rounds=1)
        subject_s = benchmark.stats.stats.median / calls
        ratio = subject_s / reference_s
        benchmark.extra_info.update(
            reference=reference_name,
            ratio=ratio,
            unit=unit,
            per_second=units / subject_s,
            reference_per_second=units / reference_s,
        )
        _SUMMARY.append((request.node.name, reference_name, units / subject_s, ratio, unit))
        return ratio

    return run


def pytest_terminal_summary(terminalreporter) -> None:
    if not _SUMMARY:
        return
    terminalreporter.section("tasksuite speed: ratios to references measured in the same run")
    width = max(len(name) for name, *_ in _SUMMARY)
    for name, reference, per_second, ratio, unit in _SUMMARY:
        terminalreporter.write_line(
            f"{name:<{width}}  {per_second:>14,.0f} {unit}/s   {ratio:8.3g}x the time of {reference}"
        )
