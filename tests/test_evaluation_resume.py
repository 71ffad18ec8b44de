"""Interrupted and distributed runs give exactly the results of one uninterrupted local run."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import assert_no_orphans, descendants

from tasksuite.cli import main
from tasksuite.evaluation import evaluate
from tasksuite.evaluation.agents import RANDOM
from tasksuite.evaluation.results import run_hash

TESTS = Path(__file__).resolve().parent
# 3 splits x 3 tasks x 2 seeds = 18 units of about 0.35 s each (slow_random sleeps 0.1 s per episode).
UNITS = 18
ARGS = [
    "evaluate",
    "--agent",
    "evaluation_agents:slow_random",
    "--agent-kwargs",
    '{"delay": 0.1}',
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


def _run_cli(out: Path, workers: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "tasksuite.cli", *ARGS, *extra, "--workers", str(workers), "--out", str(out)]
    # A shell's background job ignores SIGINT, and a process it starts inherits that (pytest run with `&`):
    # the CLI must start with the default SIGINT, or the SIGINT test cannot interrupt it.
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a handler: reset to default across exec
    try:
        # A session of its own: the test can signal the whole process group (the CLI and its workers).
        return subprocess.Popen(
            command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    finally:
        signal.signal(signal.SIGINT, previous)


def _unit_files(out: Path) -> list[Path]:
    return list((out / "units").rglob("*.jsonl")) if (out / "units").exists() else []


def _assert_every_file_is_whole(out: Path, killed: bool = False) -> None:
    """No half-written file; temporaries only after a kill (the next run removes them)."""
    for path in out.rglob("*"):
        if path.is_dir() or (killed and path.name.endswith(".tmp")):
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
@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGKILL, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["SIGKILL", "SIGTERM", "SIGINT-to-the-group"],
)
def test_interrupted_run_leaves_no_worker_and_resumes_to_the_uninterrupted_results(tmp_path, sig, group):
    interrupted = tmp_path / "interrupted"
    process = _run_cli(interrupted, workers=2)
    deadline = time.monotonic() + 120
    # A random point of the first half of the run (any must do): the rest, seconds of sleeping workers, must
    # still be running when the signal lands, even when a busy machine wakes this loop late (units sleep on).
    kill_after = random.randint(1, UNITS // 2)
    while len(_unit_files(interrupted)) < kill_after:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no unit finished in time"
        time.sleep(0.02)
    workers = descendants(process.pid)
    assert len(workers) >= 2, "the run has no worker processes to orphan"
    # Only the main process is signalled (as an OOM killer or `kill PID` does): its workers must follow.
    (os.killpg if group else os.kill)(process.pid, sig)
    _, err = process.communicate(timeout=60)
    assert_no_orphans(workers)
    done = len(_unit_files(interrupted))
    assert kill_after <= done < UNITS, f"the run was not interrupted mid-way ({done} units)"
    if sig == signal.SIGINT:
        assert process.returncode == 130 and b"run the same command again to resume" in err
    else:
        assert process.returncode == -sig
    _assert_every_file_is_whole(interrupted, killed=True)

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


@pytest.mark.slow
def test_a_second_evaluate_on_the_same_folder_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "run"
    first = _run_cli(out, 1)
    deadline = time.monotonic() + 60
    while not _unit_files(out):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.02)
    second = _run_cli(out, 1, "--eval-episodes", "3")  # another E: its units must never join the first's
    _, err = second.communicate(timeout=60)
    assert second.returncode == 2, err.decode()
    assert f"being written by another tasksuite process (pid {first.pid})" in err.decode()
    assert len(err.decode().strip().splitlines()) == 1
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err.decode()
    config = json.loads((out / "config.json").read_text())
    assert config["eval_episodes"] == 2
    runs = {json.loads(line)["run"] for path in _unit_files(out) for line in path.read_text().splitlines()}
    assert runs == {run_hash(config)} and len(_unit_files(out)) == UNITS


SLEEPING_POOL = """
import sys, time
from tasksuite.evaluation.runner import Runner

def sleep(seconds):
    time.sleep(seconds)
    return seconds

if __name__ == "__main__":
    with Runner("local", workers=2) as runner:  # the pool validate's jobs run on, too
        print("started", flush=True)
        for _ in runner.map(sleep, [60, 60, 60]):
            pass
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_runners_workers_end_with_the_process_that_started_them(tmp_path, sig):
    script = tmp_path / "pool.py"
    script.write_text(SLEEPING_POOL)
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert process.stdout.readline() == b"started\n"
        deadline = time.monotonic() + 60
        while len(workers := descendants(process.pid)) < 3:  # the forkserver and two workers
            assert time.monotonic() < deadline, "the pool's workers did not start"
            time.sleep(0.1)
        os.kill(process.pid, sig)
        process.wait(timeout=30)
        assert_no_orphans(workers)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
