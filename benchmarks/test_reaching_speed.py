"""Reaching: the cost of ``env.step`` against the raw MuJoCo physics it runs.

The reference writes the same action into ``data.ctrl`` and calls
``mujoco.mj_step(model, data, nstep=frame_skip)`` on the env's own model and
data, so both sides simulate the same arm in the same states; the ratio is
what tasksuite adds per step (action check, observation, reward, instability
guard). Target: at most 1.5x (1.3x asked by the speed issue).
"""

import itertools

import mujoco
import numpy as np

import tasksuite


def test_reaching_step(against):
    family = tasksuite.get_family("reaching")
    env = family.make_env(family.task()).unwrapped
    env.reset(seed=0)
    model, data, frame_skip = env.model, env.data, env.frame_skip
    # Random commands keep the arm moving (contacts, joint limits) like an exploring agent's.
    actions = itertools.cycle(np.random.default_rng(0).uniform(-1, 1, size=(97, model.nu)).astype(np.float32))
    env_step = env.step  # stepping on past the horizon keeps returning truncated

    def raw_step():
        data.ctrl[:] = next(actions)
        mujoco.mj_step(model, data, nstep=frame_skip)

    ratio = against(
        lambda: env_step(next(actions)),
        raw_step,
        reference_name=f"mujoco.mj_step(nstep={frame_skip}) + ctrl write",
        calls=2000,
    )
    assert np.isfinite(ratio)
