"""Warehouse family: the catalogue, its splits, the model cache, the physics the tasks change, the oracle."""

import copy
import math
import pickle
import re
from collections import Counter

import mujoco
import numpy as np
import pytest

import tasksuite
from tasksuite import InvalidTaskError
from tasksuite.cli import main
from tasksuite.evaluation.rollout import RandomPolicy, run_episode
from tasksuite.families import warehouse
from tasksuite.families.warehouse import CATALOGUE, KNOWN_SHAPES, NOVEL_SHAPES, WarehouseEnv, shape_model
from tasksuite.registry import generate_splits

FAMILY = tasksuite.get_family("warehouse")
CLASSES = ("box", "cyl", "capsule", "ellipsoid", "l")

# sha256 of the catalogue's canonical JSON. If this changes, the products changed: every published
# warehouse benchmark changes meaning, so bump the family's version (tasksuite/Warehouse-v1) too.
CATALOGUE_DIGEST = "4b5c7b8d61aa46fc1ceffffdb87cfe590c10b6d8f5770e9c44d4d2adb0e3ad48"


def class_of(task):
    return CATALOGUE[task["shape"]].shape_class


# ---------------------------------------------------------------------- the catalogue


def test_catalogue_is_pinned_by_its_digest():
    assert warehouse.catalogue_digest() == CATALOGUE_DIGEST


def test_catalogue_has_50_known_shapes_in_five_classes_and_holds_out_the_t_shapes():
    assert len(KNOWN_SHAPES) == len(set(KNOWN_SHAPES)) == 50
    assert Counter(CATALOGUE[name].shape_class for name in KNOWN_SHAPES) == dict.fromkeys(CLASSES, 10)
    assert len(NOVEL_SHAPES) == 10 and {CATALOGUE[name].shape_class for name in NOVEL_SHAPES} == {"t"}
    assert FAMILY.space["shape"].choices == KNOWN_SHAPES + NOVEL_SHAPES
    assert all(re.fullmatch(r"(box|cyl|capsule|ellipsoid|l|t)-(small|large)-[a-z]+", name) for name in CATALOGUE)
    for product in CATALOGUE.values():
        assert 0.005 < product.mass < 0.5 and 0.3 <= product.friction <= 0.7
        assert product.radius >= max(product.extent[:2]) / 2


@pytest.mark.parametrize("name", KNOWN_SHAPES + NOVEL_SHAPES)
def test_compiled_product_rests_on_the_table_with_its_centre_of_mass_on_its_origin(name):
    product, compiled = CATALOGUE[name], shape_model(name)
    model, body = compiled.model, compiled.product_body
    assert compiled.mass == pytest.approx(product.mass, abs=5e-5)  # the catalogue rounds to 0.1 g
    np.testing.assert_allclose(model.body_ipos[body][:2], 0.0, atol=1e-6)  # pushing the origin pushes the COM
    lowest = min(part.pos[2] - part.half_extent[2] for part in product.parts)
    assert lowest == pytest.approx(0.0, abs=1e-12)
    assert compiled.product_geoms.stop - compiled.product_geoms.start == len(product.parts)


def test_show_lists_the_whole_catalogue(capsys):
    assert main(["show", "warehouse"]) == 0
    out = capsys.readouterr().out
    assert "Catalogue: the 50 known shapes" in out and "T-shapes" in out
    assert all(name in out for name in CATALOGUE)


def test_constants_the_oracle_relies_on_match_the_scene():
    model = shape_model(KNOWN_SHAPES[0]).model
    assert model.geom("pusher").size[0] == warehouse.PUSHER_RADIUS
    assert model.site("goal").size[0] == warehouse.GOAL_RADIUS
    gain, damping = model.actuator_gainprm[0, 0], -model.actuator_biasprm[0, 2]
    assert gain / damping == pytest.approx(warehouse.MAX_SPEED)


# ---------------------------------------------------------------------- splits and distances


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multitask_benchmark_trains_and_tests_on_exactly_the_50_known_shapes(seed):
    splits = generate_splits("warehouse-multitask", seed=seed)
    assert sorted(t["shape"] for t in splits.train) == sorted(KNOWN_SHAPES)
    assert splits.test == splits.train


@pytest.mark.parametrize("seed", range(6))
def test_meta_benchmark_holds_out_two_shapes_of_every_class(seed):
    splits = generate_splits("warehouse-meta", seed=seed)
    train, test = {t["shape"] for t in splits.train}, {t["shape"] for t in splits.test}
    assert len(train) == 40 and len(test) == 10 and not train & test
    assert Counter(CATALOGUE[s].shape_class for s in test) == dict.fromkeys(CLASSES, 2)
    assert generate_splits("warehouse-meta", seed=seed) == splits
    assert {t["shape"] for t in generate_splits("warehouse-meta", seed=seed + 10).test} != test


@pytest.mark.parametrize("name", ["warehouse-multitask", "warehouse-meta"])
def test_ood_levels_are_dynamics_shifts_of_known_shapes_or_the_unseen_class(name):
    splits = tasksuite.make_benchmark(name).splits
    levels = splits.ood_levels
    assert {class_of(t) for t in levels["novel-class"]} == {"t"}
    assert all(t.distance == 2.0 for t in levels["novel-class"])  # at training masses and frictions
    assert not {class_of(t) for t in splits.train + splits.test} & {"t"}
    for task in levels["near"] + levels["far"]:
        assert task["shape"] in KNOWN_SHAPES
        assert max(abs(math.log2(task["mass_scale"])), abs(math.log2(task["friction_scale"]))) > 1.0


@pytest.mark.parametrize(
    ("params", "distance", "level"),
    [
        ({"mass_scale": 2.0, "friction_scale": 0.5}, 0.0, None),  # the edges of the training range
        ({"mass_scale": 2.0**1.3}, 0.3, "near"),
        ({"friction_scale": 0.25}, 1.0, "far"),
        ({"mass_scale": 4.0, "friction_scale": 4.0}, math.sqrt(2.0), "far"),
        ({"shape": "t-small-even"}, 2.0, "novel-class"),
        ({"shape": "t-large-tall", "mass_scale": 4.0}, 3.0, "novel-class"),
    ],
)
def test_distance_counts_octaves_outside_the_training_range_plus_two_for_an_unseen_class(params, distance, level):
    task = FAMILY.task(**{"shape": "box-small-cube", **params})
    assert task.distance == pytest.approx(distance) and task.ood_level == level


def test_asking_for_more_shapes_than_known_fails_clearly():
    with pytest.raises(InvalidTaskError, match="only 50 known shapes"):
        FAMILY.splits(seed=0, n_train=45, n_test=10)


# ---------------------------------------------------------------------- the model cache


def test_a_shape_compiles_once_per_process_and_an_env_reuses_its_copy():
    first, second = FAMILY.task(shape="cyl-small-can"), FAMILY.task(shape="l-large-even")
    shape_model.cache_clear()
    env = FAMILY.make_env(first).unwrapped
    first_model = env.model
    env.reset(seed=0, options={"task": second})
    second_model = env.model
    for task, model in ((first, first_model), (second, second_model), (first, first_model)):
        env.reset(seed=0, options={"task": task})
        assert env.model is model  # switching back: the env's own copy again, no compile, no copy
    other = FAMILY.make_env(first).unwrapped
    assert shape_model.cache_info().misses == 2  # the second env copied the compiled model
    assert other.model is not first_model and shape_model("cyl-small-can").model not in (first_model, other.model)


PADDED_SHAPES = [name for name, product in CATALOGUE.items() if len(product.parts) < warehouse.PRODUCT_GEOMS]


def test_every_shape_model_has_one_mjdata_layout_so_one_batch_steps_them_all():
    from mujoco import batch

    models = [shape_model(name).model for name in CATALOGUE]
    assert PADDED_SHAPES and len(PADDED_SHAPES) < len(models)
    batch.Batch(models[0], len(models), 1).set_models(models)  # refused unless every layout is the same


def test_pads_change_no_mass_no_contact_and_no_trajectory_bit_for_bit():
    """A padded shape's oracle episode is exactly that of the same shape compiled without pads."""
    rng = np.random.default_rng(0)
    for name in PADDED_SHAPES:
        task = FAMILY.task(**FAMILY._sample_params(name, rng))
        padded, bare = shape_model(name), warehouse.compile_scene(CATALOGUE[name], geoms=len(CATALOGUE[name].parts))
        body = padded.product_body
        for field in ("body_mass", "body_inertia", "body_ipos", "body_iquat"):
            np.testing.assert_array_equal(getattr(padded.model, field)[body], getattr(bare.model, field)[body])
        simulations = []
        for compiled in (padded, bare):
            model = copy.copy(compiled.model)
            data = mujoco.MjData(model)
            warehouse.write_task(model, task.params, data)
            mujoco.mj_resetData(model, data)
            warehouse.place_start(data.qpos, np.random.default_rng(1))
            mujoco.mj_forward(model, data)
            simulations.append((model, data))
        oracle = FAMILY.oracle_policy(task)
        for _ in range(FAMILY.horizon):
            data = simulations[0][1]
            action = oracle(np.array(warehouse.pushing_observation(data.qpos.tolist(), data.qvel.tolist())))
            for model, data in simulations:
                data.ctrl[:] = action
                mujoco.mj_step(model, data, nstep=WarehouseEnv.frame_skip)
            (_, padded_data), (_, bare_data) = simulations
            np.testing.assert_array_equal(padded_data.qpos, bare_data.qpos, err_msg=name)
            np.testing.assert_array_equal(padded_data.qvel, bare_data.qvel, err_msg=name)
            assert padded_data.ncon == bare_data.ncon
        assert math.hypot(*padded_data.qpos[2:4]) > 0.05, f"{name}: the pusher hardly pushed the product"


def test_a_pickled_env_carries_only_the_shape_it_simulates():
    first, second = FAMILY.task(shape="box-small-flat"), FAMILY.task(shape="ellipsoid-large-oval")
    env = FAMILY.make_env(first).unwrapped
    env.reset(seed=0, options={"task": second})
    env.step(np.ones(2, dtype=np.float32))
    clone = pickle.loads(pickle.dumps(env))
    assert list(clone._simulations) == ["ellipsoid-large-oval"] and len(env._simulations) == 2
    action = np.array([0.5, -1.0], dtype=np.float32)
    np.testing.assert_array_equal(env.step(action)[0], clone.step(action)[0])
    for each in (env, clone):
        each.reset(seed=1, options={"task": first})
    np.testing.assert_array_equal(env.step(action)[0], clone.step(action)[0])


def test_mass_friction_and_goal_are_written_into_the_model_in_place():
    env = FAMILY.make_env(FAMILY.task(shape="box-large-flat")).unwrapped
    model = env.model
    task = FAMILY.task(shape="box-large-flat", mass_scale=1.7, friction_scale=0.6, goal_angle=90.0, goal_distance=0.25)
    env.reset(seed=0, options={"task": task})
    compiled, product = shape_model("box-large-flat"), CATALOGUE["box-large-flat"]
    assert env.model is model
    assert model.body_mass[compiled.product_body] == pytest.approx(1.7 * product.mass)
    scaled_inertia = compiled.inertia * (1.7 * product.mass / compiled.mass)
    np.testing.assert_allclose(model.body_inertia[compiled.product_body], scaled_inertia, rtol=1e-12)
    np.testing.assert_allclose(model.geom_friction[compiled.product_geoms, 0], 0.6 * product.friction)
    np.testing.assert_allclose(model.site_pos[compiled.goal_site][:2], [0.0, 0.25], atol=1e-12)
    assert compiled.model.body_mass[compiled.product_body] == pytest.approx(product.mass, abs=5e-5)  # untouched


def test_rendering_follows_the_shape_across_a_switch():
    env = FAMILY.make_env(FAMILY.task(shape="box-large-wide"), render_mode="rgb_array", width=160, height=120)
    env.reset(seed=0)
    box = env.render()
    env.reset(seed=0, options={"task": FAMILY.task(shape="cyl-large-tall")})
    cylinder = env.render()
    assert box.shape == cylinder.shape == (120, 160, 3) and np.abs(box.astype(int) - cylinder).sum() > 0
    env.close()


# ---------------------------------------------------------------------- physics and observation


def push_open_loop(shape, seed=3, **params):
    """Product positions while the pusher drives at full speed through it for 0.48 s, then stops."""
    env = FAMILY.make_env(FAMILY.task(shape=shape, **params))
    obs, _ = env.reset(seed=seed)
    heading = obs[4:6] - obs[0:2]
    heading = (heading / np.linalg.norm(heading)).astype(np.float32)
    still = np.zeros(2, dtype=np.float32)
    return np.array([env.step(heading if step < 12 else still)[0][4:6] for step in range(30)])


def test_friction_and_mass_change_how_far_a_pushed_product_goes():
    travel = {
        scales: float(
            np.linalg.norm(push_open_loop("box-large-cube", mass_scale=scales[0], friction_scale=scales[1])[-1])
        )
        for scales in ((1.0, 0.5), (1.0, 2.0), (0.5, 1.0), (2.0, 1.0))
    }
    assert travel[1.0, 0.5] > travel[1.0, 2.0] + 0.02  # a slippery product slides on after the pusher stops
    assert travel[0.5, 1.0] > travel[2.0, 1.0] + 0.005  # a light one is thrown further by the impact


def test_observation_reports_the_pusher_and_the_product_and_hides_the_goal():
    goals = [
        FAMILY.task(shape="l-small-long", goal_angle=angle, goal_distance=d) for angle, d in ((0, 0.3), (120, 0.2))
    ]
    envs = [FAMILY.make_env(task).unwrapped for task in goals]
    (obs, _), (other, _) = (env.reset(seed=4) for env in envs)
    np.testing.assert_array_equal(obs, other)  # the goal is not observed
    data = envs[0].data
    np.testing.assert_allclose(obs[[0, 1, 4, 5]], data.qpos[:4], atol=1e-7)
    assert np.hypot(*obs[:2]) == pytest.approx(0.2) and np.all(obs[4:6] == 0.0)  # pusher 0.2 m from the product
    np.testing.assert_allclose(obs[6:8], [np.sin(data.qpos[5]), np.cos(data.qpos[5])], atol=1e-7)
    assert envs[0].step(np.zeros(2, np.float32))[1] != envs[1].step(np.zeros(2, np.float32))[1]


def test_success_means_the_product_within_the_goal_radius():
    env = FAMILY.make_env(FAMILY.task(shape="cyl-large-puck", goal_angle=0.0, goal_distance=0.2)).unwrapped
    env.reset(seed=0)
    still = np.zeros(2, dtype=np.float32)
    assert not env.step(still)[4]["success"]
    for x, inside in ((0.16, True), (0.14, False)):
        env.reset(seed=0)
        env.data.qpos[2] = x  # place the product 4 cm, then 6 cm short of the goal
        obs, reward, *_, info = env.step(still)
        assert info["success"] is inside and info["distance_to_goal"] == pytest.approx(0.2 - x, abs=1e-3)
        pusher_gap = np.hypot(*(obs[:2] - obs[4:6]))
        assert reward == pytest.approx(-info["distance_to_goal"] - 0.1 * pusher_gap, abs=1e-6)


@pytest.mark.parametrize(("mass_scale", "friction_scale"), [(0.25, 4.0), (4.0, 0.25)])
def test_every_product_stays_stable_when_rammed_into_a_wall_at_the_extremes(mass_scale, friction_scale):
    at_wall = []
    for index, name in enumerate(CATALOGUE):
        env = FAMILY.make_env(FAMILY.task(shape=name, mass_scale=mass_scale, friction_scale=friction_scale))
        obs, _ = env.reset(seed=index)
        for _ in range(60):  # chase the product at full speed: it ends up pinned against a wall
            heading = obs[4:6] - obs[0:2]
            obs, *_, info = env.step((heading / np.abs(heading).max()).astype(np.float32))
            assert not info.get("physics_unstable") and env.observation_space.contains(obs), name
        at_wall.append(np.abs(obs[4:6]).max() > 0.4)
    assert np.mean(at_wall) > 0.9, "the test did not ram the products into the walls"


# ---------------------------------------------------------------------- oracle and random policy


def test_oracle_pushes_the_50_known_shapes_to_their_goals_and_a_random_policy_does_not():
    benchmark = tasksuite.make_benchmark("warehouse-multitask")
    oracle, random = [], []
    for seed, task in enumerate(benchmark.train_tasks):
        env = FAMILY.make_env(task)
        oracle.append(run_episode(env, FAMILY.oracle_policy(task), seed=seed).success)
        random.append(run_episode(env, RandomPolicy(env.action_space, seed=seed), seed=seed).success)
    assert sorted(t["shape"] for t in benchmark.train_tasks) == sorted(KNOWN_SHAPES)
    assert np.mean(oracle) >= 0.9, f"oracle success {np.mean(oracle):.0%}"
    assert np.mean(random) < 0.1, f"random success {np.mean(random):.0%}"


def test_oracle_also_succeeds_out_of_distribution_so_that_normalized_scores_mean_something():
    benchmark = tasksuite.make_benchmark("warehouse-meta")
    for level, tasks in benchmark.splits.ood_levels.items():
        success = [
            run_episode(FAMILY.make_env(t), FAMILY.oracle_policy(t), seed=i).success for i, t in enumerate(tasks)
        ]
        assert np.mean(success) >= 0.8, f"oracle success on {level}: {np.mean(success):.0%}"
