"""``tasksuite validate``: train every reference baseline on its benchmarks, evaluate each trained
agent with the evaluation harness, and write one report.

The plan (what is trained, with which budget and seeds) is the table of
:mod:`tasksuite.baselines.plan`; the report (summary, statistics, plots) is
:mod:`tasksuite.evaluation.validation`, which reads only the folder. This module runs jobs.

A training job trains (resuming an interrupted run), then evaluates with
:func:`tasksuite.evaluation.evaluate`: the final checkpoint under the ood-sweep protocol (meta-test
on the test tasks and on every OOD level, with the K adaptation episodes the method meta-trains
with; the multi-task agent under the multi-task protocol and the ood-sweep, K = 0), the method's
control on the test tasks (same checkpoint, tasks and seeds, the mechanism removed), and every
learning-curve snapshot on the test tasks; then, for the meta-RL methods, the adaptation sweep of
the final checkpoint on the test tasks (K = 0, 1, 2, 4, 8, 16 and the trained K; MAML also 0-3
test-time gradient steps), and for RL² and the in-context agent its few-shot-demos sweep (D = 0, 1,
3, 10 oracle demonstrations, test tasks and every OOD level). A transfer job runs the harness's transfer protocol.
Jobs run side by side, one per worker process (local processes, or Ray with ``backend="ray"``),
each on one torch thread.

::

    OUT/
      plan.json              the plan: running validate on OUT again resumes it (the trainings it holds
                             must be in the plan unchanged, or with a larger budget to train on; rows
                             added to the plan join it)
      runs/<job>/            checkpoint.pt, progress.csv, snapshots/<env steps>.pt, train.log,
                             trained.json (env steps, wall-clock) once the budget is spent
      evaluations/<job>/     the harness's results folder of the trained agent; control/ and
                             curve/<env steps>/ beside it; evaluated.json once all are finished;
                             sweep/ (adaptation-sweep protocol) and swept.json once it is;
                             demos/ (few-shot-demos) and demonstrated.json once it is
      transfer/<benchmark>/  the harness's results folder of the transfer protocol
      errors/<job>.json      a job that raised, with its traceback (removed when it later succeeds)
      sessions.json          command, part of the plan, wall-clock, cores and load of every session
      summary.json, report.md, plots/*.png

Re-running skips finished trainings and evaluation units; ``validate(..., methods=, benchmarks=,
seeds=)`` runs a part of the plan into the same folder, and the report covers what is finished.

This module lives with the baselines, not in ``tasksuite``: it needs torch (the ``baselines`` extra).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from tasksuite.baselines import train_baseline
from tasksuite.baselines.common import CHECKPOINT, PROGRESS, read_progress, snapshots
from tasksuite.baselines.plan import Plan, Row, Training, Transfer, full_plan, quick_plan
from tasksuite.baselines.scaling import scaling_benchmark
from tasksuite.core.errors import TasksuiteError
from tasksuite.core.folder import claim_folder
from tasksuite.core.io import atomic_write_json
from tasksuite.evaluation.agents import Factory
from tasksuite.evaluation.harness import evaluate
from tasksuite.evaluation.runner import Runner
from tasksuite.evaluation.validation import CONTROL, CURVE, EVALUATED, FINAL_EVALUATIONS, TRAINED, write_report

__all__ = ["Job", "Plan", "Training", "Transfer", "full_plan", "quick_plan", "run_job", "validate"]

#: The agent factory the harness calls on a checkpoint (``checkpoint=...`` and the baseline's options).
AGENT = "tasksuite.baselines:load_agent"


@dataclass(frozen=True)
class Job:
    """One training (then its evaluations) or one transfer run, with where to write (picklable)."""

    out: Path
    work: Training | Transfer
    eval_episodes: int
    max_tasks: int | None


@dataclass(frozen=True)
class JobOutcome:
    """A job's name and, if it raised, the error and its traceback."""

    name: str
    error: str | None = None
    traceback: str | None = None


def run_job(job: Job) -> JobOutcome:
    """Run one job (in a worker process); an exception becomes the outcome's error."""
    try:
        torch.set_num_threads(1)  # one core per job: jobs run side by side on the workers' cores
        if isinstance(job.work, Training):
            _train(job.out, job.work)
            _evaluate(job, job.work)
            for protocol in job.work.final_protocols:
                _final_evaluation(job, job.work, protocol)
        else:
            _transfer(job, job.work)
        return JobOutcome(job.work.name)
    except Exception as error:  # one failed job must not take the others down: report it
        return JobOutcome(job.work.name, f"{type(error).__name__}: {error}", traceback.format_exc())


def finished(root: Path, work: Training | Transfer) -> bool:
    """Whether a job finished in an earlier run on the validate folder ``root``."""
    if isinstance(work, Training):
        folder = root / "evaluations" / work.name
        return (
            (root / "runs" / work.name / TRAINED).exists()
            and (folder / EVALUATED).exists()
            and all((folder / FINAL_EVALUATIONS[protocol][1]).exists() for protocol in work.final_protocols)
        )
    return (root / "transfer" / work.benchmark / EVALUATED).exists()


def _train(out: Path, training: Training) -> None:
    run = out / "runs" / training.name
    if (run / TRAINED).exists():
        return
    run.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    row = training.row
    benchmark = row.benchmark if row.train_tasks is None else scaling_benchmark(row.benchmark, row.train_tasks)
    # The training's progress bar goes to its log: the console shows validate's own bar.
    with open(run / "train.log", "a", encoding="utf-8") as log, contextlib.redirect_stderr(log):
        train_baseline(row.method, benchmark, run, steps=row.steps, seed=training.seed, resume=True, **row.overrides)
    env_steps = read_progress(run)[-1]["env_steps"]
    earlier = sum(json.loads(p.read_text(encoding="utf-8"))["wall_s"] for p in run.glob("trained@*.json"))
    atomic_write_json(run / TRAINED, {"env_steps": int(env_steps), "wall_s": earlier + time.perf_counter() - start})


def _harness(
    job: Job, training: Training, where: Path, checkpoint: Path, protocols: Sequence[str], **extra: Any
) -> None:
    """Evaluate ``checkpoint`` with the harness into ``where`` (``extra``: agent options); a failed unit raises."""
    options = {key: value for key, value in extra.items() if key.startswith("sweep_")}
    agent_options = {key: value for key, value in extra.items() if key not in options}
    summary = evaluate(
        where,
        agent=AGENT,
        agent_kwargs={"checkpoint": str(checkpoint), **training.row.agent_kwargs, **agent_options},
        benchmark=training.row.benchmark,
        protocols=list(protocols),
        adapt_episodes=training.adapt_episodes,
        eval_episodes=job.eval_episodes,
        seeds=1,
        max_tasks=job.max_tasks,
        workers=1,
        progress=False,
        **options,
    )
    if summary["errors"]:
        first = summary["errors"][0]
        raise TasksuiteError(
            f"{len(summary['errors'])} evaluation unit(s) failed in {where}, first {first['unit']}: "
            f"{first['error']} (tracebacks in {where / 'report.md'})"
        )


def _evaluate(job: Job, training: Training) -> None:
    """The final checkpoint on every split, its control and each snapshot on the test tasks."""
    folder = job.out / "evaluations" / training.name
    if (folder / EVALUATED).exists():
        return
    start = time.perf_counter()
    run = (job.out / "runs" / training.name).resolve()
    _harness(job, training, folder, run / CHECKPOINT, training.protocols)
    if training.control is not None:
        _harness(job, training, folder / CONTROL, run / CHECKPOINT, ["meta-test"], **training.control.agent_kwargs)
    if training.row.method != "multitask":
        for steps, snapshot in snapshots(run):
            _harness(job, training, folder / CURVE / str(steps), snapshot, ["meta-test"])
    atomic_write_json(folder / EVALUATED, {"wall_s": time.perf_counter() - start})


def _final_evaluation(job: Job, training: Training, protocol: str) -> None:
    """The final checkpoint under ``protocol`` (:attr:`Training.final_protocols`), with the harness's
    defaults: the adaptation sweep on the test tasks (K = 0, 1, 2, 4, 8, 16 and the trained K; 0-3
    gradient steps for MAML, the one baseline that takes them), few-shot-demos on the test tasks and
    every OOD level (D = 0, 1, 3, 10 oracle demonstrations)."""
    where, marker = FINAL_EVALUATIONS[protocol]
    folder = job.out / "evaluations" / training.name
    if (folder / marker).exists():
        return
    start = time.perf_counter()
    checkpoint = (job.out / "runs" / training.name).resolve() / CHECKPOINT
    _harness(job, training, folder / where, checkpoint, [protocol])
    atomic_write_json(folder / marker, {"wall_s": time.perf_counter() - start})


def _transfer(job: Job, transfer: Transfer) -> None:
    folder = job.out / "transfer" / transfer.benchmark
    if (folder / EVALUATED).exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # The trainings' progress bars go to a log, as a baseline training's do.
    with open(folder / "train.log", "a", encoding="utf-8") as log, contextlib.redirect_stderr(log):
        summary = evaluate(
            folder,
            benchmark=transfer.benchmark,
            protocols="transfer",
            trainer=transfer.trainer,
            trainer_kwargs=dict(transfer.trainer_kwargs),
            budget=transfer.budget,
            eval_episodes=job.eval_episodes,
            seeds=transfer.seeds,
            max_tasks=transfer.max_tasks,
            workers=1,
            progress=False,
        )
    if summary["errors"]:
        raise TasksuiteError(f"{len(summary['errors'])} transfer unit(s) failed (see {folder / 'report.md'})")
    atomic_write_json(folder / EVALUATED, {"wall_s": time.perf_counter() - start})


# ---------------------------------------------------------------------- running a plan


def unavailable_trainer(spec: str) -> str | None:
    """Why a trainer factory cannot be used (it does not import), or ``None`` when it can."""
    try:
        Factory(spec).resolve()
    except TasksuiteError as error:
        return str(error)
    return None


def validate(
    plan: Plan,
    out: str | os.PathLike[str],
    workers: int | None = None,
    progress: bool = True,
    command: str | None = None,
    methods: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
    seeds: int | None = None,
    backend: str = "local",
) -> dict[str, Any]:
    """Run ``plan``, or the part of it that ``methods``, ``benchmarks`` and ``seeds`` select
    (:meth:`Plan.select`), into the folder ``out`` (resuming what an earlier run there finished)
    and write its report over everything finished there; returns the summary (``OUT/summary.json``).

    Args:
        plan: what to train and evaluate (:func:`quick_plan`, :func:`full_plan` or your own).
        out: the validate folder; an existing one must hold the same plan.
        workers: jobs run side by side (default: one per CPU core; 1 runs them in this process).
        progress: show a progress bar (jobs done, and the env steps of the trainings under way).
        command: the command line to write in the report (default: a description of the call).
        methods, benchmarks, seeds: run only this part of the plan (``None``: all of it).
        backend: ``"local"`` processes or ``"ray"`` (the cluster in ``RAY_ADDRESS``, else a local one).
    """
    root = Path(out)
    part = plan.select(methods, benchmarks, seeds)
    with claim_folder(root, "validate"):  # one validate per folder: a second one names this pid and stops
        _prepare(root, plan)
        return _run(root, plan, part, workers, progress, command, methods, benchmarks, seeds, backend)


def _run(
    root: Path,
    plan: Plan,
    part: Sequence[Training | Transfer],
    workers: int | None,
    progress: bool,
    command: str | None,
    methods: Sequence[str] | None,
    benchmarks: Sequence[str] | None,
    seeds: int | None,
    backend: str,
) -> dict[str, Any]:
    started, wall = time.time(), time.perf_counter()
    load = os.getloadavg()
    skipped = {t.name: reason for t in part if isinstance(t, Transfer) and (reason := unavailable_trainer(t.trainer))}
    for name, reason in skipped.items():
        warnings.warn(f"{name} is not run: {reason}", stacklevel=2)
    jobs = [
        Job(root, work, plan.eval_episodes, plan.max_tasks)
        for work in part
        if work.name not in skipped and not finished(root, work)
    ]
    runner = Runner(backend, workers)
    with (
        runner,
        tqdm(total=len(jobs), desc=f"validate {plan.name}", unit="job", disable=not progress) as bar,
        _watch_trainings(bar, root, [j.work for j in jobs if isinstance(j.work, Training)], enabled=progress),
    ):
        for _job, outcome in runner.map(run_job, jobs):
            error_file = root / "errors" / f"{outcome.name}.json"
            if outcome.error is None:
                error_file.unlink(missing_ok=True)
                bar.write(f"finished {outcome.name}")
            else:
                atomic_write_json(
                    error_file, {"job": outcome.name, "error": outcome.error, "traceback": outcome.traceback}
                )
                bar.write(f"FAILED {outcome.name}: {outcome.error}")
            bar.update()
    selection = {"methods": list(methods or []), "benchmarks": list(benchmarks or []), "seeds": seeds}
    _record_session(
        root,
        command or f"validate({plan.name!r}, workers={runner.workers})",
        {**selection, "jobs": len(jobs), "backend": backend},
        started,
        wall,
        load,
        runner,
    )
    return write_report(root, skipped)


def _prepare(root: Path, plan: Plan) -> None:
    """Check that ``root`` is new or holds a run of this plan, and save the plan.

    Every training ``root`` holds a run of must be in the plan unchanged but for its row's ``why``, or
    with a larger budget: such a run trains on from its checkpoint (a baseline's run resumes with
    another budget, and no baseline's schedule depends on it) and its evaluations are redone, the old
    ones kept beside as ``evaluations/<job>@<its former budget>``. Rows added since, and the settings of
    trainings not started yet, may change.
    """
    path = root / "plan.json"
    current = plan.to_dict()
    if path.exists():
        saved = json.loads(path.read_text(encoding="utf-8"))
        differing = sorted(k for k in set(saved) | set(current) if k != "trainings" and saved.get(k) != current.get(k))
        now = {t["name"]: _without_why(t) for t in current["trainings"]}
        for before in saved.get("trainings", []):
            was, after = _without_why(before), now.get(before["name"])
            if after == was or not (root / "runs" / before["name"]).exists():
                continue
            if after is not None and _budget_raised(was, after):
                _train_on(root, before["name"], before["budget"])
            else:
                differing.append(before["name"])
        if differing:
            raise TasksuiteError(
                f"{root} holds a validate run of another plan (it differs in {', '.join(differing)}); "
                "give another --out, the same options to resume it, or a larger budget to train on"
            )
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, current)


def _without_why(training: Mapping[str, Any]) -> dict[str, Any]:
    """A training of ``plan.json`` without its row's ``why`` (an explanation, which may be reworded), with
    the defaults of :class:`Row` fields added since it was saved."""
    row = {**_ROW_DEFAULTS, **training["row"]}
    return {**training, "row": {k: v for k, v in row.items() if k != "why"}}


#: Every defaulted field of a :class:`Row`, as ``plan.json`` writes it.
_ROW_DEFAULTS = {
    f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    for f in dataclasses.fields(Row)
    if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
}


def _budget_raised(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether two trainings of ``plan.json`` differ only in a budget that grew."""

    def rest(training: Mapping[str, Any]) -> dict[str, Any]:
        return {**training, "budget": None, "row": {**training["row"], "steps": None}}

    return after["budget"] > before["budget"] and rest(before) == rest(after)


def _train_on(root: Path, name: str, budget: int) -> None:
    """Make training ``name`` resume towards a larger budget: its ``trained.json`` becomes
    ``trained@<budget>.json`` (its wall-clock counts in the total) and its evaluations move aside."""
    run, evaluations = root / "runs" / name, root / "evaluations" / name
    if (run / TRAINED).exists():
        os.replace(run / TRAINED, run / f"trained@{budget}.json")
    if evaluations.exists():
        os.replace(evaluations, evaluations.with_name(f"{name}@{budget}"))


def _record_session(
    root: Path, command: str, part: dict[str, Any], started: float, wall: float, load: tuple, runner: Runner
) -> None:
    path = root / "sessions.json"
    sessions = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    sessions.append(
        {
            "command": command,
            "part": part,
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
            "wall_s": time.perf_counter() - wall,
            "workers": runner.workers,
            "cpus": os.cpu_count(),
            "load_start": [round(x, 2) for x in load],
            "load_end": [round(x, 2) for x in os.getloadavg()],
        }
    )
    atomic_write_json(path, sessions)


@contextlib.contextmanager
def _watch_trainings(bar: tqdm, root: Path, trainings: Sequence[Training], enabled: bool) -> Iterator[None]:
    """Show the env steps of the trainings under way on ``bar`` (read from their progress.csv every
    2 s): trainings run in worker processes, whose own bars go to their train.log."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(2.0):
            running = []
            for training in trainings:
                run = root / "runs" / training.name
                if (run / PROGRESS).exists() and not (run / TRAINED).exists():
                    steps = read_progress(run)[-1]["env_steps"]  # whole files: written atomically
                    running.append(f"{training.name} {steps / 1e3:.0f}k/{training.budget / 1e3:.0f}k")
            bar.set_postfix_str(", ".join(running))

    thread = threading.Thread(target=watch, daemon=True) if enabled else None
    if thread:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread:
            thread.join()
