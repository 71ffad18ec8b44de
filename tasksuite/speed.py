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
        env = family.make_env(_tasks(family_name, 1)[0]).unwrapped
        env.reset(seed=0)
        actions, reference_actions = _actions(env.action_space), _actions(env.action_space)
        step = env.step  # stepping on past the horizon keeps returning truncated
        if mujoco_family:
            import mujoco

            model, data = _raw_physics(env)
            frame_skip = env.frame_skip

            def raw() -> None:
                data.ctrl[:] = next(reference_actions)
                mujoco.mj_step(model, data, nstep=frame_skip)

            return (lambda: step(next(actions))), raw
        plain = MinimalEnv(env.observation_space, env.action_space)
        plain.reset(seed=0)
        return (lambda: step(next(actions))), (lambda: plain.step(next(reference_actions)))

    reference = "raw mujoco.mj_step, same model and frame skip" if mujoco_family else "a minimal gymnasium env"
    return Scenario(f"{family_name}/step", family_name, "single-env step", reference, 1, "step", build)


def _batched_scenario(family_name: str, num_envs: int) -> Scenario:
    family = tasksuite.get_family(family_name)

    def build() -> tuple[Call, Call]:
        tasks = _tasks(family_name, num_envs)
        batched = gym.make_vec(family.env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", tasks=tasks)
        sync = gym.vector.SyncVectorEnv([functools.partial(family.make_env, task) for task in tasks])
        batched.reset(seed=0)
        sync.reset(seed=0)
        actions = _actions(sync.single_action_space, num_envs)
        reference_actions = _actions(sync.single_action_space, num_envs)
        return (lambda: batched.step(next(actions))), (lambda: sync.step(next(reference_actions)))

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
    mujoco_family = is_mujoco(family_name)

    def build() -> tuple[Call, Call]:
        tasks = _tasks(family_name, 16)
        env = family.make_env(tasks[0]).unwrapped
        cycle = iter(_forever(tasks))
        subject = lambda: env.reset(seed=0, options={"task": next(cycle)})  # noqa: E731
        if mujoco_family:
            import mujoco

            model, data = _raw_physics(env)

            def raw() -> None:
                mujoco.mj_resetData(model, data)
                mujoco.mj_forward(model, data)

            return subject, raw
        plain = MinimalEnv(env.observation_space, env.action_space)
        return subject, (lambda: plain.reset(seed=0))

    return Scenario(
        f"{family_name}/reset-new-task",
        family_name,
        "reset to a new task (16 tasks in turn)",
        "raw mj_resetData + mj_forward" if mujoco_family else "resetting a minimal gymnasium env",
        1,
        "reset",
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
        found.append(_reset_scenario(name))
    found += [_construction_scenario(b.name) for b in benchmark_entries() if b.family in families]
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


def measure(scenario: Scenario, seconds: float = 0.2, rounds: int = 5) -> Measurement:
    """Time ``scenario``'s subject and reference with the same loop, in alternating rounds.

    Alternating keeps both sides under the same machine load; each side's
    figure is the median of its rounds.
    """
    subject, reference = scenario.build()
    calls, reference_calls = calls_for(subject, seconds), calls_for(reference, seconds)
    samples = [(time_loop(reference, reference_calls), time_loop(subject, calls)) for _ in range(rounds)]
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


def vector_env_rss_mb(family_name: str, num_envs: int, steps: int = 100) -> float:
    """Peak RSS (MB) of a fresh Python process that builds and steps a ``num_envs`` vector env of the family.

    A fresh process, so that nothing else this process allocated is counted;
    the figure includes the interpreter, NumPy, Gymnasium and MuJoCo themselves.
    """
    import subprocess

    script = (
        "import gymnasium as gym, numpy as np, tasksuite, tasksuite.speed as s;"
        f"tasks = s._tasks({family_name!r}, {num_envs});"
        f"envs = gym.make_vec({tasksuite.get_family(family_name).env_id!r}, num_envs={num_envs},"
        " vectorization_mode='vector_entry_point', tasks=tasks);"
        "envs.reset(seed=0);"
        f"[envs.step(envs.action_space.sample()) for _ in range({steps})];"
        "print(s.peak_rss_mb())"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


#: Meta-World's closest task to each of our families' single-env step.
METAWORLD_COUNTERPART = {"reaching": "reach", "warehouse": "push"}


def metaworld_reference(python: str, seconds: float = 0.2) -> dict[str, Any]:
    """Meta-World's figures, measured by ``python`` (an interpreter whose environment has ``metaworld``).

    Runs :mod:`tasksuite.metaworld_reference` as a script in that interpreter, so
    that Meta-World's pinned MuJoCo never enters tasksuite's environment.
    """
    import json
    import subprocess
    from pathlib import Path

    script = Path(__file__).with_name("metaworld_reference.py")
    result = subprocess.run([python, str(script), str(seconds)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the Meta-World measurement failed in {python}:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


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
