"""Interrupted and distributed runs give exactly the results of one uninterrupted local run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasksuite.cli import main
from tasksuite.evaluation import evaluate
from tasksuite.evaluation.agents import RANDOM

TESTS = Path(__file__).resolve().parent
# 3 splits x 3 tasks x 2 seeds = 18 units of about 0.2 s each (slow_random sleeps 0.05 s per episode).
UNITS = 18
ARGS = [
    "evaluate",
    "--agent",
    "evaluation_agents:slow_random",
    "--agent-kwargs",
    '{"delay": 0.05}',
    "--benchmark",
    "navigation-meta",
    "--protocol",
    "ood-sweep",
    "--max-tasks",
    "3",
    "--seeds",
    "2",
    "--adapt-episodes",
    "1",
    "--eval-episodes",
    "2",
    "--quiet",
]


def _run_cli(out: Path, workers: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "tasksuite.cli", *ARGS, "--workers", str(workers), "--out", str(out)]
    # A session of its own: the test can signal the whole process group (the CLI and its workers).
    return subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _unit_files(out: Path) -> list[Path]:
    return list((out / "units").rglob("*.jsonl")) if (out / "units").exists() else []


def _assert_every_file_is_whole(out: Path) -> None:
    for path in out.rglob("*"):
        if path.is_dir():
            continue
        assert not path.name.endswith(".tmp"), f"temp file left behind: {path}"
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".jsonl":
            lines = path.read_text().splitlines()
            assert lines and all(json.loads(line) for line in lines), path
        elif path.suffix == ".png":
            data = path.read_bytes()
            assert data.startswith(b"\x89PNG") and data.rstrip().endswith(b"IEND\xaeB`\x82"), path


def _same_results(a: Path, b: Path) -> None:
    assert (a / "episodes.jsonl").read_bytes() == (b / "episodes.jsonl").read_bytes()
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    assert (a / "references.json").read_bytes() == (b / "references.json").read_bytes()
    units_a = {p.relative_to(a): p.read_bytes() for p in _unit_files(a)}
    units_b = {p.relative_to(b): p.read_bytes() for p in _unit_files(b)}
    assert units_a == units_b and len(units_a) == UNITS


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_interrupted_run_resumes_to_the_uninterrupted_results(tmp_path, sig):
    interrupted = tmp_path / "interrupted"
    process = _run_cli(interrupted, workers=2)
    deadline = time.monotonic() + 120
    while len(_unit_files(interrupted)) < 3:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no unit finished in time"
        time.sleep(0.02)
    os.killpg(process.pid, sig)
    _, err = process.communicate(timeout=60)
    done = len(_unit_files(interrupted))
    assert 3 <= done < UNITS, "the run was not interrupted mid-way"
    if sig == signal.SIGINT:
        assert process.returncode == 130 and b"run the same command again to resume" in err
    else:
        assert process.returncode == -signal.SIGKILL
    _assert_every_file_is_whole(interrupted)

    resumed = _run_cli(interrupted, workers=2)
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()

    straight = tmp_path / "straight"
    assert main([*ARGS, "--workers", "1", "--out", str(straight)]) == 0  # serial, in this process
    _assert_every_file_is_whole(interrupted)
    _same_results(interrupted, straight)


@pytest.mark.slow
def test_ray_backend_gives_the_local_results(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray", reason="the dev extra installs ray")
    options = {"max_tasks": 2, "seeds": 2, "adapt_episodes": 1, "eval_episodes": 2, "progress": False}
    # Separate caches: Ray measures the references too.
    monkeypatch.setenv("TASKSUITE_CACHE", str(tmp_path / "cache-ray"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        evaluate(tmp_path / "ray", RANDOM, "navigation-meta", "ood-sweep", backend="ray", **options)
    finally:
        ray.shutdown()
    monkeypatch.setenv("TASKSUITE_CACHE", str(tmp_path / "cache-local"))
    evaluate(tmp_path / "local", RANDOM, "navigation-meta", "ood-sweep", workers=1, **options)
    for name in ("episodes.jsonl", "summary.json", "references.json"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    assert len(list((tmp_path / "cache-ray").rglob("*.json"))) == 3 * 2
