"""Meta-World's side of ``tasksuite bench --metaworld-python PYTHON``: run with *that* interpreter.

Meta-World pins ``mujoco==3.3.0``; installing it beside tasksuite would
downgrade MuJoCo and can break ``import mujoco``. So it lives in its own
virtualenv and this standalone script (it imports nothing from tasksuite,
whence its own copy of the timing loop) measures it there and prints JSON:

* ``reach`` / ``push``: steps/s of ``Meta-World/MT1`` reach-v3 / push-v3
  (``env.unwrapped.step``) and of raw ``mujoco.mj_step`` on the same model and
  frame skip, timed in alternating rounds;
* ``ml10_build_s``: seconds to build ``Meta-World/ML10-train`` as a sync
  vector env (construction only: with gymnasium 1.4, Meta-World 3.1.1's ML10
  vector env fails its first ``reset`` with an AssertionError, reported as
  ``ml10_reset``).
"""

from __future__ import annotations

import json
import statistics
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


def _steps_per_second(env_name: str, seconds: float, rounds: int = 5) -> dict[str, float]:
    import gymnasium as gym
    import mujoco
    import numpy as np

    wrapped = gym.make("Meta-World/MT1", env_name=env_name, seed=0)  # the wrapper sets the task on reset
    wrapped.reset(seed=0)
    env = wrapped.unwrapped
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    model, frame_skip = env.model, env.frame_skip
    data = mujoco.MjData(model)

    def raw() -> None:
        data.ctrl[:] = 0.0
        mujoco.mj_step(model, data, nstep=frame_skip)

    def step() -> None:
        env.step(action)
        if env.curr_path_length >= env.max_path_length:  # Meta-World refuses steps past its horizon
            wrapped.reset()

    samples = [(_seconds_per_call(raw, seconds), _seconds_per_call(step, seconds)) for _ in range(rounds)]
    return {
        "steps_per_second": 1.0 / statistics.median(s[1] for s in samples),
        "raw_physics_steps_per_second": 1.0 / statistics.median(s[0] for s in samples),
    }


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
    result = {
        "metaworld": metaworld.__version__ if hasattr(metaworld, "__version__") else "unknown",
        "reach": _steps_per_second("reach-v3", seconds),
        "push": _steps_per_second("push-v3", seconds),
        "ml10_build_s": build,
        "ml10_reset": reset,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
