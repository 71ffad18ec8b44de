"""Warehouse: the cost of a step and of a reset that changes the product's shape, against raw MuJoCo.

Every figure is a ratio to one raw control step (``mujoco.mj_step`` with the
env's frame skip, on a copy of the same model) timed in the same run. A shape
change costs one of three things: switching back to a model the env already
simulated; copying the process's compiled model (a shape new to the env); or
compiling the shape first (new to the process).
"""

import copy
import itertools

import mujoco
import numpy as np
import pytest

import tasksuite
from tasksuite.families.warehouse import KNOWN_SHAPES, shape_model

FAMILY = tasksuite.get_family("warehouse")


@pytest.fixture
def env():
    env = FAMILY.make_env(FAMILY.task(shape="l-large-even")).unwrapped
    env.reset(seed=0)
    return env


@pytest.fixture
def raw_control_step(env):
    """One control step of raw physics on a copy of the env's model: the reference of every figure."""
    model = copy.copy(env.model)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return lambda: mujoco.mj_step(model, data, nstep=env.frame_skip)


def forget_simulated_shapes(env):
    env._simulations.clear()  # as in a fresh env: no shape simulated yet


def test_warehouse_step(against, env, raw_control_step):
    action = np.zeros(2, dtype=np.float32)
    step = env.step  # stepping on past the horizon keeps returning truncated
    against(lambda: step(action), raw_control_step, reference_name="raw mj_step x frame_skip")


def test_warehouse_reset_to_a_shape_the_env_simulated_before(against, env, raw_control_step):
    tasks = itertools.cycle([FAMILY.task(shape="cyl-large-can"), FAMILY.task(shape="l-large-even")])
    against(
        lambda: env.reset(seed=0, options={"task": next(tasks)}),
        raw_control_step,
        reference_name="raw mj_step x frame_skip",
        unit="reset",
    )


def test_warehouse_reset_to_a_shape_new_to_the_env(against, env, raw_control_step):
    tasks = itertools.cycle([FAMILY.task(shape=shape) for shape in KNOWN_SHAPES])
    for shape in KNOWN_SHAPES:
        shape_model(shape)  # compiled in the process already

    def reset_new_to_env():
        forget_simulated_shapes(env)
        env.reset(seed=0, options={"task": next(tasks)})

    against(reset_new_to_env, raw_control_step, reference_name="raw mj_step x frame_skip", unit="reset")


def test_warehouse_reset_with_first_compile(against, env, raw_control_step):
    tasks = itertools.cycle([FAMILY.task(shape=shape) for shape in KNOWN_SHAPES])

    def reset_first_compile():
        shape_model.cache_clear()
        forget_simulated_shapes(env)
        env.reset(seed=0, options={"task": next(tasks)})

    against(
        reset_first_compile,
        raw_control_step,
        reference_name="raw mj_step x frame_skip",
        unit="reset",
        rounds=3,
    )
