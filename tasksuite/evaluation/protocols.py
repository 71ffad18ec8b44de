"""The evaluation protocols and the units of work they consist of.

==============  ==========================================  ==========================================
protocol        tasks                                       each (task, seed) unit
==============  ==========================================  ==========================================
multi-task      the training tasks                          E evaluation episodes, no adaptation
meta-test       the test tasks                              K adaptation episodes, then E evaluation
ood-sweep       the test tasks and every OOD level's tasks  as meta-test: score vs distance
adaptation-     the test tasks (and chosen OOD levels)      as meta-test, once for every K of a list
sweep                                                       (and every number of test-time gradient
                                                            steps, where the agent takes another)
transfer        the training tasks                          a trainer's agent trained on all tasks, and
                                                            one trained on each task alone (same
                                                            per-task budget), each evaluated E episodes
few-shot-demos  the test tasks and every OOD level's tasks  for each D of the sweep: D oracle
                                                            demonstrations of the task shown first,
                                                            then E evaluation episodes (no adaptation
                                                            episodes: D = 0 is meta-test with K = 0)
==============  ==========================================  ==========================================

``"all"`` means the first three: the adaptation sweep (several meta-tests in one) and few-shot-demos
are asked for by name. few-shot-demos numbers are not self-exploration: its records carry
``demonstrations`` and their variant is ``demos-<D>``, so no summary of another protocol ever counts
them. An agent without the optional ``observe_demonstration`` hook is evaluated as if D were 0 at
every D (``demonstrations_shown`` 0 in its records), and the report says so.

A *unit* is the smallest piece of work saved on its own: one agent, one task
(or, for the all-task transfer agent, one task set), one seed. Units run in
any order and any process (:mod:`tasksuite.evaluation.runner`); each returns
its episode records or the traceback of the error that stopped it.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from tasksuite.core.benchmark import Benchmark
from tasksuite.core.errors import TasksuiteError
from tasksuite.core.task import Task
from tasksuite.evaluation.agent import Agent, accepts_gradient_steps, is_privileged, takes_demonstrations
from tasksuite.evaluation.agents import Factory, as_agent
from tasksuite.evaluation.demonstrations import DEFAULT_DEMONSTRATIONS, make_demonstrations
from tasksuite.evaluation.trial import run_trial

DEMO_PROTOCOL = "few-shot-demos"
PROTOCOLS: tuple[str, ...] = ("multi-task", "meta-test", "ood-sweep", "adaptation-sweep", "transfer", DEMO_PROTOCOL)
AGENT_PROTOCOLS: tuple[str, ...] = ("multi-task", "meta-test", "ood-sweep", "adaptation-sweep", DEMO_PROTOCOL)
#: What ``"all"`` runs with an agent: the adaptation sweep and few-shot-demos are asked for by name.
ALL_AGENT_PROTOCOLS: tuple[str, ...] = ("multi-task", "meta-test", "ood-sweep")

DEFAULT_ADAPT_EPISODES = 2
DEFAULT_EVAL_EPISODES = 3
DEFAULT_SEEDS = 3
DEFAULT_BUDGET = 10_000
DEFAULT_SWEEP_EPISODES: tuple[int, ...] = (0, 1, 2, 4, 8, 16)
DEFAULT_SWEEP_GRADIENT_STEPS: tuple[int, ...] = (0, 1, 2, 3)


@dataclass(frozen=True)
class Sweep:
    """What the adaptation-sweep protocol varies.

    Attributes:
        episodes: the K values, each evaluated exactly as meta-test with K adaptation episodes.
        gradient_steps: numbers of test-time gradient steps, each at the run's K (empty: the
            agent does not take another number, see ``set_gradient_steps`` in the agent protocol).
        splits: ``"test"`` and any OOD levels swept as well.
    """

    episodes: tuple[int, ...] = DEFAULT_SWEEP_EPISODES
    gradient_steps: tuple[int, ...] = ()
    splits: tuple[str, ...] = ("test",)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of this value."""
        return {
            "episodes": list(self.episodes),
            "gradient_steps": list(self.gradient_steps),
            "splits": list(self.splits),
        }


@runtime_checkable
class Trainer(Protocol):
    """What the transfer protocol needs: a way to train an agent on a set of tasks.

    ``budget`` is in env steps and ``seed`` seeds the training. The returned
    agent is evaluated on ``benchmark.make_env(task)`` (the task is observed
    exactly when the benchmark's setting is multi-task), so train on the same
    observations.
    """

    def train(self, tasks: Sequence[Task], budget: int, seed: int) -> Agent:
        """Train on ``tasks`` (interleaved as the trainer sees fit) for ``budget`` env steps in total."""


@dataclass(frozen=True)
class Unit:
    """One saved piece of work.

    Attributes:
        kind: ``"trial"`` (the evaluated agent on one task), ``"sweep"`` (a trial of the
            adaptation sweep), ``"transfer-all"`` (a trainer's agent trained on every task of
            ``tasks``) or ``"transfer-single"`` (trained on its one task alone).
        split: the split the tasks come from.
        tasks: the tasks evaluated (one, except for ``transfer-all``).
        seed: the run seed.
        adapt_episodes: K, the adaptation episodes before evaluation.
        gradient_steps: the test-time gradient steps the agent is set to (sweep), ``None``: its own.
        demonstrations: D, the demonstrations shown first (few-shot-demos), else ``None``.
    """

    kind: str
    split: str
    tasks: tuple[Task, ...]
    seed: int
    adapt_episodes: int
    gradient_steps: int | None = None
    demonstrations: int | None = None

    @property
    def key(self) -> str:
        """Path-like unique name, e.g. ``test/navigation-0123abcd4567/seed0`` (``demos3/test/...`` for D = 3)."""
        if self.kind == "transfer-all":
            return f"transfer/all/seed{self.seed}"
        (task,) = self.tasks
        where = "transfer/single" if self.kind == "transfer-single" else self.split
        if self.kind == "sweep":
            steps = "" if self.gradient_steps is None else f"-G{self.gradient_steps}"
            where = f"sweep/K{self.adapt_episodes}{steps}/{self.split}"
        if self.demonstrations is not None:
            where = f"demos{self.demonstrations}/{where}"
        return f"{where}/{task.id}/seed{self.seed}"


@dataclass(frozen=True)
class UnitJob:
    """Everything a worker needs to run one unit (picklable)."""

    unit: Unit
    benchmark: Benchmark
    eval_episodes: int
    agent: Factory | None = None
    trainer: Factory | None = None
    budget: int = 0
    demo_noise: float = 0.0


@dataclass(frozen=True)
class UnitOutcome:
    """A unit's episode records (JSON-able dicts), or the error that stopped it."""

    key: str
    records: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    traceback: str | None = None


def splits_of(protocol: str, benchmark: Benchmark) -> list[str]:
    """The splits an agent protocol evaluates on."""
    if protocol == "multi-task":
        return ["train"]
    if protocol == "meta-test":
        return ["test"]
    if protocol in ("ood-sweep", DEMO_PROTOCOL):
        return ["test", *benchmark.splits.ood_levels]
    raise TasksuiteError(f"protocol {protocol!r} has no agent splits; they are {', '.join(ALL_AGENT_PROTOCOLS)}")


def plan_units(
    benchmark: Benchmark,
    protocols: Sequence[str],
    seeds: int,
    adapt_episodes: int,
    max_tasks: int | None = None,
    sweep: Sweep | None = None,
    demonstrations: Sequence[int] = DEFAULT_DEMONSTRATIONS,
) -> list[Unit]:
    """Every unit the given protocols need, without duplicates (meta-test and ood-sweep share the test split);
    few-shot-demos plans one trial unit per D of ``demonstrations`` for each (task, seed)."""
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise TasksuiteError(f"unknown protocol(s) {unknown}; protocols are {', '.join(PROTOCOLS)}")
    units: dict[str, Unit] = {}
    for protocol in protocols:
        if protocol == "transfer":
            tasks = benchmark.tasks("train")[:max_tasks]
            for seed in range(seeds):
                planned = [Unit("transfer-all", "train", tasks, seed, 0)]
                planned += [Unit("transfer-single", "train", (task,), seed, 0) for task in tasks]
                units.update((unit.key, unit) for unit in planned)
            continue
        if protocol == "adaptation-sweep":
            sweep = sweep or Sweep()
            for split in sweep.splits:
                for task in benchmark.tasks(split)[:max_tasks]:
                    for seed in range(seeds):
                        planned = [Unit("sweep", split, (task,), seed, k) for k in sweep.episodes]
                        planned += [
                            Unit("sweep", split, (task,), seed, adapt_episodes, g) for g in sweep.gradient_steps
                        ]
                        units.update((unit.key, unit) for unit in planned)
            continue
        for split in splits_of(protocol, benchmark):
            k = 0 if protocol in ("multi-task", DEMO_PROTOCOL) else adapt_episodes
            counts: Sequence[int | None] = demonstrations if protocol == DEMO_PROTOCOL else (None,)
            for task in benchmark.tasks(split)[:max_tasks]:
                for seed in range(seeds):
                    for count in counts:
                        unit = Unit("trial", split, (task,), seed, k, demonstrations=count)
                        units.setdefault(unit.key, unit)
    return list(units.values())


def run_unit(job: UnitJob) -> UnitOutcome:
    """Run one unit; an exception raised by the agent or trainer becomes the outcome's error and traceback."""
    unit = job.unit
    try:
        if unit.kind in ("trial", "sweep"):
            if job.agent is None:
                raise TasksuiteError(f"a {unit.kind} unit needs an agent factory")
            (task,) = unit.tasks
            agent = job.agent.build_agent(seed=unit.seed)
            if unit.gradient_steps is not None:
                if not accepts_gradient_steps(agent):
                    raise TasksuiteError(
                        f"{job.agent.spec!r} built an agent without set_gradient_steps(steps): "
                        "it cannot be swept over test-time gradient steps"
                    )
                agent.set_gradient_steps(unit.gradient_steps)  # type: ignore[attr-defined]
            variant = "agent" if unit.kind == "trial" else "sweep"
            return UnitOutcome(unit.key, tuple(_trial_records(job, agent, task, variant)))
        if job.trainer is None:
            raise TasksuiteError("a transfer unit needs a trainer factory")
        trainer = job.trainer.build()
        if not isinstance(trainer, Trainer):
            raise TasksuiteError(f"trainer factory {job.trainer.spec!r} returned an object without train()")
        variant = "all" if unit.kind == "transfer-all" else "single"
        agent = as_agent(trainer.train(unit.tasks, job.budget * len(unit.tasks), unit.seed), job.trainer.spec)
        records = [record for task in unit.tasks for record in _trial_records(job, agent, task, variant)]
        return UnitOutcome(unit.key, tuple(records))
    except Exception as error:  # an agent's bug must not take the other units down: report it
        return UnitOutcome(unit.key, error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())


def _trial_records(job: UnitJob, agent: Agent, task: Task, variant: str) -> list[dict[str, Any]]:
    unit = job.unit
    shown: list = []
    demonstrated: dict[str, Any] = {}
    if unit.demonstrations is not None:
        count = unit.demonstrations if takes_demonstrations(agent) else 0
        shown = make_demonstrations(job.benchmark, task, unit.seed, count, job.demo_noise)
        variant = f"demos-{unit.demonstrations}"
        demonstrated = {
            "demonstrations": unit.demonstrations,
            "demonstrations_shown": count,
            "demo_noise": job.demo_noise,
            "demo_source": "oracle",
        }
    episodes = run_trial(agent, job.benchmark, task, unit.seed, unit.adapt_episodes, job.eval_episodes, shown)
    where = {
        "unit": unit.key,
        "variant": variant,
        "split": unit.split,
        "task_id": task.id,
        "ood_level": task.ood_level,
        "distance": task.distance,
        "params": dict(task.params),
        "seed": unit.seed,
        "adapt_episodes": unit.adapt_episodes,
        "gradient_steps": unit.gradient_steps,
        "privileged": is_privileged(agent),
        **demonstrated,
    }
    return [{**where, **episode.to_dict()} for episode in episodes]
