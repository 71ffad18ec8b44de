"""What ``tasksuite validate`` trains and evaluates: one declarative table, :data:`TABLE`.

A row is a method on a benchmark with its budget, its settings, its training seeds and the
held-out seed the report never pools (a reviewer's "new seed", shown against the interval a new
seed is expected to land in). Adding a benchmark to the validation is one row per method.
Controls come with their method (:data:`CONTROLS`: the agent without the mechanism that is
supposed to help, evaluated on the same checkpoint, tasks and seeds); a control that needs its
own training (the MAML paper's pretrained policy) is a row with a ``variant``.

A :class:`Plan` is the set of jobs of a table; ``select`` keeps a part of it (some methods,
benchmarks, seeds), so the plan can be run in parts into one validate folder.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import tasksuite
from tasksuite.core.errors import TasksuiteError

#: The transfer protocol's trainer factory of the multi-task baseline.
MULTITASK_TRAINER = "tasksuite.baselines.multitask:trainer"
#: Meta benchmarks every meta-RL baseline validates on.
META_BENCHMARKS = ("navigation-meta", "maml-navigation", "pearl-sparse-point", "reaching-meta", "warehouse-meta")
MULTITASK_BENCHMARKS = ("navigation-multitask", "reaching-multitask", "warehouse-multitask")
#: The meta-RL baselines, each on every meta benchmark.
META_METHODS = ("maml", "rl2", "pearl", "incontext")
#: The transfer protocol trains one agent per task: on the first 10 training tasks (of 50 for
#: warehouse-multitask) it stays within minutes.
TRANSFER_MAX_TASKS = 10
#: Training seeds of a row unless it says otherwise (the issue's statistics: >= 5 for MAML and
#: RL², >= 3 for PEARL, whose SAC updates cost 20-50x more per env step), and the held-out seed.
#: Methods whose final checkpoint also gets the few-shot-demos sweep (D = 0, 1, 3, 10 oracle
#: demonstrations on the test tasks and every OOD level): the in-context agent beside RL², the same
#: kind of adaptation (MAML and PEARL take demonstrations too: ``tasksuite evaluate --protocol few-shot-demos``).
DEMONSTRATION_METHODS = ("rl2", "incontext")
SEEDS = {"maml": 5, "rl2": 5, "pearl": 3, "incontext": 3, "multitask": 3}
HELD_OUT_SEED = 100


@dataclass(frozen=True)
class Control:
    """A method's control: the same checkpoint evaluated with ``agent_kwargs`` (``label`` says what they remove)."""

    label: str
    agent_kwargs: Mapping[str, Any]


#: Evaluation-only controls, per method (see each baseline's ``load_agent``).
CONTROLS: dict[str, Control] = {
    "maml": Control("random initialization, same adaptation", {"initialization": "random"}),
    "rl2": Control("hidden state cleared every episode", {"memory": "episode"}),
    "pearl": Control("posterior never updated (prior z)", {"posterior": "prior"}),
    "incontext": Control("context removed (every step acted as a trial's first)", {"context": "none"}),
}


@dataclass(frozen=True)
class Row:
    """One method on one benchmark: how it trains and how it is evaluated.

    Attributes:
        method: one of :data:`tasksuite.baselines.ALGORITHMS`.
        benchmark: a registered benchmark name.
        steps: env-step budget per seed (``None``: the config default).
        overrides: other ``Config`` fields of the baseline.
        agent_kwargs: options of the baseline's ``load_agent`` at evaluation.
        variant: names a row that trains something other than the method itself (a control).
        control_of: for a variant, the method whose control it is.
        seeds: training seeds pooled in the report (``None``: :data:`SEEDS`).
        why: how the settings were chosen (measured), shown in the report.
        train_tasks: train on this many tasks drawn anew from the family's training distribution
            (:func:`tasksuite.baselines.scaling.scaling_benchmark`) instead of the benchmark's training
            split, for the task-distribution scaling study; evaluated on the benchmark's test and OOD
            tasks like every row (``None``: the benchmark's training split).
    """

    method: str
    benchmark: str
    steps: int | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    agent_kwargs: Mapping[str, Any] = field(default_factory=dict)
    variant: str = ""
    control_of: str = ""
    seeds: int | None = None
    why: str = ""
    train_tasks: int | None = None

    @property
    def label(self) -> str:
        """``maml`` or ``maml-pretrained``: the name of the row's agent."""
        return f"{self.method}-{self.variant}" if self.variant else self.method

    def trainings(self, held_out: bool = True) -> list[Training]:
        """The row's trainings: its pooled seeds, then the held-out seed."""
        seeds = list(range(self.seeds or SEEDS[self.method])) + ([HELD_OUT_SEED] if held_out else [])
        return [Training(self, seed, held_out=seed == HELD_OUT_SEED) for seed in seeds]


def _meta(benchmark: str, **settings: Mapping[str, Any]) -> list[Row]:
    return [Row(method, benchmark, **settings.get(method, {})) for method in META_METHODS]


def _scaling(method: str, benchmark: str, steps: int, why: str) -> list[Row]:
    """The task-distribution scaling study: ``method`` on :data:`SCALING_SIZES` training tasks, the same
    config and budget (so the same number of gradient steps) for every size."""
    return [
        Row(method, benchmark, steps=steps, variant=f"train{n}", train_tasks=n, seeds=SCALING_SEEDS, why=why)
        for n in SCALING_SIZES
    ]


#: Training-set sizes of the scaling study (issue 14), and its training seeds per size.
SCALING_SIZES = (10, 100, 1000, 10000)
SCALING_SEEDS = 3


#: The validation table. Budgets: navigation-meta's were measured in issue 6 (docs/results.md);
#: the others as the rows' ``why`` says.
TABLE: tuple[Row, ...] = (
    *_meta(
        "navigation-meta",
        maml={"steps": 2_000_000},
        rl2={"steps": 1_000_000},
        pearl={"steps": 300_000},
        incontext={
            "steps": 3_000_000,
            "why": "at 2M env steps (3 seeds, 8.2 min each) the test score was 0.848 and still rising "
            "(0.80 at 1.6M): trained on to 3M, 0.861 in 11.7 min a seed (both parts)",
        },
    ),
    *_meta(
        "maml-navigation",
        maml={"steps": 2_000_000},
        rl2={"steps": 2_000_000, "why": "horizon 100: twice navigation-meta's steps per trial"},
        pearl={
            "steps": 180_000,
            "why": "navigation-meta's learning curve (3 seeds): 0.71 at 120k, 0.77 at 180k, 0.85 at 300k env steps; "
            "180k measured 7.3 min a seed (horizon 100: twice the env steps per gradient step)",
        },
        incontext={"steps": 1_200_000, "why": "horizon 100: a 4-episode window of 400 steps; measured 10.2 min a seed"},
    ),
    Row(
        "maml",
        "maml-navigation",
        steps=2_000_000,
        overrides={"inner_steps": 0},
        agent_kwargs={"inner_steps": 1},
        variant="pretrained",
        control_of="maml",
        why="the MAML paper's comparison: one policy trained on all training goals, then the same gradient step",
    ),
    *_meta(
        "pearl-sparse-point",
        maml={"steps": 2_000_000},
        rl2={
            "steps": 4_000_000,
            "why": "at 1M env steps (5 seeds, 74 s each) the test score was 0.387 and still rising on 4 seeds "
            "(0.02 at 200k, 0.29 at 600k): 4M, trained anew (the 1M checkpoints predate the benchmark check "
            "on resume)",
        },
        pearl={
            "steps": 100_000,
            "overrides": {"critic_reward": "dense"},
            "why": "as the PEARL code: the critic learns from the dense reward, the encoder reads the sparse one",
        },
        incontext={"steps": 2_000_000},
    ),
    *_meta(
        "reaching-meta",
        maml={"steps": 2_000_000},
        rl2={
            "steps": 4_000_000,
            "why": "at 1M env steps the episodes of a trial score alike (no adaptation); they separate after ~2M",
        },
        pearl={"steps": 300_000},
        incontext={"steps": 1_500_000, "why": "measured 6.8 min a seed"},
    ),
    *_meta(
        "warehouse-meta",
        maml={"steps": 2_000_000},
        rl2={"steps": 4_000_000},
        pearl={"steps": 300_000},
        incontext={"steps": 2_000_000, "why": "~14.5 min a seed by measured throughput (2,300 env steps/s)"},
    ),
    *_scaling(
        "incontext",
        "navigation-meta",
        steps=1_000_000,
        why="1M env steps for every size (3.0-3.3 min a seed measured): the study compares sizes at one budget",
    ),
    Row("multitask", "navigation-multitask"),
    Row("multitask", "reaching-multitask"),
    Row(
        "multitask",
        "warehouse-multitask",
        steps=10_000_000,
        overrides={"envs_per_task": 4, "checkpoint_every": 50},
        why="pushing 50 shapes: train score 0.69 at 10M env steps, 0.12 at 3M; "
        "4 episodes per shape keep a batch at 20k",
    ),
)


@dataclass(frozen=True)
class Training:
    """One row trained with one seed, then evaluated with the harness (with its control and learning curve)."""

    row: Row
    seed: int
    held_out: bool = False

    @property
    def name(self) -> str:
        """The job's name, e.g. ``maml-navigation-meta-seed0``."""
        return f"{self.row.label}-{self.row.benchmark}-seed{self.seed}"

    @property
    def budget(self) -> int:
        """The env-step budget, the config default when the row gives none."""
        return self.row.steps or self.config().total_env_steps

    @property
    def adapt_episodes(self) -> int:
        """K of the evaluation: the adaptation episodes the method meta-trains for (the multi-task
        agent: 0), as its checkpoint declares them (each baseline's ``adaptation_budget``)."""
        from tasksuite.baselines import algorithm

        return algorithm(self.row.method).adaptation_budget(self.config()).episodes

    @property
    def protocols(self) -> tuple[str, ...]:
        """The harness protocols of the evaluation."""
        return ("multi-task", "ood-sweep") if self.row.method == "multitask" else ("ood-sweep",)

    @property
    def final_protocols(self) -> tuple[str, ...]:
        """Protocols of the final checkpoint run after the evaluation, each into its own folder: the
        adaptation sweep for every meta-RL method, few-shot-demos for :data:`DEMONSTRATION_METHODS`."""
        if self.row.method == "multitask" or self.row.train_tasks is not None:
            return ()
        return ("adaptation-sweep", *(("few-shot-demos",) if self.row.method in DEMONSTRATION_METHODS else ()))

    @property
    def control(self) -> Control | None:
        """The evaluation-only control of the method (``None`` for variants and the multi-task agent)."""
        return None if self.row.variant else CONTROLS.get(self.row.method)

    def config(self) -> Any:
        """The baseline's config with the row's overrides."""
        from tasksuite.baselines import algorithm, checked_overrides

        config_class = algorithm(self.row.method).Config
        overrides = dict(self.row.overrides)
        if self.row.steps is not None:
            overrides["total_env_steps"] = self.row.steps
        return config_class(seed=self.seed, **checked_overrides(self.row.method, config_class, overrides))


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
        trainings: the training jobs, run in this order.
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
        """The plan as JSON values (what ``plan.json`` holds, and what the report reads)."""
        data = json.loads(json.dumps(dataclasses.asdict(self)))
        for training, record in zip(self.trainings, data["trainings"], strict=True):
            record.update(
                name=training.name,
                budget=training.budget,
                adapt_episodes=training.adapt_episodes,
                label=training.row.label,
                control=None if training.control is None else dataclasses.asdict(training.control),
            )
        return data

    def select(
        self,
        methods: Sequence[str] | None = None,
        benchmarks: Sequence[str] | None = None,
        seeds: int | None = None,
    ) -> list[Training | Transfer]:
        """The part of the plan to run: trainings of these methods (a variant counts as its
        method) on these benchmarks, with the first ``seeds`` seeds of each row (the held-out seed
        only when all are asked for); transfers go with the multitask method. ``None``: all."""
        _check_names("method", methods, {t.row.method for t in self.trainings} | {"multitask"})
        _check_names("benchmark", benchmarks, {t.row.benchmark for t in self.trainings})
        chosen: list[Training | Transfer] = []
        for training in self.trainings:
            if methods and training.row.method not in methods:
                continue
            if benchmarks and training.row.benchmark not in benchmarks:
                continue
            if seeds is not None and (training.held_out or training.seed >= seeds):
                continue
            chosen.append(training)
        for transfer in self.transfers:
            if (not methods or "multitask" in methods) and (not benchmarks or transfer.benchmark in benchmarks):
                chosen.append(transfer)
        if not chosen:
            raise TasksuiteError(
                f"no job of the {self.name} plan matches methods={list(methods or [])}, "
                f"benchmarks={list(benchmarks or [])}, seeds={seeds}"
            )
        return chosen


def _check_names(kind: str, names: Sequence[str] | None, known: set[str]) -> None:
    unknown = sorted(set(names or ()) - known)
    if unknown:
        raise TasksuiteError(f"unknown {kind}(s) {unknown} for this plan; it has {sorted(known)}")


def _transfers() -> tuple[Transfer, ...]:
    """The transfer protocol on each multi-task benchmark; per-task budget: the multi-task row's
    budget shared over the training tasks, so the all-task agent trains as long as the multi-task run."""
    transfers = []
    for bench in MULTITASK_BENCHMARKS:
        row = next(r for r in TABLE if r.method == "multitask" and r.benchmark == bench)
        tasks = len(tasksuite.make_benchmark(bench).train_tasks)
        transfers.append(Transfer(bench, budget=Training(row, 0).budget // tasks, max_tasks=TRANSFER_MAX_TASKS))
    return tuple(transfers)


def full_plan(table: Sequence[Row] = TABLE) -> Plan:
    """Every row of the table with its seeds and held-out seed, and the transfer protocol; the
    longest jobs first (they pack the workers best)."""
    # The scaling study compares training-set sizes, not seeds: it has no held-out seed.
    trainings = [training for row in table for training in row.trainings(held_out=row.train_tasks is None)]
    trainings.sort(key=lambda t: -t.budget * (30 if t.row.method == "pearl" else 1))
    return Plan("full", tuple(trainings), _transfers())


def quick_plan(seeds: int = 1) -> Plan:
    """MAML and RL² on navigation-meta and the multi-task agent on navigation-multitask, ``seeds``
    seeds, no held-out seed: the README's main job, a few minutes on 2 cores."""
    rows = [
        r
        for r in TABLE
        if r.benchmark in ("navigation-meta", "navigation-multitask") and r.method in ("maml", "rl2", "multitask")
    ]
    trainings = [Training(row, seed) for row in rows for seed in range(seeds)]
    return Plan("quick", tuple(trainings))
