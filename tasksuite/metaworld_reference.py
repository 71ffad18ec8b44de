"""Meta-World's side of ``tasksuite bench --metaworld-python PYTHON``: run with *that* interpreter.

Meta-World pins ``mujoco==3.3.0``; installing it beside tasksuite would
downgrade MuJoCo and can break ``import mujoco``. So it lives in its own
virtualenv and this standalone script (it imports nothing from tasksuite,
whence its own copy of the timing loop) measures it there, one round at a
time, so that its rounds alternate with tasksuite's in the same window:

* first it prints one JSON line: Meta-World's version, ``ml10_build_s``
  (seconds to build ``Meta-World/ML10-train`` as a sync vector env;
  construction only: with gymnasium 1.4, Meta-World 3.1.1's ML10 vector env
  fails its first ``reset`` with an AssertionError, reported as ``ml10_reset``);
* then, for each line ``reach-v3`` or ``push-v3`` read from stdin, one round:
  a JSON line with the steps/s of ``Meta-World/MT1`` on that task
  (``env.unwrapped.step``) and of raw ``mujoco.mj_step`` on the same model
  and frame skip, each timed for about ``SECONDS`` (the first argument).
"""

from __future__ import annotations

import json
import sys
import time
import warnings


def _seconds_per_call(fn, seconds: float) -> float:
    start = time.perf_counter()
    fn()
    calls = max(1, int(seconds / max(time.perf_counter() - start, 1e-7)))
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


class _StepTimer:
    """One Meta-World task's env and its raw physics, timed round by round."""

    def __init__(self, env_name: str, seconds: float) -> None:
        import gymnasium as gym
        import mujoco
        import numpy as np

        self._seconds = seconds
        self._wrapped = gym.make("Meta-World/MT1", env_name=env_name, seed=0)  # the wrapper sets the task on reset
        self._wrapped.reset(seed=0)
        self._env = self._wrapped.unwrapped
        self._action = np.zeros(self._env.action_space.shape, dtype=np.float32)
        self._model, self._frame_skip = self._env.model, self._env.frame_skip
        self._data = mujoco.MjData(self._model)
        self._mujoco = mujoco

    def _raw(self) -> None:
        self._data.ctrl[:] = 0.0
        self._mujoco.mj_step(self._model, self._data, nstep=self._frame_skip)

    def _step(self) -> None:
        self._env.step(self._action)
        if self._env.curr_path_length >= self._env.max_path_length:  # Meta-World refuses steps past its horizon
            self._wrapped.reset()

    def round(self) -> dict[str, float]:
        """Steps/s of the env and of its raw physics, one timing each."""
        raw = _seconds_per_call(self._raw, self._seconds)
        step = _seconds_per_call(self._step, self._seconds)
        return {"steps_per_second": 1.0 / step, "raw_physics_steps_per_second": 1.0 / raw}


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.2
    warnings.filterwarnings("ignore")
    import gymnasium as gym
    import metaworld

    start = time.perf_counter()
    envs = gym.make_vec("Meta-World/ML10-train", vector_strategy="sync", seed=0)
    build = time.perf_counter() - start
    try:
        envs.reset(seed=0)
        reset = "ok"
    except AssertionError as error:
        reset = f"failed: AssertionError {error}".strip()
    envs.close()
    version = metaworld.__version__ if hasattr(metaworld, "__version__") else "unknown"
    timers = {name: _StepTimer(name, seconds) for name in ("reach-v3", "push-v3")}
    print(json.dumps({"metaworld": version, "ml10_build_s": build, "ml10_reset": reset}), flush=True)
    for line in sys.stdin:
        print(json.dumps(timers[line.strip()].round()), flush=True)


if __name__ == "__main__":
    main()
