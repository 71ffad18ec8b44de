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
from collections.abc import Callable

import pytest

from tasksuite.speed import calls_for, loop, time_loop

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")

_SUMMARY: list[tuple[str, str, float, float, str]] = []
_LINES: list[str] = []  # figures that are not ratios (memory, start-up, Meta-World), shown after the ratios


@pytest.fixture
def against(benchmark, request):
    """``against(subject, reference, reference_name=..., units=..., unit=..., seconds=...)``.

    Benchmarks ``subject`` with pytest-benchmark and times ``reference`` with
    the same kind of loop in alternating rounds (each loop sized to last
    about ``seconds``), then
    records ``ratio = time(subject) / time(reference)`` (below 1 means faster
    than the reference) and the throughput in ``unit``/s, where one call does
    ``units`` units of work (e.g. env steps). Returns the ratio.
    """

    def run(
        subject: Callable[[], object],
        reference: Callable[[], object],
        *,
        reference_name: str,
        units: int = 1,
        unit: str = "step",
        seconds: float = 0.2,
        rounds: int = 5,
    ) -> float:
        reference_calls, calls = calls_for(reference, seconds), calls_for(subject, seconds)
        reference_samples: list[float] = []
        # pytest-benchmark runs `setup` before each timed round: timing the reference there
        # alternates the two sides, so both see the same machine load.
        benchmark.pedantic(
            loop,
            args=(subject, calls),
            setup=lambda: reference_samples.append(time_loop(reference, reference_calls)),
            rounds=rounds,
            warmup_rounds=1,
        )
        reference_s = statistics.median(reference_samples)
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


@pytest.fixture
def summary_line():
    """``summary_line(text)``: show ``text`` in the terminal summary (test output itself is captured)."""
    return _LINES.append


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--metaworld-python",
        default=None,
        help="interpreter of a separate virtualenv with metaworld installed, for the Meta-World comparison",
    )


def pytest_terminal_summary(terminalreporter) -> None:
    if _SUMMARY:
        terminalreporter.section("tasksuite speed: ratios to references measured in the same run")
        width = max(len(name) for name, *_ in _SUMMARY)
        for name, reference, per_second, ratio, unit in _SUMMARY:
            terminalreporter.write_line(
                f"{name:<{width}}  {per_second:>14,.0f} {unit}/s   {ratio:8.3g}x the time of {reference}"
            )
    if _LINES:
        terminalreporter.section("tasksuite: build time, memory, start-up, Meta-World")
        for line in _LINES:
            terminalreporter.write_line(line)
