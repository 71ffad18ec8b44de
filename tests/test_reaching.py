"""Reaching family: the arm model, the oracle, dynamics parameters, instability, recompilation, OOD grading."""

import itertools
import math

import mujoco
import numpy as np
import pytest

import tasksuite
from tasksuite import TasksuiteError
from tasksuite.core import mujoco_env
from tasksuite.evaluation.rollout import RandomPolicy, run_episode
from tasksuite.families import reaching
from tasksuite.families.reaching import (
    OOD_TARGETS,
    REACH,
    SHOULDER,
    SUCCESS_RADIUS,
    TRAINING_TARGETS,
    ArmModel,
    inverse_kinematics,
)

FAMILY = tasksuite.get_family("reaching")


def zero_velocity_start(env, seed=0):
    """Reset, then hold the arm still at its (perturbed) home pose."""
    env.reset(seed=seed)
    env.unwrapped.data.qvel[:] = 0.0
    mujoco.mj_forward(env.unwrapped.model, env.unwrapped.data)


def end_effector_after(task, action, steps, seed=0):
    env = FAMILY.make_env(task)
    zero_velocity_start(env, seed)
    for _ in range(steps):
        env.step(np.asarray(action, dtype=np.float32))
    return env.unwrapped.data.site("end_effector").xpos.copy()


# ---------------------------------------------------------------------- the model


def test_constants_agree_with_the_compiled_arm():
    model = mujoco_env.load_model(reaching.MODEL_FILE)
    np.testing.assert_allclose(model.body("base").pos, SHOULDER)
    assert model.body("forearm").pos[0] + model.site("end_effector").pos[0] == pytest.approx(REACH)
    # the oracle maps torques to commands joint by joint
    assert model.actuator_trnid[:, 0].tolist() == list(range(model.nu)) == model.jnt_dofadr.tolist()
    stall, back_emf = model.actuator_gainprm[:, 0], -model.actuator_biasprm[:, 2]
    assert ", ".join(f"{t:g}" for t in stall) in FAMILY.space["actuator_gain"].doc  # "20, 50, 30 N m"
    np.testing.assert_allclose(stall / back_emf, 10.0)  # no-load speed, as documented
    env = FAMILY.make_env().unwrapped
    assert env.metadata["render_fps"] == pytest.approx(1 / env.dt)


def test_inverse_kinematics_puts_the_end_effector_on_every_target_within_the_joint_limits():
    model = mujoco_env.load_model(reaching.MODEL_FILE)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    targets = [TRAINING_TARGETS.sample(rng) for _ in range(200)] + [OOD_TARGETS.sample(rng) for _ in range(200)]
    for target in targets:
        data.qpos[:] = inverse_kinematics(model, target)
        mujoco.mj_kinematics(model, data)
        np.testing.assert_allclose(data.site("end_effector").xpos, target, atol=1e-9)
        assert np.all(model.jnt_range[:, 0] <= data.qpos) and np.all(data.qpos <= model.jnt_range[:, 1])


# ---------------------------------------------------------------------- oracle and random policy


@pytest.mark.parametrize("name", ["reaching-meta", "reaching-multitask"])
def test_oracle_reaches_and_holds_every_published_task_and_random_does_not(name):
    benchmark = tasksuite.make_benchmark(name)
    tasks = dict.fromkeys(benchmark.train_tasks + benchmark.test_tasks)  # multi-task: test = train
    oracle, random, final_distance = [], [], []
    for i, task in enumerate(tasks):
        env = FAMILY.make_env(task)
        oracle.append(run_episode(env, FAMILY.oracle_policy(task), seed=i).success)
        final_distance.append(env.unwrapped._evaluate(None)[2]["distance_to_target"])
        random.append(run_episode(env, RandomPolicy(env.action_space, seed=i), seed=i).success)
    assert np.mean(oracle) >= 0.95, f"oracle success {np.mean(oracle):.0%}"
    assert np.mean(random) < 0.1, f"random success {np.mean(random):.0%}"
    assert max(final_distance) < 0.2 * SUCCESS_RADIUS, "the oracle must hold the target, not brush past it"


def test_oracle_gets_there_early_and_stays():
    task = tasksuite.make_benchmark("reaching-meta").test_tasks[0]
    env = FAMILY.make_env(task)
    obs, _ = env.reset(seed=0)
    oracle = FAMILY.oracle_policy(task)
    successes = []
    for _ in range(FAMILY.horizon):
        obs, _, _, _, info = env.step(oracle(obs))
        successes.append(info["success"])
    first = successes.index(True)
    assert first < FAMILY.horizon // 3 and all(successes[first:])


def test_oracle_solves_the_ood_tasks_too():
    """OOD tasks test generalization, not impossibility: every one is within the arm's reach and strength."""
    benchmark = tasksuite.make_benchmark("reaching-meta")
    results = [run_episode(FAMILY.make_env(t), FAMILY.oracle_policy(t), seed=0).success for t in benchmark.ood_tasks]
    assert np.mean(results) >= 0.9, f"oracle OOD success {np.mean(results):.0%}"


# ---------------------------------------------------------------------- tasks change the model, not the XML


def test_new_tasks_on_reset_mutate_the_model_without_recompiling(monkeypatch):
    env = FAMILY.make_env()
    env.reset(seed=0)
    misses = mujoco_env._compiled.cache_info().misses

    def refuse(*args, **kwargs):
        raise AssertionError("a task switch recompiled the MJCF")

    monkeypatch.setattr(mujoco.MjModel, "from_xml_path", refuse)
    monkeypatch.setattr(mujoco.MjModel, "from_xml_string", refuse)
    model = env.unwrapped.model
    seen = set()
    for seed in range(1, 6):
        env.reset(seed=seed)  # no fixed task: a new training task each reset
        task = env.unwrapped.get_task()
        seen.add(task.id)
        assert env.unwrapped.model is model
        np.testing.assert_allclose(model.site("target").pos, reaching.target_of(task.params))
        assert model.body("payload").mass[0] == task["payload_mass"]
    env.reset(options={"task": tasksuite.make_benchmark("reaching-meta").ood_tasks[-1]})
    assert len(seen) == 5 and mujoco_env._compiled.cache_info().misses == misses


@pytest.mark.parametrize(
    ("name", "low", "high", "field"),
    [
        ("payload_mass", 0.0, 2.0, lambda m: m.body("payload").mass[0]),
        ("joint_damping", 0.5, 4.0, lambda m: m.dof_damping[1]),
        ("actuator_gain", 0.6, 1.8, lambda m: m.actuator("shoulder").gainprm[0]),
    ],
)
def test_dynamics_parameters_change_the_model_and_the_motion(name, low, high, field):
    envs = [FAMILY.make_env({name: value}).unwrapped for value in (low, high)]
    assert field(envs[1].model) > field(envs[0].model)
    if name == "payload_mass":
        # with the motors idle, the heavier payload pulls the arm down faster
        low_z, high_z = (end_effector_after({name: v}, [0, 0, 0], steps=3)[2] for v in (low, high))
        assert high_z < low_z - 0.01
    else:
        # the same command moves the arm less against more damping, more with stronger motors
        start = end_effector_after({name: low}, [0, 0, 0], steps=0)
        moved = [np.linalg.norm(end_effector_after({name: v}, [1, 1, 1], steps=4) - start) for v in (low, high)]
        more, less = (moved[1], moved[0]) if name == "actuator_gain" else (moved[0], moved[1])
        assert more > 1.2 * less


def test_heavier_payload_needs_more_torque_to_hold():
    """The oracle compensates gravity with the task's payload: its holding command grows with the mass."""
    commands = []
    for mass in (0.0, 2.0):
        task = FAMILY.task(payload_mass=mass)
        env = FAMILY.make_env(task)
        obs, _ = env.reset(seed=0)
        oracle = FAMILY.oracle_policy(task)
        for _ in range(FAMILY.horizon):
            obs, *_ = env.step(oracle(obs))
        commands.append(oracle(obs)[1])  # shoulder
    assert commands[1] > commands[0] + 0.1


# ---------------------------------------------------------------------- instability


@pytest.fixture
def mujoco_log_elsewhere(tmp_path, monkeypatch):
    """MuJoCo appends its instability warnings to MUJOCO_LOG.TXT in the working directory."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("mujoco_log_elsewhere")
def test_exploding_velocity_truncates_with_a_flag_and_no_nan():
    env = FAMILY.make_env(FAMILY.task())
    env.reset(seed=0)
    action = np.zeros(3, dtype=np.float32)
    before, *_ = env.step(action)
    env.unwrapped.data.qvel[:] = 300.0  # 30x the no-load speed: slamming into the joint limits blows up
    obs, reward, terminated, truncated, info = env.step(action)
    assert np.abs(env.unwrapped.data.qvel).max() > 1e4, "the state really exploded"
    assert not env.unwrapped.data.warning.number.any(), "MuJoCo did not notice: the bounds check did"
    assert truncated and not terminated and info["physics_unstable"] and not info["success"]
    assert np.all(np.isfinite(obs)) and env.observation_space.contains(obs)
    np.testing.assert_array_equal(obs, before)  # the last valid observation
    assert math.isfinite(reward)
    obs, _ = env.reset(seed=1)  # a reset starts a clean episode
    assert "physics_unstable" not in env.step(action)[4]


@pytest.mark.usefixtures("mujoco_log_elsewhere")
def test_divergence_in_the_first_step_is_caught_too():
    """MuJoCo resets a NaN/huge state itself; on the first step of an episode the clock cannot show it."""
    env = FAMILY.make_env(FAMILY.task())
    start, _ = env.reset(seed=0)
    env.unwrapped.data.qvel[:] = 1e12  # beyond MuJoCo's limit: it warns and resets the state mid-step
    obs, _, _, truncated, info = env.step(np.zeros(3, dtype=np.float32))
    assert truncated and info["physics_unstable"]
    np.testing.assert_array_equal(obs, start)
    obs, _, _, truncated, info = env.step(np.zeros(3, dtype=np.float32))
    assert truncated and info["physics_unstable"], "the episode stays broken until reset"


def test_extreme_accepted_parameters_with_bang_bang_actions_stay_stable():
    """Every corner of the accepted dynamics ranges, driven as hard as allowed, never leaves the bounds."""
    corners = itertools.product(*((p.low, p.high) for p in FAMILY.space if p.name in reaching.TRAINING_DYNAMICS))
    rng = np.random.default_rng(0)
    for payload, damping, gain in corners:
        env = FAMILY.make_env({"payload_mass": payload, "joint_damping": damping, "actuator_gain": gain})
        env.reset(seed=0)
        for step in range(FAMILY.horizon):
            if step % 5 == 0:
                action = rng.choice([-1.0, 1.0], size=3).astype(np.float32)
            info = env.step(action)[4]
            assert "physics_unstable" not in info, (payload, damping, gain)


# ---------------------------------------------------------------------- OOD grading


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, 0.0),  # the defaults lie in the training support
        ({"target_x": 0.25, "target_y": -0.3, "target_z": 0.1}, 0.0),  # a corner of the box
        ({"target_x": 0.6}, 1.0),  # 10 cm beyond the box
        ({"target_x": 0.0, "target_y": 0.0, "target_z": 0.6}, math.hypot(0.25, 0.15) / 0.1),
        ({"payload_mass": 1.0}, 1.0),  # 0.5 kg over, one training width
        ({"joint_damping": 0.0}, 1 / 3),
        ({"actuator_gain": 2.0}, 2.0),
        ({"target_x": 0.6, "payload_mass": 1.0}, math.sqrt(2)),
    ],
)
def test_distance_from_the_training_support(params, expected):
    assert FAMILY.task(**params).distance == pytest.approx(expected)


def test_ood_levels_are_graded_bands_of_distance():
    benchmark = tasksuite.make_benchmark("reaching-meta")
    levels = benchmark.splits.ood_levels
    assert list(levels) == ["near", "far"]
    for level in FAMILY.ood_levels:
        assert all(level.low <= t.distance < level.high for t in levels[level.name])
    assert max(t.distance for t in levels["near"]) < min(t.distance for t in levels["far"])
    # both levels move targets out of the box and dynamics out of their intervals
    for tasks in levels.values():
        assert any(TRAINING_TARGETS.distance(reaching.target_of(t.params)) > 0 for t in tasks)
        assert any(t["payload_mass"] > 0.5 for t in tasks)
    assert FAMILY.level_of(FAMILY.task(target_x=0.6).distance) == "near"
    assert FAMILY.level_of(FAMILY.task(payload_mass=2.0).distance) == "far"


# ---------------------------------------------------------------------- observation and rendering


def test_observation_layout_and_hidden_or_observable_target():
    task = FAMILY.task(target_x=0.45, target_y=0.2)
    hidden, shown = (FAMILY.make_env(task, task_observable=flag) for flag in (False, True))
    obs, _ = hidden.reset(seed=3)
    data = hidden.unwrapped.data
    np.testing.assert_allclose(obs, np.concatenate([data.qpos, data.qvel, data.site("end_effector").xpos]), rtol=1e-6)
    assert obs.shape == (9,) and shown.reset(seed=3)[0].shape == (9 + len(FAMILY.space),)
    np.testing.assert_array_equal(shown.reset(seed=3)[0][:9], obs)


def test_reward_is_minus_the_distance_and_success_is_within_the_radius():
    env = FAMILY.make_env(FAMILY.task())
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.zeros(3, dtype=np.float32))
    distance = np.linalg.norm(env.unwrapped.data.site("end_effector").xpos - reaching.target_of(FAMILY.task().params))
    assert reward == pytest.approx(-distance) and info["distance_to_target"] == pytest.approx(distance)
    assert info["success"] == (distance <= SUCCESS_RADIUS)


def test_rendered_frame_shows_the_target():
    frames = []
    for target_y in (-0.3, 0.3):
        env = FAMILY.make_env(FAMILY.task(target_y=target_y), render_mode="rgb_array", width=320, height=240)
        env.reset(seed=0)
        frames.append(env.render().astype(int))
        env.close()
    assert frames[0].shape == (240, 320, 3) and frames[0].std() > 5.0
    changed = np.abs(frames[0] - frames[1]).sum(axis=2) > 30
    assert 0.001 < changed.mean() < 0.1, "moving the target changes a small part of the picture"


def test_human_rendering_without_a_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    env = FAMILY.make_env(render_mode="human")
    env.reset(seed=0)  # MUJOCO_GL=egl (tests/conftest.py): headless on purpose, draws and shows nothing
    assert env.render() is None
    env.close()
    monkeypatch.setenv("MUJOCO_GL", "glfw")
    with pytest.raises(TasksuiteError, match="needs a display; use render_mode='rgb_array'"):
        FAMILY.make_env(render_mode="human").reset(seed=0)


def test_arm_model_is_shared_by_env_and_oracle():
    """The oracle simulates exactly the env's model for the task (same fields after apply)."""
    task = tasksuite.make_benchmark("reaching-meta").ood_tasks[-1]
    env = FAMILY.make_env(task).unwrapped
    private = ArmModel(mujoco_env.load_model(reaching.MODEL_FILE))
    private.apply(task.params)
    for field in ("body_mass", "body_inertia", "dof_damping", "actuator_gainprm", "body_subtreemass", "dof_invweight0"):
        np.testing.assert_array_equal(getattr(env.model, field), getattr(private.model, field))
    np.testing.assert_array_equal(env.model.site("target").pos, private.model.site("target").pos)
