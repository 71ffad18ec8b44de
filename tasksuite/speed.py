"""Speed scenarios: what tasksuite measures about its own speed, and against which reference.

Each :class:`Scenario` pairs the code under test with a *reference* doing the
same work the plain way — raw ``mujoco.mj_step`` on the same model and frame
skip, Gymnasium's ``SyncVectorEnv`` over the same tasks, a minimal Gymnasium
env — timed with the same loop in the same process, so that the reported
ratio means the same on any machine. ``tasksuite bench`` and the
pytest-benchmark suite in ``benchmarks/`` run the same scenarios.
"""

from __future__ import annotations

import copy
import functools
import itertools
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np

import tasksuite
from tasksuite.core.mujoco_env import MujocoTaskEnv
from tasksuite.core.task import Task

BATCH_SIZES = (1, 64, 1024)
Call = Callable[[], object]


@dataclass(frozen=True)
class Scenario:
    """One measurement: ``build()`` returns ``(subject, reference)`` zero-argument callables.

    One call of either does ``units`` units of ``unit`` (e.g. 64 env steps).
    """

    name: str
    family: str
    what: str
    reference: str
    units: int
    unit: str
    build: Callable[[], tuple[Call, Call]]


@dataclass(frozen=True)
class Measurement:
    """A scenario's result: throughput of subject and reference, and their time ratio."""

    name: str
    family: str
    what: str
    reference: str
    unit: str
    per_second: float
    reference_per_second: float
    ratio: float  # time(subject) / time(reference); below 1 is faster than the reference

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the measurement."""
        return asdict(self)


def _tasks(family_name: str, n: int) -> list[Task]:
    """``n`` training tasks of the family, all different (i.i.d. draws, seeded)."""
    family = tasksuite.get_family(family_name)
    return family.sample_tasks(np.random.default_rng(0), n)


def _actions(space: gym.spaces.Box, batch: int | None = None) -> Iterator[np.ndarray]:
    """Endless seeded random actions (97 distinct ones, cycled): a moving system, like an exploring agent's."""
    shape = space.shape if batch is None else (batch, *space.shape)
    low, high = space.low, space.high
    return itertools.cycle(np.random.default_rng(0).uniform(low, high, size=(97, *shape)).astype(space.dtype))


class MinimalEnv(gym.Env):
    """The least a Gymnasium env with these spaces can do per step: the reference for NumPy families."""

    def __init__(self, observation_space: gym.spaces.Box, action_space: gym.spaces.Box) -> None:
        self.observation_space, self.action_space = observation_space, action_space
        self._state = np.zeros(observation_space.shape)
        self._width = min(observation_space.shape[0], action_space.shape[0])

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Back to the origin."""
        super().reset(seed=seed)
        self._state[:] = 0.0
        return self._state.astype(np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Move by a tenth of the action; reward minus the distance from the origin."""
        self._state[: self._width] += 0.1 * action[: self._width]
        reward = -float(np.sqrt(self._state @ self._state))
        return self._state.astype(np.float32), reward, False, False, {}


def is_mujoco(family_name: str) -> bool:
    """Whether the family simulates with MuJoCo (its env derives from :class:`MujocoTaskEnv`)."""
    from tasksuite.registry import family_entry, load_entry_point

    return issubclass(load_entry_point(family_entry(family_name).entry_point), MujocoTaskEnv)


def _raw_physics(env: MujocoTaskEnv) -> tuple[Any, Any]:
    import mujoco

    model = copy.copy(env.model)  # same model, same task parameters
    return model, mujoco.MjData(model)


def _step_scenario(family_name: str) -> Scenario:
    family = tasksuite.get_family(family_name)
    mujoco_family = is_mujoco(family_name)

    def build() -> tuple[Call, Call]:
        env = family.make_env(_tasks(family_name, 1)[0])  # as gym.make returns it: its wrappers are paid per step
        env.reset(seed=0)
        actions, reference_actions = _actions(env.action_space), _actions(env.action_space)
        step = env.step  # stepping on past the horizon keeps returning truncated
        if mujoco_family:
            import mujoco

            model, data = _raw_physics(env.unwrapped)
            frame_skip = env.unwrapped.frame_skip

            def raw() -> None:
                data.ctrl[:] = next(reference_actions)
                mujoco.mj_step(model, data, nstep=frame_skip)

            return (lambda: step(next(actions))), raw
        plain = MinimalEnv(env.observation_space, env.action_space)
        plain.reset(seed=0)
        return (lambda: step(next(actions))), (lambda: plain.step(next(reference_actions)))

    reference = "raw mujoco.mj_step, same model and frame skip" if mujoco_family else "a minimal gymnasium env"
    return Scenario(
        f"{family_name}/step", family_name, "single-env step (as gym.make returns it)", reference, 1, "step", build
    )


def _stepping(subject: gym.vector.VectorEnv, reference: gym.vector.VectorEnv, num_envs: int) -> tuple[Call, Call]:
    """Both vector envs reset with seed 0, then stepped each with its own stream of the same actions."""
    for env in (subject, reference):
        env.reset(seed=0)
    actions = _actions(reference.single_action_space, num_envs)
    reference_actions = _actions(reference.single_action_space, num_envs)
    return (lambda: subject.step(next(actions))), (lambda: reference.step(next(reference_actions)))


def _batched_scenario(family_name: str, num_envs: int) -> Scenario:
    family = tasksuite.get_family(family_name)

    def build() -> tuple[Call, Call]:
        tasks = _tasks(family_name, num_envs)
        batched = gym.make_vec(family.env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", tasks=tasks)
        sync = gym.vector.SyncVectorEnv([functools.partial(family.make_env, task) for task in tasks])
        return _stepping(batched, sync, num_envs)

    return Scenario(
        f"{family_name}/batched-{num_envs}",
        family_name,
        f"batched step, {num_envs} sub-envs on {num_envs} tasks",
        f"SyncVectorEnv over the same {num_envs} tasks",
        num_envs,
        "env-step",
        build,
    )


def _reset_scenario(family_name: str) -> Scenario:
    family = tasksuite.get_family(family_name)

    def build() -> tuple[Call, Call]:
        tasks = _tasks(family_name, 16)
        env, fixed = family.make_env(tasks[0]), family.make_env(tasks[0])
        for each in (env, fixed):  # seeded once, alike: no side pays a new generator per reset
            each.reset(seed=0)
        cycle = iter(_forever(tasks))
        return (lambda: env.reset(options={"task": next(cycle)})), fixed.reset

    return Scenario(
        f"{family_name}/reset-new-task",
        family_name,
        "single-env reset(options={'task': ...}), 16 tasks in turn",
        "reset of the same env on its fixed task",
        1,
        "reset",
        build,
    )


def _sampled_reset_scenario(family_name: str) -> Scenario:
    family = tasksuite.get_family(family_name)

    def build() -> tuple[Call, Call]:
        sampling, fixed = family.make_env(), family.make_env(_tasks(family_name, 1)[0])
        for each in (sampling, fixed):
            each.reset(seed=0)
        return sampling.reset, fixed.reset

    return Scenario(
        f"{family_name}/reset-sampled-task",
        family_name,
        "single-env reset without task=: each draws a training task",
        "reset of the same env on a fixed task",
        1,
        "reset",
        build,
    )


def sampled_num_envs(family_name: str) -> int:
    """Sub-envs of the vector-env scenarios without ``tasks=``: 64 for MuJoCo families, 1024 for NumPy ones."""
    return 64 if is_mujoco(family_name) else 1024


def _sampled_vector_scenario(family_name: str) -> Scenario:
    family = tasksuite.get_family(family_name)
    num_envs = sampled_num_envs(family_name)

    def build() -> tuple[Call, Call]:
        make = functools.partial(
            gym.make_vec, family.env_id, num_envs=num_envs, vectorization_mode="vector_entry_point"
        )
        return _stepping(make(), make(tasks=_tasks(family_name, num_envs)), num_envs)

    return Scenario(
        f"{family_name}/batched-{num_envs}-sampled",
        family_name,
        f"batched step, {num_envs} sub-envs without tasks= (every reset draws a training task)",
        f"the same vector env with tasks= ({num_envs} fixed tasks)",
        num_envs,
        "env-step",
        build,
    )


def _construction_scenario(benchmark_name: str) -> Scenario:
    benchmark = tasksuite.make_benchmark(benchmark_name)

    def build() -> tuple[Call, Call]:
        def construct() -> None:
            envs = tasksuite.make_benchmark(benchmark_name).make_vec_env("train")
            envs.reset(seed=0)
            envs.close()

        return construct, (lambda: benchmark.family.make_env().close())

    return Scenario(
        f"{benchmark_name}/build",
        benchmark.family.name,
        f"build benchmark {benchmark_name} with its {len(benchmark.train_tasks)} training envs and reset them all",
        "building one single env of the family",
        1,
        "build",
        build,
    )


#: The benchmark whose evaluation by the oracle is timed against stepping its episodes by hand.
EVALUATED_BENCHMARK = "navigation-meta"


def _evaluate_scenario(benchmark_name: str) -> Scenario:
    def build() -> tuple[Call, Call]:
        import os
        import tempfile

        from tasksuite.evaluation import evaluate
        from tasksuite.evaluation.protocols import DEFAULT_ADAPT_EPISODES, DEFAULT_EVAL_EPISODES, DEFAULT_SEEDS
        from tasksuite.evaluation.rollout import run_episode

        benchmark = tasksuite.make_benchmark(benchmark_name)
        family = benchmark.family
        scratch = tempfile.TemporaryDirectory(prefix="tasksuite-bench-")  # removed with the closures
        runs = itertools.count()
        options = {"agent": "tasksuite.evaluation.agents:oracle", "benchmark": benchmark, "workers": 1}

        def harness() -> None:
            evaluate(os.path.join(scratch.name, f"run-{next(runs)}"), **options, progress=False)

        def by_hand() -> None:
            episodes = DEFAULT_ADAPT_EPISODES + DEFAULT_EVAL_EPISODES
            for task in benchmark.test_tasks:
                for seed in range(DEFAULT_SEEDS):
                    env, oracle = family.make_env(task), family.oracle_policy(task)
                    for episode in range(episodes):
                        run_episode(env, oracle, seed=seed * episodes + episode)
                    env.close()

        harness()  # fills the reference cache: both sides then step the trials' episodes only
        return harness, by_hand

    return Scenario(
        f"{benchmark_name}/evaluate-oracle",
        tasksuite.make_benchmark(benchmark_name).family.name,
        f"evaluate(oracle, {benchmark_name}, meta-test) in this process: results folder, report and plots",
        "stepping the same episodes by hand (gym env + oracle policy)",
        1,
        "evaluation",
        build,
    )


def _forever(items: list[Task]) -> Iterator[Task]:
    while True:
        yield from items


def scenarios(family: str | None = None) -> list[Scenario]:
    """Every speed scenario, for every registered family (or only ``family``) and benchmark."""
    from tasksuite.registry import benchmark_entries

    families = [family] if family else tasksuite.list_families()
    found: list[Scenario] = []
    for name in families:
        found.append(_step_scenario(name))
        found += [_batched_scenario(name, n) for n in BATCH_SIZES]
        found.append(_sampled_vector_scenario(name))
        found += [_reset_scenario(name), _sampled_reset_scenario(name)]
    found += [_construction_scenario(b.name) for b in benchmark_entries() if b.family in families]
    if tasksuite.make_benchmark(EVALUATED_BENCHMARK).family.name in families:
        found.append(_evaluate_scenario(EVALUATED_BENCHMARK))
    return found


def loop(fn: Call, calls: int) -> None:
    """Call ``fn`` ``calls`` times: the one loop every timing here uses."""
    for _ in range(calls):
        fn()


def calls_for(fn: Call, seconds: float) -> int:
    """How many calls of ``fn`` take about ``seconds`` (at least one)."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(seconds / once))


def time_loop(fn: Call, calls: int) -> float:
    """Seconds per call of ``fn`` over one loop of ``calls`` calls."""
    start = time.perf_counter()
    loop(fn, calls)
    return (time.perf_counter() - start) / calls


def measure(
    scenario: Scenario, seconds: float = 0.2, rounds: int = 5, between: Callable[[], None] | None = None
) -> Measurement:
    """Time ``scenario``'s subject and reference with the same loop, in alternating rounds.

    Alternating keeps both sides under the same machine load; each side's
    figure is the median of its rounds. ``between``, if given, runs after each
    round (a comparison's own round, in the same window).
    """
    subject, reference = scenario.build()
    calls, reference_calls = calls_for(subject, seconds), calls_for(reference, seconds)
    samples = []
    for _ in range(rounds):
        samples.append((time_loop(reference, reference_calls), time_loop(subject, calls)))
        if between is not None:
            between()
    reference_s = statistics.median(s[0] for s in samples)
    subject_s = statistics.median(s[1] for s in samples)
    return Measurement(
        name=scenario.name,
        family=scenario.family,
        what=scenario.what,
        reference=scenario.reference,
        unit=scenario.unit,
        per_second=scenario.units / subject_s,
        reference_per_second=scenario.units / reference_s,
        ratio=subject_s / reference_s,
    )


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    On Linux, the high-water mark of the process's own memory (``VmHWM``):
    ``getrusage``'s ``ru_maxrss`` survives ``exec``, so a child started by a
    big process would report its parent's size.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def memory_num_envs(family_name: str) -> int:
    """Sub-envs of the vector env whose memory is reported: 64 for MuJoCo families, 1024 for NumPy ones."""
    return 64 if is_mujoco(family_name) else 1024


#: A large vector env whose build time and memory are reported: (family, sub-envs).
LARGE_VECTOR_ENV = ("reaching", 10_000)


@dataclass(frozen=True)
class Footprint:
    """What building a vector env costs in a fresh process."""

    family: str
    num_envs: int
    build_s: float  # gym.make_vec and the first reset(seed=0), tasks drawn beforehand
    peak_rss_mb: float  # the process's peak, interpreter, NumPy, Gymnasium and MuJoCo included

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the footprint."""
        return asdict(self)


def vector_env_footprint(family_name: str, num_envs: int, steps: int = 100) -> Footprint:
    """Build, reset and step a ``num_envs`` vector env of the family (one training task each) in a
    fresh Python process, so that nothing else this process allocated is counted."""
    import subprocess

    script = (
        "import time, gymnasium as gym, numpy as np, tasksuite, tasksuite.speed as s;"
        f"tasks = s._tasks({family_name!r}, {num_envs});"
        "start = time.perf_counter();"
        f"envs = gym.make_vec({tasksuite.get_family(family_name).env_id!r}, num_envs={num_envs},"
        " vectorization_mode='vector_entry_point', tasks=tasks);"
        "envs.reset(seed=0);"
        "build = time.perf_counter() - start;"
        f"[envs.step(envs.action_space.sample()) for _ in range({steps})];"
        "print(build, s.peak_rss_mb())"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    build_s, rss = map(float, result.stdout.strip().splitlines()[-1].split())
    return Footprint(family_name, num_envs, build_s, rss)


def footprints(family: str | None = None) -> list[Footprint]:
    """The footprint of every family's vector env of :func:`memory_num_envs` sub-envs, and of
    :data:`LARGE_VECTOR_ENV`."""
    families = [family] if family else tasksuite.list_families()
    found = [vector_env_footprint(name, memory_num_envs(name)) for name in families]
    if LARGE_VECTOR_ENV[0] in families:
        found.append(vector_env_footprint(*LARGE_VECTOR_ENV))
    return found


@dataclass(frozen=True)
class TrainStartUp:
    """Seconds from the start of ``tasksuite train`` to its first env step, in a fresh process."""

    algorithm: str
    benchmark: str
    torch_import_s: float  # ``import torch``, not counted in ``start_up_s``
    start_up_s: float  # the rest, up to the first env step
    compiler_imported: bool  # whether ``torch._dynamo`` (2-3 s to import, never used) was imported by then

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the measurement."""
        return asdict(self)

    def summary(self) -> str:
        """One line for ``tasksuite bench`` and the benchmarks' terminal summary."""
        return (
            f"tasksuite train {self.algorithm} --benchmark {self.benchmark}: {self.start_up_s:.2f} s to the first "
            f"env step after import torch ({self.torch_import_s:.2f} s)"
            + (", torch._dynamo imported on the way" if self.compiler_imported else "")
        )


_TRAIN_START_UP_SCRIPT = """
import sys, tempfile, time
start = time.perf_counter()
import torch
torch_s = time.perf_counter() - start
import tasksuite.core.env as env, tasksuite.core.vector as vector
from tasksuite.cli import main

class FirstStep(BaseException):
    pass

def first_step(*args, **kwargs):
    print(torch_s, time.perf_counter() - start - torch_s, "torch._dynamo" in sys.modules)
    raise FirstStep

for kind in (env.TaskEnv, vector.TaskVectorEnv, vector.SyncTaskVectorEnv):
    kind.step = first_step
try:
    main(["train", sys.argv[1], "--benchmark", sys.argv[2], "--out", tempfile.mkdtemp() + "/run"])
except FirstStep:
    pass
"""


def train_start_up(algorithm: str = "maml", benchmark: str = "navigation-meta") -> TrainStartUp:
    """Time ``tasksuite train ALGORITHM --benchmark BENCHMARK`` up to its first env step in a fresh
    process (needs torch)."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", _TRAIN_START_UP_SCRIPT, algorithm, benchmark], capture_output=True, text=True, check=True
    )
    torch_s, start_up_s, compiler_imported = result.stdout.split()[-3:]
    return TrainStartUp(algorithm, benchmark, float(torch_s), float(start_up_s), compiler_imported == "True")


#: Meta-World's closest task to each of our families' single-env step.
METAWORLD_COUNTERPART = {"reaching": "reach", "warehouse": "push"}


class MetaWorldError(RuntimeError):
    """The Meta-World side of a comparison failed (its interpreter, its environment or Meta-World)."""


class MetaWorld:
    """Meta-World measured by ``python`` (an interpreter whose environment has ``metaworld``), round by round.

    Runs :mod:`tasksuite.metaworld_reference` as a script in that interpreter, so that
    Meta-World's pinned MuJoCo never enters tasksuite's environment, and keeps it running:
    :meth:`round` asks it for one timing round of a task, so that its rounds alternate with
    ours in the same window. Failures raise :class:`MetaWorldError` with its stderr.
    """

    def __init__(self, python: str, seconds: float = 0.2) -> None:
        import subprocess
        from pathlib import Path

        self.python = python
        script = Path(__file__).with_name("metaworld_reference.py")
        try:
            self._process = subprocess.Popen(
                [python, str(script), str(seconds)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except OSError as error:
            raise MetaWorldError(f"cannot run {python}: {error.strerror}") from None
        self.about = self._answer()  # Meta-World's version and its ML10 build
        self._rounds: dict[str, list[dict[str, float]]] = {}

    def _answer(self) -> dict[str, Any]:
        import json

        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            self.close()
            assert self._process.stderr is not None
            stderr = self._process.stderr.read()[-2000:]
            raise MetaWorldError(f"the Meta-World measurement failed in {self.python}:\n{stderr}") from None

    def round(self, task: str) -> None:
        """Time one round of Meta-World's ``task`` (``"reach"`` or ``"push"``)."""
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(f"{task}-v3\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            pass  # it died: _answer reports why
        self._rounds.setdefault(task, []).append(self._answer())

    def between_rounds(self, scenario: Scenario) -> Callable[[], None] | None:
        """What to run after each round of ``scenario``: a round of its Meta-World counterpart, if it has one."""
        task = METAWORLD_COUNTERPART.get(scenario.family)
        if task is None or scenario.name != f"{scenario.family}/step":
            return None
        return functools.partial(self.round, task)

    def figures(self) -> dict[str, Any]:
        """What :func:`metaworld_comparison` reads: each task's medians over its rounds, and the ML10 build."""
        medians = {
            task: {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
            for task, rounds in self._rounds.items()
        }
        return {**self.about, **medians}

    def close(self) -> None:
        """End the Meta-World process."""
        if self._process.stdin is not None and not self._process.stdin.closed:
            try:
                self._process.stdin.close()
            except BrokenPipeError:
                pass
        self._process.wait()


def metaworld_comparison(measurements: list[Measurement], metaworld: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows comparing our measurements with Meta-World's: speed-ups of single-env steps and of building."""
    rows = []
    by_name = {m.name: m for m in measurements}
    for family, task in METAWORLD_COUNTERPART.items():
        ours = by_name.get(f"{family}/step")
        if ours is not None:
            theirs = metaworld[task]
            rows.append(
                {
                    "what": f"{family} step vs Meta-World {task}-v3 step",
                    "ours_per_second": ours.per_second,
                    "metaworld_per_second": theirs["steps_per_second"],
                    "speedup": ours.per_second / theirs["steps_per_second"],
                    "metaworld_overhead_vs_raw_physics": theirs["raw_physics_steps_per_second"]
                    / theirs["steps_per_second"],
                }
            )
    for m in measurements:
        if m.name.endswith("/build"):
            rows.append(
                {
                    "what": f"{m.name.removesuffix('/build')} build+reset vs Meta-World ML10 build",
                    "ours_s": 1.0 / m.per_second,
                    "metaworld_s": metaworld["ml10_build_s"],
                    "speedup": metaworld["ml10_build_s"] * m.per_second,
                }
            )
    return rows
