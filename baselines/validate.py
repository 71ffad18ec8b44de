"""``tasksuite validate``: train every reference baseline on its benchmarks, evaluate each trained
agent with the evaluation harness, and write one report.

A :class:`Plan` lists trainings (a baseline, a benchmark, a seed, a budget) and transfer-protocol
runs. A training is one job: train (resuming an interrupted run), then evaluate the checkpoint
with :func:`tasksuite.evaluation.evaluate`: a meta-RL agent under the ood-sweep protocol (meta-test
on the test tasks and on every OOD level, with the K adaptation episodes it meta-trains with), the
multi-task agent under the multi-task protocol and the ood-sweep (K = 0). A transfer job runs the
harness's transfer protocol with a trainer factory. Jobs run side by side, one per worker process
(``workers``, default one per core), each on one torch thread.

::

    OUT/
      plan.json              the plan: running validate on OUT again resumes it (the plan must match)
      runs/<job>/            checkpoint.pt, progress.csv, train.log (the training's progress bar),
                             trained.json (env steps, wall-clock) once the budget is spent
      evaluations/<job>/     the harness's results folder of the trained agent,
                             evaluated.json (wall-clock) once every unit is finished
      transfer/<benchmark>/  the harness's results folder of the transfer protocol
      errors/<job>.json      a job that raised, with its traceback (removed when it later succeeds)
      sessions.json          command, wall-clock, cores and load average of every session on OUT
      summary.json, report.md, plots/*.png

Re-running skips finished trainings and finished evaluation units. Scores of a method pool its
training seeds: each (task, training seed) is one run of the harness's aggregate, so the
interval is the stratified bootstrap over training seeds within tasks.

This module lives with the baselines, not in ``tasksuite``: it needs torch (the ``baselines``
extra), and how long each method trains and with how many episodes it adapts is baseline knowledge.
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
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

import tasksuite
from tasksuite.baselines import algorithm, checked_overrides, train_baseline
from tasksuite.baselines.common import CHECKPOINT, PROGRESS, read_progress
from tasksuite.core.errors import TasksuiteError
from tasksuite.core.io import atomic_write_json, atomic_write_text
from tasksuite.evaluation.agents import Factory
from tasksuite.evaluation.harness import evaluate
from tasksuite.evaluation.report import (
    adaptation_curve,
    draw_references,
    format_interval,
    save_png,
    split_summary,
    transfer_lines,
)
from tasksuite.evaluation.runner import Runner

#: The agent factory the harness calls on a checkpoint (``checkpoint=...`` and the baseline's options).
AGENT = "tasksuite.baselines:load_agent"
#: The transfer protocol's trainer factory of the multi-task baseline.
MULTITASK_TRAINER = "tasksuite.baselines.multitask:trainer"
META_BENCHMARK = "navigation-meta"
MULTITASK_BENCHMARKS = ("navigation-multitask", "reaching-multitask", "warehouse-multitask")
#: Meta-training env-step budgets on navigation-meta, the same in both plans (MAML and RL² train in
#: about a minute each on one core; docs/results.md).
BUDGETS = {"maml": 2_000_000, "rl2": 1_000_000, "pearl": 300_000}
#: Multi-task trainings that differ from the baseline's defaults: pushing 50 shapes needs 50x the
#: navigation budget (measured: train score 0.69 at 10M env steps, 0.12 at 3M; docs/results.md),
#: and 4 episodes per shape keep an iteration's batch at 20k steps.
MULTITASK_SETTINGS: dict[str, dict[str, Any]] = {
    "warehouse-multitask": {"steps": 10_000_000, "overrides": {"envs_per_task": 4, "checkpoint_every": 50}},
}
#: The transfer protocol trains one agent per task: on the first 10 training tasks (of 50 for
#: warehouse-multitask) the full plan stays within its 90 minutes.
TRANSFER_MAX_TASKS = 10
TRAINED, EVALUATED = "trained.json", "evaluated.json"


# ---------------------------------------------------------------------- the plan


def adaptation_episodes(baseline: str, config: Any) -> int:
    """K of a method's meta-test: the episodes it learns to adapt from in meta-training.

    MAML: the K episodes of its inner step; RL²: a trial's episodes but the last; PEARL: the
    episodes of its encoder's context; the multi-task agent does not adapt (0).
    """
    if baseline == "maml":
        return config.episodes_per_task
    if baseline == "rl2":
        return config.episodes_per_trial - 1
    if baseline == "pearl":
        return config.context_episodes
    return 0


@dataclass(frozen=True)
class Training:
    """One baseline trained on one benchmark with one seed, then evaluated with the harness.

    Attributes:
        baseline: one of :data:`tasksuite.baselines.ALGORITHMS`.
        benchmark: a registered benchmark name.
        seed: the training seed.
        steps: the env-step budget (``None``: the baseline's default).
        overrides: other fields of the baseline's ``Config``.
        agent_kwargs: options of the baseline's ``load_agent`` at evaluation.
    """

    baseline: str
    benchmark: str
    seed: int = 0
    steps: int | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    agent_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The job's name, e.g. ``maml-navigation-meta-seed0``."""
        return f"{self.baseline}-{self.benchmark}-seed{self.seed}"

    @property
    def budget(self) -> int:
        """The env-step budget, the config default when ``steps`` is ``None``."""
        return self.steps or self.config().total_env_steps

    @property
    def adapt_episodes(self) -> int:
        """K of the evaluation (see :func:`adaptation_episodes`)."""
        return adaptation_episodes(self.baseline, self.config())

    @property
    def protocols(self) -> tuple[str, ...]:
        """The harness protocols of the evaluation."""
        return ("multi-task", "ood-sweep") if self.baseline == "multitask" else ("ood-sweep",)

    def config(self) -> Any:
        """The baseline's config with this training's overrides."""
        config_class = algorithm(self.baseline).Config
        return config_class(seed=self.seed, **checked_overrides(self.baseline, config_class, dict(self.overrides)))


@dataclass(frozen=True)
class Transfer:
    """The harness's transfer protocol on a multi-task benchmark with a trainer factory.

    Attributes:
        benchmark: a registered multi-task benchmark name.
        budget: training env steps per task (the all-task agent gets ``budget`` x tasks).
        trainer: import spec of the trainer factory.
        trainer_kwargs: its keyword arguments.
        seeds: runs per task.
        max_tasks: use only the first training tasks (``None``: all).
    """

    benchmark: str
    budget: int
    trainer: str = MULTITASK_TRAINER
    trainer_kwargs: Mapping[str, Any] = field(default_factory=dict)
    seeds: int = 1
    max_tasks: int | None = None

    @property
    def name(self) -> str:
        """The job's name, e.g. ``transfer-navigation-multitask``."""
        return f"transfer-{self.benchmark}"


@dataclass(frozen=True)
class Plan:
    """What a validate run trains and evaluates.

    Attributes:
        name: ``"quick"``, ``"full"`` or a custom name.
        trainings: the training jobs, run in this order (longest first packs the workers best).
        transfers: the transfer-protocol jobs, run after the trainings.
        eval_episodes: E, evaluation episodes per trial.
        max_tasks: evaluate only the first tasks of each split (``None``: all; tests use a few).
    """

    name: str
    trainings: tuple[Training, ...]
    transfers: tuple[Transfer, ...] = ()
    eval_episodes: int = 1
    max_tasks: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON values (what ``plan.json`` holds)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def groups(self) -> dict[tuple[str, str], list[Training]]:
        """The trainings by (baseline, benchmark), in plan order: the seeds pooled in one row of the report."""
        grouped: dict[tuple[str, str], list[Training]] = defaultdict(list)
        for training in self.trainings:
            grouped[(training.baseline, training.benchmark)].append(training)
        return dict(grouped)


def quick_plan(seeds: int = 1) -> Plan:
    """MAML and RL² on navigation-meta and the multi-task agent on navigation-multitask, one seed:
    about 2 minutes on 2 cores (docs/results.md)."""
    trainings = [
        Training(name, META_BENCHMARK, seed, steps=BUDGETS[name]) for name in ("maml", "rl2") for seed in range(seeds)
    ]
    trainings += [Training("multitask", "navigation-multitask", seed) for seed in range(seeds)]
    return Plan("quick", tuple(trainings))


def full_plan(seeds: int = 3) -> Plan:
    """MAML, RL² and PEARL on navigation-meta, the multi-task agent on the three multi-task benchmarks,
    and the transfer protocol on each of those (per-task budget: the multi-task agent's budget
    shared over the training tasks, so the all-task agent trains as long as the multi-task run)."""
    meta = {
        name: [Training(name, META_BENCHMARK, seed, steps=BUDGETS[name]) for seed in range(seeds)] for name in BUDGETS
    }
    multitask = {
        bench: [Training("multitask", bench, seed, **MULTITASK_SETTINGS.get(bench, {})) for seed in range(seeds)]
        for bench in MULTITASK_BENCHMARKS
    }
    # Longest first (PEARL and warehouse take about 13 minutes a seed, the others 1 or less).
    trainings = [*meta["pearl"], *multitask["warehouse-multitask"], *meta["maml"], *meta["rl2"]]
    trainings += [*multitask["navigation-multitask"], *multitask["reaching-multitask"]]
    transfers = []
    for bench in MULTITASK_BENCHMARKS:
        tasks = len(tasksuite.make_benchmark(bench).train_tasks)
        budget = Training("multitask", bench, **MULTITASK_SETTINGS.get(bench, {})).budget // tasks
        transfers.append(Transfer(bench, budget=budget, max_tasks=TRANSFER_MAX_TASKS))
    return Plan("full", tuple(trainings), tuple(transfers))


# ---------------------------------------------------------------------- the jobs


@dataclass(frozen=True)
class Job:
    """One training (then its evaluation) or one transfer run, with where to write (picklable)."""

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
        else:
            _transfer(job, job.work)
        return JobOutcome(job.work.name)
    except Exception as error:  # one failed job must not take the others down: report it
        return JobOutcome(job.work.name, f"{type(error).__name__}: {error}", traceback.format_exc())


def finished(root: Path, work: Training | Transfer) -> bool:
    """Whether a job finished in an earlier run on the validate folder ``root``."""
    if isinstance(work, Training):
        return (root / "runs" / work.name / TRAINED).exists() and (
            root / "evaluations" / work.name / EVALUATED
        ).exists()
    return (root / "transfer" / work.benchmark / EVALUATED).exists()


def _train(out: Path, training: Training) -> None:
    run = out / "runs" / training.name
    if (run / TRAINED).exists():
        return
    run.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # The training's progress bar goes to its log: the console shows validate's own bar.
    with open(run / "train.log", "a", encoding="utf-8") as log, contextlib.redirect_stderr(log):
        train_baseline(
            training.baseline,
            training.benchmark,
            run,
            steps=training.steps,
            seed=training.seed,
            resume=True,
            **training.overrides,
        )
    env_steps = read_progress(run)[-1]["env_steps"]
    atomic_write_json(run / TRAINED, {"env_steps": int(env_steps), "wall_s": time.perf_counter() - start})


def _evaluate(job: Job, training: Training) -> None:
    folder = job.out / "evaluations" / training.name
    if (folder / EVALUATED).exists():
        return
    start = time.perf_counter()
    checkpoint = (job.out / "runs" / training.name / CHECKPOINT).resolve()
    summary = evaluate(
        folder,
        agent=AGENT,
        agent_kwargs={"checkpoint": str(checkpoint), **training.agent_kwargs},
        benchmark=training.benchmark,
        protocols=list(training.protocols),
        adapt_episodes=training.adapt_episodes,
        eval_episodes=job.eval_episodes,
        seeds=1,
        max_tasks=job.max_tasks,
        workers=1,
        progress=False,
    )
    _finish(folder, summary, start)


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
    _finish(folder, summary, start)


def _finish(folder: Path, summary: dict[str, Any], start: float) -> None:
    """Mark an evaluation finished, or raise if units failed (a re-run retries them)."""
    if summary["errors"]:
        first = summary["errors"][0]
        raise TasksuiteError(
            f"{len(summary['errors'])} evaluation unit(s) failed, first {first['unit']}: {first['error']} "
            f"(tracebacks in {folder / 'report.md'})"
        )
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
) -> dict[str, Any]:
    """Run ``plan`` into the folder ``out`` (resuming what an earlier run there finished) and write
    its report; returns the summary (also in ``OUT/summary.json``).

    Args:
        plan: what to train and evaluate (:func:`quick_plan`, :func:`full_plan` or your own).
        out: the validate folder; an existing one must hold the same plan.
        workers: jobs run side by side (default: one per CPU core; 1 runs them in this process).
        progress: show a progress bar (jobs done, and the env steps of the trainings under way).
        command: the command line to write in the report (default: a description of the call).
    """
    root = Path(out)
    _prepare(root, plan)
    started, wall = time.time(), time.perf_counter()
    load = os.getloadavg()
    skipped = {t.name: reason for t in plan.transfers if (reason := unavailable_trainer(t.trainer))}
    for name, reason in skipped.items():
        warnings.warn(f"{name} is not run: {reason}", stacklevel=2)
    jobs = [
        Job(root, work, plan.eval_episodes, plan.max_tasks)
        for work in (*plan.trainings, *plan.transfers)
        if work.name not in skipped and not finished(root, work)
    ]
    runner = Runner("local", workers)
    with (
        runner,
        tqdm(total=len(jobs), desc=f"validate {plan.name}", unit="job", disable=not progress) as bar,
        _watch_trainings(bar, root, plan.trainings, enabled=progress),
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
    _record_session(root, command or f"validate({plan.name!r}, workers={runner.workers})", started, wall, load, runner)
    return write_report(root, plan, skipped)


def _prepare(root: Path, plan: Plan) -> None:
    path = root / "plan.json"
    if path.exists():
        saved = json.loads(path.read_text(encoding="utf-8"))
        differing = sorted(k for k in set(saved) | set(plan.to_dict()) if saved.get(k) != plan.to_dict().get(k))
        if differing:
            raise TasksuiteError(
                f"{root} holds a validate run of another plan (it differs in {', '.join(differing)}); "
                "give another --out, or the same options to resume it"
            )
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, plan.to_dict())


def _record_session(root: Path, command: str, started: float, wall: float, load: tuple, runner: Runner) -> None:
    path = root / "sessions.json"
    sessions = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    sessions.append(
        {
            "command": command,
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


# ---------------------------------------------------------------------- the report


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def method_summary(root: Path, trainings: Sequence[Training]) -> dict[str, Any] | None:
    """One method on one benchmark, its evaluated seeds pooled: aggregates per split, the test
    adaptation curve, and per-seed scores; ``None`` before any of its seeds is evaluated."""
    records, runs = [], []
    for training in trainings:
        folder = root / "evaluations" / training.name
        trained, evaluated = _read_json(root / "runs" / training.name / TRAINED), _read_json(folder / EVALUATED)
        if trained is None or evaluated is None:
            continue
        seed_records = [
            {**json.loads(line), "seed": training.seed}  # one run per (task, training seed)
            for line in (folder / "episodes.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        ood_levels = _read_json(folder / "config.json")["ood_levels"]
        splits = [*(["train"] if "multi-task" in training.protocols else []), "test", *ood_levels]
        runs.append(
            {
                "seed": training.seed,
                "env_steps": trained["env_steps"],
                "train_s": trained["wall_s"],
                "eval_s": evaluated["wall_s"],
                "first_episode": adaptation_curve(seed_records, "test")[0]["iqm"],
                **{split: (split_summary(seed_records, split) or {}).get("iqm") for split in splits},
                "report": f"evaluations/{training.name}/report.md",
            }
        )
        records += seed_records
    if not runs:
        return None
    first = trainings[0]
    return {
        "baseline": first.baseline,
        "benchmark": first.benchmark,
        "adapt_episodes": first.adapt_episodes,
        "seeds": [run["seed"] for run in runs],
        "planned_seeds": [t.seed for t in trainings],
        "env_steps": sum(run["env_steps"] for run in runs) / len(runs),
        "train_s": sum(run["train_s"] for run in runs) / len(runs),
        "splits": {split: split_summary(records, split) for split in splits},
        "curve": adaptation_curve(records, "test"),
        "runs": runs,
    }


def _find(methods: Sequence[dict[str, Any]], baseline: str, benchmark: str) -> dict[str, Any] | None:
    return next((m for m in methods if m["baseline"] == baseline and m["benchmark"] == benchmark), None)


def acceptance(methods: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's acceptance criteria, checked on what was run (a criterion on a method not run is left out).

    Scores are IQMs over tasks and training seeds; "clearly below" means the 95 % intervals do
    not overlap (the OOD-far interval's upper end under the test interval's lower end).
    """
    checks = []

    def check(criterion: str, passed: bool, value: str) -> None:
        checks.append({"criterion": criterion, "passed": bool(passed), "value": value})

    maml, rl2, pearl = (_find(methods, name, META_BENCHMARK) for name in ("maml", "rl2", "pearl"))
    if maml:
        pre, post = maml["curve"][0]["iqm"], maml["splits"]["test"]["iqm"]
        check(
            "MAML: post-adaptation test score >= 0.6 and >= pre-adaptation + 0.2",
            post >= 0.6 and post >= pre + 0.2,
            f"post {post:.3f}, pre {pre:.3f} (+{post - pre:.3f})",
        )
    if rl2:
        k = rl2["adapt_episodes"]
        first, last = rl2["curve"][0]["iqm"], rl2["curve"][k - 1]["iqm"]
        check(
            "RL²: last adaptation episode >= 0.6 and above the first episode",
            last >= 0.6 and last > first,
            f"episode {k}: {last:.3f}, episode 1: {first:.3f}",
        )
    if pearl:
        post = pearl["splits"]["test"]["iqm"]
        fewer = maml is not None and pearl["env_steps"] < maml["env_steps"]
        check(
            "PEARL: post-adaptation test score >= 0.7 with fewer meta-training env steps than MAML",
            post >= 0.7 and fewer,
            f"post {post:.3f}; {pearl['env_steps']:,.0f} env steps vs MAML's "
            + (f"{maml['env_steps']:,.0f}" if maml else "(MAML not run)"),
        )
    for method in (m for m in (maml, rl2, pearl) if m):
        test, far = method["splits"]["test"], method["splits"].get("far")
        if far:
            check(
                f"{method['baseline']}: OOD-far clearly below test (95% intervals apart)",
                far["high"] < test["low"],
                f"far {format_interval(far)}, test {format_interval(test)}",
            )
    for bench in ("warehouse-multitask", "reaching-multitask"):
        method = _find(methods, "multitask", bench)
        if method:
            train = method["splits"]["train"]["iqm"]
            check(f"multi-task agent on {bench}: train score >= 0.5", train >= 0.5, f"train {train:.3f}")
    return checks


def write_report(root: Path, plan: Plan, skipped: Mapping[str, str] | None = None) -> dict[str, Any]:
    """(Re)write ``summary.json``, the plots and ``report.md`` of a validate folder from what it holds."""
    methods = [s for group in plan.groups().values() if (s := method_summary(root, group))]
    transfers = []
    for transfer in plan.transfers:
        folder = root / "transfer" / transfer.benchmark
        summary = _read_json(folder / "summary.json") if (folder / EVALUATED).exists() else None
        transfers.append(
            {
                "benchmark": transfer.benchmark,
                "trainer": transfer.trainer,
                "budget": transfer.budget,
                "section": summary["protocols"]["transfer"] if summary else None,
                "folder": f"transfer/{transfer.benchmark}",
                "wall_s": (_read_json(folder / EVALUATED) or {}).get("wall_s"),
            }
        )
    errors = [_read_json(path) for path in sorted((root / "errors").glob("*.json"))]
    summary = {
        "plan": plan.name,
        "methods": methods,
        "transfers": transfers,
        "acceptance": acceptance(methods),
        "sessions": _read_json(root / "sessions.json") or [],
        "not_run": dict(skipped or {}),
        "errors": errors,
    }
    atomic_write_json(root / "summary.json", summary)
    plots = draw_plots(summary, root / "plots")
    atomic_write_text(root / "report.md", markdown(summary, plan, plots))
    return summary


# ---------------------------------------------------------------------- markdown


_LABELS = {"maml": "MAML", "rl2": "RL²", "pearl": "PEARL", "multitask": "multi-task PPO"}


def _cell(agg: dict[str, Any] | None) -> str:
    return format_interval(agg) if agg else "—"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def markdown(summary: dict[str, Any], plan: Plan, plots: Mapping[str, str]) -> str:
    """The validate report as Markdown."""
    lines = [f"# tasksuite validate: {plan.name} plan", ""]
    lines += ["| session | command | wall-clock | workers | CPUs | load average (1, 5, 15 min) at start → end |"]
    lines += ["|---|---|---|---|---|---|"]
    for i, s in enumerate(summary["sessions"], 1):
        load = f"{', '.join(map(str, s['load_start']))} → {', '.join(map(str, s['load_end']))}"
        lines.append(
            f"| {i} ({s['started']}) | `{s['command']}` | {_duration(s['wall_s'])} | {s['workers']} | {s['cpus']} "
            f"| {load} |"
        )
    lines += [
        "",
        "Scores are normalized per task (0: uniform-random policy, 1: the family's scripted oracle) and "
        "aggregated over tasks and training seeds as the interquartile mean with its 95% stratified "
        "bootstrap interval, written IQM [low, high]. *Pre-adaptation* is the first episode of a trial "
        "(no task information yet); *last adaptation* the K-th; *post-adaptation* the evaluation "
        f"episode{'s' if plan.eval_episodes > 1 else ''} after K adaptation episodes (meta-RL agents) or "
        "the score on the tasks' own episodes (multi-task agent, which sees the task). *Train* is the "
        "multi-task protocol on the training tasks; meta-RL agents are scored on new tasks instead. "
        f"Each trial: K adaptation episodes, then {plan.eval_episodes} evaluation episode(s); one trial per task "
        f"and training seed, on {'every task' if plan.max_tasks is None else f'the first {plan.max_tasks} tasks'} "
        "of each split.",
        "",
        "## Summary",
        "",
        "| method | benchmark | K | seeds | env steps / seed | training / seed | train | test pre-adaptation "
        "| last adaptation | test post-adaptation | OOD-near | OOD-far |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in summary["methods"]:
        k, curve, splits = m["adapt_episodes"], m["curve"], m["splits"]
        lines.append(
            f"| {_LABELS[m['baseline']]} | {m['benchmark']} | {k} | {len(m['seeds'])} | {m['env_steps']:,.0f} "
            f"| {_duration(m['train_s'])} | {_cell(splits.get('train'))} | {_cell(curve[0]) if k else '—'} "
            f"| {_cell(curve[k - 1]) if k else '—'} | {_cell(splits['test'])} | {_cell(splits.get('near'))} "
            f"| {_cell(splits.get('far'))} |"
        )
    lines += [""]
    if summary["acceptance"]:
        lines += ["## Acceptance", "", "| criterion | measured | |", "|---|---|---|"]
        for c in summary["acceptance"]:
            lines.append(f"| {c['criterion']} | {c['value']} | {'pass' if c['passed'] else '**FAIL**'} |")
        lines += [""]
    if "adaptation" in plots:
        lines += ["## Adaptation curves", "", f"![adaptation curves]({plots['adaptation']})", ""]
        lines += _curve_table(summary["methods"])
    if "ood" in plots:
        lines += ["## Score vs OOD distance", "", f"![score vs OOD distance]({plots['ood']})", ""]
    lines += _seed_table(summary["methods"])
    for t in summary["transfers"]:
        lines += [f"## Transfer on {t['benchmark']}", ""]
        if t["section"] is None:
            reason = summary["not_run"].get(f"transfer-{t['benchmark']}", "not finished")
            lines += [f"Not run: {reason}", ""]
            continue
        lines += [
            f"Trainer `{t['trainer']}`, {t['budget']:,} env steps per task; {_duration(t['wall_s'])}. "
            f"Full results: [{t['folder']}/report.md]({t['folder']}/report.md).",
            "",
            *transfer_lines(t["section"]),
        ]
    if summary["errors"]:
        lines += ["## Errors", "", f"{len(summary['errors'])} job(s) failed; the others' results stand.", ""]
        for error in summary["errors"]:
            lines += [f"### {error['job']}", "", error["error"], "", "```", error["traceback"].rstrip(), "```", ""]
    return "\n".join(lines)


def _curve_table(methods: Sequence[dict[str, Any]]) -> list[str]:
    meta = [m for m in methods if m["adapt_episodes"]]
    episodes = max(len(m["curve"]) for m in meta)
    lines = [
        "Normalized return by episode of the trial on the test tasks (A: adaptation, E: evaluation episode):",
        "",
        "| method | " + " | ".join(str(i + 1) for i in range(episodes)) + " |",
        "|---|" + "---|" * episodes,
    ]
    for m in meta:
        cells = [f"{'A' if p['adaptation'] else 'E'} {p['iqm']:.2f}" for p in m["curve"]]
        lines.append(f"| {_LABELS[m['baseline']]} | " + " | ".join(cells + [""] * (episodes - len(cells))) + " |")
    return [*lines, ""]


def _seed_table(methods: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "## Per training seed",
        "",
        "IQM over tasks of each training seed alone; the harness's own report of each run is linked.",
        "",
        "| method | benchmark | seed | env steps | training | evaluation | train | pre-adaptation | post-adaptation "
        "| OOD-near | OOD-far | report |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in methods:
        for run in m["runs"]:
            cells = [run.get(split) for split in ("train",)] + [run["first_episode"] if m["adapt_episodes"] else None]
            cells += [run.get(split) for split in ("test", "near", "far")]
            text = " | ".join("—" if c is None else f"{c:.3f}" for c in cells)
            lines.append(
                f"| {_LABELS[m['baseline']]} | {m['benchmark']} | {run['seed']} | {run['env_steps']:,} "
                f"| {_duration(run['train_s'])} | {_duration(run['eval_s'])} | {text} | [report]({run['report']}) |"
            )
    return [*lines, ""]


# ---------------------------------------------------------------------- plots


def draw_plots(summary: dict[str, Any], folder: Path) -> dict[str, str]:
    """Draw the adaptation curves of the meta-RL methods and the score-vs-OOD-distance figure;
    return ``{name: path relative to the validate folder}``."""
    from matplotlib.figure import Figure  # no pyplot: no global backend, nothing left open

    drawn = {}
    meta = [m for m in summary["methods"] if m["adapt_episodes"]]
    if meta:
        save_png(_adaptation_figure(Figure(figsize=(7.0, 4.2)), meta), folder / "adaptation.png")
        drawn["adaptation"] = "plots/adaptation.png"
    with_ood = [m for m in summary["methods"] if len(m["splits"]) > 1]
    if with_ood:
        save_png(_ood_figure(Figure(figsize=(7.0, 4.2)), with_ood), folder / "ood.png")
        drawn["ood"] = "plots/ood.png"
    return drawn


def _adaptation_figure(figure: Any, methods: Sequence[dict[str, Any]]) -> Any:
    ax = figure.subplots()
    for i, m in enumerate(methods):
        x = [p["episode"] + 1 for p in m["curve"]]
        color = f"C{i}"
        ax.plot(
            x, [p["iqm"] for p in m["curve"]], color=color, label=f"{_LABELS[m['baseline']]} (K={m['adapt_episodes']})"
        )
        ax.fill_between(x, [p["low"] for p in m["curve"]], [p["high"] for p in m["curve"]], color=color, alpha=0.15)
        for p, xi in zip(m["curve"], x, strict=True):
            ax.plot(
                xi,
                p["iqm"],
                marker="o" if p["adaptation"] else "*",
                markersize=5 if p["adaptation"] else 12,
                color=color,
            )
    draw_references(ax)
    ax.set(
        xlabel="episode of the trial (dots: adaptation, stars: evaluation)", ylabel="normalized return (IQM, 95% CI)"
    )
    ax.set_title(f"{methods[0]['benchmark']} test tasks: adaptation curves")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, loc="lower right")
    return figure


def _ood_figure(figure: Any, methods: Sequence[dict[str, Any]]) -> Any:
    benchmarks = list(dict.fromkeys(m["benchmark"] for m in methods))
    axes = figure.subplots(1, len(benchmarks), sharey=True, squeeze=False)[0]
    figure.set_size_inches(4.2 * len(benchmarks) + 1.0, 4.2)
    for ax, bench in zip(axes, benchmarks, strict=True):
        for i, m in enumerate(methods):
            if m["benchmark"] != bench:
                continue
            points = [(split, agg) for split, agg in m["splits"].items() if agg and split != "train"]
            x = [agg["distance"] for _, agg in points]
            y = [agg["iqm"] for _, agg in points]
            errors = [[a["iqm"] - a["low"] for _, a in points], [a["high"] - a["iqm"] for _, a in points]]
            ax.errorbar(x, y, yerr=errors, marker="o", capsize=3, color=f"C{i}", label=_LABELS[m["baseline"]])
            for (split, agg), xi in zip(points, x, strict=True):
                ax.annotate(split, (xi, agg["iqm"]), textcoords="offset points", xytext=(4, 4), fontsize=7)
        draw_references(ax)
        ax.set(title=bench, xlabel="mean distance from the training support")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("post-adaptation score (IQM, 95% CI)")
    return figure
