"""Tasks are plain, immutable, hashable values that round-trip through JSON."""

import json
import pickle

import numpy as np
import pytest

import tasksuite
from tasksuite import InvalidTaskError, Task, UnknownNameError


@pytest.fixture
def family():
    return tasksuite.get_family("navigation")


def test_round_trip_through_json(family):
    task = family.task(goal_x=0.25, goal_y=-0.25)
    restored = Task.from_dict(json.loads(json.dumps(task.to_dict())))
    assert restored == task and restored.id == task.id
    assert restored.ood_level == task.ood_level == "near" and restored.distance == task.distance


def test_id_is_stable_and_depends_only_on_family_and_values(family):
    a = family.task(goal_x=0.1, goal_y=0.2)
    b = family.task(goal_y=0.2, goal_x=0.1, reward="dense")
    assert a == b and hash(a) == hash(b) and a.id == b.id
    assert a.id == "navigation-" + a.id.split("-")[-1] and len(a.id.split("-")[-1]) == 12
    assert family.task(goal_x=0.1, goal_y=0.2000001) != a
    # Pinned: changing how ids are computed would orphan every saved result.
    assert family.task(goal_x=0.5, goal_y=0.5).id == "navigation-ea75f646fcf0"


def test_tasks_are_immutable(family):
    task = family.task()
    with pytest.raises(AttributeError):
        task.distance = 3.0
    with pytest.raises(TypeError):
        task.params["goal_x"] = 3.0


def test_pickle_round_trip(family):
    task = family.task(goal_x=-3.0, goal_y=0.0)
    assert pickle.loads(pickle.dumps(task)) == task


def test_in_and_out_of_distribution_tasks(family):
    inside = family.task(goal_x=0.0, goal_y=0.5)
    assert inside.ood_level is None and inside.distance == 0.0 and inside.in_distribution
    far = family.task(goal_x=0.0, goal_y=-1.0)
    assert far.ood_level == "far" and far.distance == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("navigation", "must be a mapping"),
        ({"params": {}}, r"missing key\(s\) \['family'\]"),
        ({"family": "navigation", "params": {}, "colour": 1}, r"unknown key\(s\) \['colour'\]"),
        ({"family": "navigation", "params": [1, 2]}, "'params' must be a mapping"),
        (
            {"family": "navigation", "params": {"goal_x": 9.0}},
            r"'goal_x' = 9.0 is outside its allowed range \[-4, 4\] m",
        ),
        ({"family": "navigation", "params": {"goal_x": 0.1}, "ood_level": "far"}, "ood_level='far'"),
        ({"family": "navigation", "params": {"goal_x": 0.1}, "distance": 2.0}, "distance=2.0"),
        ({"family": "navigation", "params": {"goal_x": 0.1}, "id": "navigation-000"}, "does not match"),
    ],
)
def test_malformed_task_dicts_fail_loudly(data, message):
    with pytest.raises(InvalidTaskError, match=message):
        Task.from_dict(data)


def test_unknown_family_lists_registered_ones():
    with pytest.raises(UnknownNameError, match="registered: navigation"):
        Task.from_dict({"family": "flying", "params": {}})


def test_family_refuses_other_familys_task(family):
    other = tasksuite.get_family("navigation-maml").task()
    with pytest.raises(InvalidTaskError, match="of family 'navigation-maml' given to family 'navigation'"):
        family.coerce_task(other)


@pytest.mark.parametrize(
    "params",
    [
        {"goal_x": 0.1, "goal_y": -0.0, "reward": "dense", "action_scale": 1.0},
        {"b": 1e-300, "a": 1e22, "c": 5e-324, "d": -1.7976931348623157e308, "e": 0.1 + 0.2},
        {"shape": 'café "quoted" \\ \n ✓', "mass": 3, "big": 2**70, "neg": -7},
        {"flag": True, "x": 0.5},  # not an exact number type: the encoder's path
        {"x": np.float64(0.25), "z": 0.5},
        {"nested": [1.0, 2.0], "x": 1.0},
        {},
    ],
)
def test_task_identity_is_the_canonical_json_ids_hash(params):
    from tasksuite.core.task import canonical_json, task_identity

    assert task_identity("navigation", params) == canonical_json({"family": "navigation", "params": params})


def test_task_identity_refuses_what_the_encoder_refuses():
    from tasksuite.core.task import task_identity

    for value in (float("nan"), float("inf"), np.int64(3), object()):
        with pytest.raises((ValueError, TypeError)):
            task_identity("navigation", {"x": value})


@pytest.mark.parametrize("name", tasksuite.list_families())
def test_training_task_is_the_validated_task_of_the_same_draws(name):
    """Every family of tasksuite trusts its sampler (``trusted_sampler``: every parameter valid, distance 0) to
    build the tasks resets draw without re-validating them; over many draws each is the task ``family.task``
    builds, and the generator is left alike."""
    family = tasksuite.get_family(name)
    assert family.trusted_sampler
    trusted, checked = np.random.default_rng(7), np.random.default_rng(7)
    for _ in range(3000):
        task = family.training_task(trusted)
        reference = family.task(**family.sample_training_params(checked))
        assert task.to_dict() == reference.to_dict()
        assert task.ood_level is None and task.distance == 0.0
    assert trusted.bit_generator.state == checked.bit_generator.state


def test_a_family_not_trusting_its_sampler_validates_the_tasks_it_draws():
    """A family added outside tasksuite keeps the checks: a sampler that leaves a parameter to its default,
    or draws outside the accepted range, gets the default filled in or a clear error, as from ``family.task``."""
    base = tasksuite.get_family("navigation")

    class Partial(type(base)):
        trusted_sampler = False
        goals_y = iter([0.5, 9.0])

        def sample_training_params(self, rng):
            return {"goal_x": 0.1, "goal_y": next(self.goals_y)}

    family = Partial("navigation", base.env_id)
    rng = np.random.default_rng(0)
    task = family.training_task(rng)
    assert task.to_dict() == base.task(goal_x=0.1, goal_y=0.5).to_dict() and task["reward"] == "dense"
    with pytest.raises(InvalidTaskError, match=r"'goal_y' = 9.0 is outside its allowed range"):
        family.training_task(rng)


def test_an_equal_task_switches_without_reconfiguring(family, monkeypatch):
    """A task equal in value to the one simulated (another object, another int/float spelling) is taken as it is,
    its id reported, without re-writing the simulation."""
    env = family.make_env(family.task(goal_x=0.5, goal_y=0.5))
    configured = []
    monkeypatch.setattr(env.unwrapped, "_configure", configured.append)
    same = family.task(goal_x=0.5, goal_y=0.5)
    env.reset(options={"task": same})
    assert configured == [] and env.unwrapped.task is same
    other = family.task(goal_x=0.5, goal_y=0.25)
    _, info = env.reset(options={"task": other})
    assert configured == [other] and info["task_id"] == other.id
