"""``evaluate``: plan the units of the chosen protocols, measure references, fan out, save, report.

>>> from tasksuite.evaluation import evaluate
>>> summary = evaluate(  # doctest: +SKIP
...     "results/oracle", agent="tasksuite.evaluation.agents:oracle", benchmark="navigation-meta",
...     protocols=["meta-test"], adapt_episodes=2, seeds=3)
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

import tasksuite
from tasksuite.core.benchmark import Benchmark
from tasksuite.core.checks import boolean, distinct_counts, integer
from tasksuite.core.errors import TasksuiteError, UnknownNameError, did_you_mean
from tasksuite.core.family import TaskFamily
from tasksuite.core.task import Task
from tasksuite.evaluation import references as refs
from tasksuite.evaluation.agent import AdaptationBudget, accepts_gradient_steps, declared_budget
from tasksuite.evaluation.agents import Factory, spec_of
from tasksuite.evaluation.demonstrations import DEFAULT_DEMONSTRATIONS, check_demonstrations
from tasksuite.evaluation.protocols import (
    AGENT_PROTOCOLS,
    ALL_AGENT_PROTOCOLS,
    DEFAULT_ADAPT_EPISODES,
    DEFAULT_BUDGET,
    DEFAULT_EVAL_EPISODES,
    DEFAULT_SEEDS,
    DEFAULT_SWEEP_EPISODES,
    DEFAULT_SWEEP_GRADIENT_STEPS,
    DEMO_PROTOCOL,
    PROTOCOLS,
    Sweep,
    UnitJob,
    plan_units,
    run_unit,
)
from tasksuite.evaluation.report import write_report
from tasksuite.evaluation.results import ResultsDir
from tasksuite.evaluation.runner import Runner


def resolve_benchmark(benchmark: str | os.PathLike[str] | Benchmark, split_seed: int = 0) -> Benchmark:
    """A :class:`Benchmark` from itself, a registered name, or the path of a split manifest (``.json``).

    A manifest or a :class:`Benchmark` fixes its splits: a ``split_seed`` other than 0 is then an error.
    """
    fixed = isinstance(benchmark, Benchmark) or str(benchmark).endswith(".json")
    if fixed and split_seed != 0:
        raise TasksuiteError(
            f"split_seed={split_seed!r} cannot apply to {benchmark!r}: a manifest or a Benchmark fixes its splits; "
            "leave split_seed at 0"
        )
    if isinstance(benchmark, Benchmark):
        return benchmark
    if str(benchmark).endswith(".json"):
        return Benchmark.from_manifest(benchmark)
    return tasksuite.make_benchmark(str(benchmark), seed=split_seed)


def expand_protocols(protocols: str | Sequence[str], with_trainer: bool) -> list[str]:
    """``"all"`` means multi-task, meta-test and ood-sweep, plus transfer when a trainer is given (the
    adaptation sweep, several meta-tests in one, and few-shot-demos, whose numbers are not
    self-exploration, are asked for by name)."""
    chosen = [protocols] if isinstance(protocols, str) else list(protocols)
    if "all" in chosen:
        chosen = [*ALL_AGENT_PROTOCOLS, *(["transfer"] if with_trainer else [])]
    unknown = [p for p in chosen if p not in PROTOCOLS]
    if unknown or not chosen:
        hints = "".join(did_you_mean(p, [*PROTOCOLS, "all"]) for p in unknown)
        raise UnknownNameError(f"unknown protocol(s) {unknown}{hints}; choose from {', '.join(PROTOCOLS)} or 'all'")
    return list(dict.fromkeys(chosen))


class BudgetMismatchWarning(UserWarning):
    """The evaluation's K differs from the adaptation budget the agent declares it was trained for."""


def adaptation_settings(declared: AdaptationBudget | None, adapt_episodes: int | None) -> dict[str, Any]:
    """K of an evaluation and why: the one asked for, else the agent's declared budget, else the default.

    Returns ``{"episodes": K, "source": "given" | "declared" | "default", "declared": budget dict or
    None, "notice": one line when K differs from the declared budget, else None}``.
    """
    if adapt_episodes is None:
        k = declared.episodes if declared is not None else DEFAULT_ADAPT_EPISODES
        source = "declared" if declared is not None else "default"
    else:
        k, source = adapt_episodes, "given"
    notice = None
    if declared is not None and k != declared.episodes:
        notice = (
            f"evaluating with K={k} adaptation episodes; the agent was trained for K={declared.episodes} "
            "(omit --adapt-episodes to use the trained budget)"
        )
    return {
        "episodes": k,
        "source": source,
        "declared": declared.to_dict() if declared is not None else None,
        "notice": notice,
    }


def evaluate(
    out: str | os.PathLike[str],
    agent: str | Callable[..., Any] | None = None,
    benchmark: str | os.PathLike[str] | Benchmark = "navigation-meta",
    protocols: str | Sequence[str] = "meta-test",
    *,
    agent_kwargs: Mapping[str, Any] | None = None,
    trainer: str | Callable[..., Any] | None = None,
    trainer_kwargs: Mapping[str, Any] | None = None,
    budget: int = DEFAULT_BUDGET,
    adapt_episodes: int | None = None,
    eval_episodes: int = DEFAULT_EVAL_EPISODES,
    seeds: int = DEFAULT_SEEDS,
    max_tasks: int | None = None,
    split_seed: int = 0,
    reference_episodes: int = refs.DEFAULT_REFERENCE_EPISODES,
    sweep_episodes: Sequence[int] = DEFAULT_SWEEP_EPISODES,
    sweep_gradient_steps: Sequence[int] | None = None,
    sweep_ood: Sequence[str] = (),
    demonstrations: Sequence[int] = DEFAULT_DEMONSTRATIONS,
    demo_noise: float = 0.0,
    workers: int | None = None,
    backend: str = "local",
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate an agent (and/or a trainer) on a benchmark; write the results folder ``out``; return the summary.

    Args:
        out: the results folder; an existing one of the same run is resumed
            (finished units are skipped, failed ones retried). A non-empty folder that
            is not a results folder, or one another process is writing, is refused.
        agent: factory of the evaluated agent, as ``"pkg.module:Factory"`` or an
            importable module-level callable; called with ``agent_kwargs`` once per unit.
        benchmark: a registered name, a split manifest path or a :class:`Benchmark`.
        protocols: ``"multi-task"``, ``"meta-test"``, ``"ood-sweep"``, ``"adaptation-sweep"``,
            ``"transfer"``, ``"few-shot-demos"``, a list of them, or ``"all"`` (the first three and transfer).
        trainer: factory of a :class:`~tasksuite.evaluation.protocols.Trainer`
            (transfer protocol), called with ``trainer_kwargs``.
        budget: the transfer protocol's training budget per task, in env steps.
        adapt_episodes: K, adaptation episodes per trial (meta-test, ood-sweep). ``None``: the K the
            agent declares it was trained for (its ``adaptation_budget``), else 2. Another K than
            the declared one is evaluated, with a :class:`BudgetMismatchWarning` and a notice in
            the summary and report.
        eval_episodes: E, evaluation episodes per trial.
        seeds: runs per task (seeds ``0 .. seeds-1``).
        max_tasks: evaluate at most the first ``max_tasks`` tasks of each split.
        split_seed: seed of the benchmark's splits (0: the published split).
        reference_episodes: episodes of the oracle and random references per task.
        sweep_episodes: the K values of the adaptation-sweep protocol (the run's K is added).
        sweep_gradient_steps: its numbers of test-time gradient steps, at the run's K; ``None``:
            0-3 when the agent takes another number (``set_gradient_steps``), none otherwise.
        sweep_ood: OOD levels the adaptation sweep covers besides the test tasks.
        demonstrations: few-shot-demos: the numbers D of oracle demonstrations swept.
        demo_noise: few-shot-demos: std of the Gaussian noise on the demonstrations' actions, in
            units of half the action box's width (:mod:`tasksuite.evaluation.demonstrations`).
        workers: local worker processes (default: one per CPU core; 1 runs in this process). Workers
            re-import the main script: called at a script's top level, outside ``if __name__ ==
            "__main__":``, the default runs in this process (with a warning) and ``workers > 1`` is an error.
        backend: ``"local"`` or ``"ray"``.
        progress: show progress bars.
    """
    chosen = expand_protocols(protocols, trainer is not None)
    if agent is None and any(p != "transfer" for p in chosen):
        raise TasksuiteError(f"protocols {[p for p in chosen if p != 'transfer']} need an agent factory")
    if trainer is None and "transfer" in chosen:
        raise TasksuiteError("the transfer protocol needs a trainer factory (train(tasks, budget, seed) -> agent)")
    agent_factory = Factory(spec_of(agent), dict(agent_kwargs or {})) if agent is not None else None
    trainer_factory = Factory(spec_of(trainer), dict(trainer_kwargs or {})) if trainer is not None else None
    for factory in (agent_factory, trainer_factory):
        if factory is not None:
            factory.resolve()  # fail now, not in every worker
    # Every protocol checked above needs one of the two: the report names the run by the first.
    method = next(f for f in (agent_factory, trainer_factory) if f is not None).method_name()
    bench = resolve_benchmark(benchmark, split_seed)
    if adapt_episodes is not None:
        adapt_episodes = integer("adapt_episodes", adapt_episodes, 0, TasksuiteError)
    eval_episodes = integer("eval_episodes", eval_episodes, 1, TasksuiteError)
    seeds = integer("seeds", seeds, 1, TasksuiteError)
    reference_episodes = integer("reference_episodes", reference_episodes, 1, TasksuiteError)
    budget = integer("budget", budget, 1, TasksuiteError)
    if max_tasks is not None:
        max_tasks = integer("max_tasks", max_tasks, 1, TasksuiteError)
    progress = boolean("progress", progress, TasksuiteError)
    # One agent built here tells its trained budget (and whether it takes other gradient steps).
    probe = None
    if agent_factory and any(p in AGENT_PROTOCOLS for p in chosen):
        try:
            probe = agent_factory.build_agent(seed=0)
        except Exception:  # a factory that fails here fails in every unit, where its error is recorded
            probe = None
    adaptation = adaptation_settings(declared_budget(probe), adapt_episodes)
    if adaptation["notice"]:
        warnings.warn(adaptation["notice"], BudgetMismatchWarning, stacklevel=2)
    sweep = None
    if "adaptation-sweep" in chosen:
        unknown = [level for level in sweep_ood if level not in bench.splits.ood_levels]
        if isinstance(sweep_ood, str) or unknown:
            raise TasksuiteError(
                f"sweep_ood={sweep_ood!r}: expected a list of OOD levels of {bench.name}, "
                f"which are {', '.join(bench.splits.ood_levels) or 'none'}"
            )
        if sweep_gradient_steps is None:
            sweep_gradient_steps = DEFAULT_SWEEP_GRADIENT_STEPS if accepts_gradient_steps(probe) else ()
        elif sweep_gradient_steps and not accepts_gradient_steps(probe):
            raise TasksuiteError(
                f"sweep_gradient_steps={list(sweep_gradient_steps)!r}: the agent of {agent_factory.spec!r} "
                "takes no other number of gradient steps (it has no set_gradient_steps)"
            )
        steps = distinct_counts("sweep_gradient_steps", sweep_gradient_steps, 0) if sweep_gradient_steps else ()
        # The run's K (the trained one, unless another was asked for) is always a point of the curve.
        episodes = tuple(sorted({*distinct_counts("sweep_episodes", sweep_episodes, 0), adaptation["episodes"]}))
        sweep = Sweep(episodes, steps, ("test", *dict.fromkeys(sweep_ood)))
    demonstrations, demo_noise = check_demonstrations(demonstrations, demo_noise)

    runner = Runner(backend, workers)  # before any file is written: a missing Ray fails here
    results = ResultsDir(out)
    config = {
        "tasksuite_version": tasksuite.__version__,
        "agent": agent_factory.spec if agent_factory else None,
        "agent_kwargs": dict(agent_factory.kwargs) if agent_factory else None,
        "trainer": trainer_factory.spec if trainer_factory else None,
        "trainer_kwargs": dict(trainer_factory.kwargs) if trainer_factory else None,
        "files": file_digests(
            *(agent_factory.kwargs_for(seed) for seed in range(seeds)) if agent_factory else (), trainer_kwargs
        ),
        "runs": "training seeds" if agent_factory and agent_factory.seed_reaches_agent() else "evaluation seeds",
        "method": method,
        "budget": budget if trainer_factory else None,
        "benchmark": bench.name,
        "setting": bench.setting,
        "family": bench.family.name,
        "family_version": bench.family.version,
        "split_seed": bench.splits.seed,
        "splits_hash": bench.splits.to_manifest(bench.name)["hash"],
        "distance_unit": bench.family.distance_unit,
        "ood_levels": list(bench.splits.ood_levels),
        "protocols": chosen,
        "adapt_episodes": adaptation["episodes"],
        "adaptation": adaptation,
        "sweep": sweep.to_dict() if sweep else None,
        "eval_episodes": eval_episodes,
        "seeds": seeds,
        "max_tasks": max_tasks,
        "reference_episodes": reference_episodes,
        # Only in a few-shot-demos run's config: the folders of the other protocols resume unchanged.
        **({"demonstrations": list(demonstrations), "demo_noise": demo_noise} if DEMO_PROTOCOL in chosen else {}),
        "workers": workers,
        "backend": backend,
    }
    units = plan_units(bench, chosen, seeds, adaptation["episodes"], max_tasks, sweep, demonstrations)
    tasks = list(dict.fromkeys(task for unit in units for task in unit.tasks))
    with results.claim(), runner:
        results.prepare(config)
        references = _references(runner, bench.family, tasks, reference_episodes, progress)
        results.save_references({task.id: references[task.id].to_dict() for task in tasks})
        jobs = [
            UnitJob(unit, bench, eval_episodes, agent_factory, trainer_factory, budget, demo_noise)
            for unit in units
            if not results.is_finished(unit.key)
        ]
        with tqdm(total=len(jobs), desc=f"evaluate {bench.name}", unit="unit", disable=not progress) as bar:
            for job, outcome in runner.map(run_unit, jobs):
                if outcome.error is None:
                    results.save_unit(outcome.key, outcome.records)
                else:
                    results.save_error(outcome.key, outcome.error, outcome.traceback or "")
                    bar.write(f"unit {job.unit.key} failed: {outcome.error}")
                bar.update()
        return write_report(results)


def file_digests(*kwargs: Mapping[str, Any] | None) -> dict[str, str]:
    """SHA-256 of every file a factory's keyword argument names (a checkpoint, say), by path.

    Part of a run's configuration: resuming after the file changed (a retrained checkpoint at the
    same path) would otherwise mix units of two different agents.
    """
    digests = {}
    for options in kwargs:
        for value in (options or {}).values():
            if isinstance(value, str | os.PathLike) and os.fspath(value) and Path(value).is_file():
                sha = hashlib.sha256()
                with open(value, "rb") as handle:
                    for chunk in iter(lambda: handle.read(2**20), b""):  # a checkpoint may be large
                        sha.update(chunk)
                digests[os.fspath(value)] = sha.hexdigest()
    return dict(sorted(digests.items()))


def _measure(job: tuple[TaskFamily, Task, int]) -> refs.Reference:
    family, task, episodes = job
    return refs.measure_reference(family, task, episodes)


def _references(
    runner: Runner, family: TaskFamily, tasks: list[Task], episodes: int, progress: bool
) -> dict[str, refs.Reference]:
    """Every task's reference: from the cache, else measured (in parallel) and cached."""
    found = {task.id: refs.load_cached(family, task, episodes) for task in tasks}
    missing = [(family, task, episodes) for task in tasks if found[task.id] is None]
    with tqdm(total=len(missing), desc="references", unit="task", disable=not progress or not missing) as bar:
        for (_, task, _), reference in runner.map(_measure, missing):
            refs.store(family, task, reference)
            found[task.id] = reference
            bar.update()
    return {tid: ref for tid, ref in found.items() if ref is not None}


def redraw_report(out: str | os.PathLike[str]) -> dict[str, Any]:
    """Redraw ``summary.json``, ``report.md`` and the plots of a results folder from its saved records."""
    results = ResultsDir(Path(out))
    results.read_config()  # a clear error when ``out`` is not a results folder, before locking it
    with results.claim():
        return write_report(results)
