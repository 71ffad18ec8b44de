"""Malformed inputs to the public API are refused with tasksuite's own errors, naming what is wrong.

Property-based (hypothesis): about 1,500 malformed inputs per run over the task API, split
manifests (as dicts and as files) and vector envs. Each must raise a
:class:`~tasksuite.core.errors.TasksuiteError` whose message names the parameter or key; any
other exception (a raw ``TypeError``, ``RecursionError``, ...) fails the test, and so does an input
that is silently accepted. Each regression of issue 16's list has its own example test below.
"""

import copy
import json
import math

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tasksuite
from tasksuite.core.errors import InvalidActionError, InvalidTaskError, ManifestError, TasksuiteError
from tasksuite.core.splits import Splits, _content_hash, read_manifest
from tasksuite.core.task import Task
from tasksuite.core.vector import SyncTaskVectorEnv
from tasksuite.registry import published_manifest

FAMILY = tasksuite.get_family("navigation")
MANIFEST = published_manifest("navigation-multitask")
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Values of every JSON type (and some Python-only ones), nested a little.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.binary(max_size=4),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def _names(error: BaseException, *names: str) -> bool:
    return any(name in str(error) for name in names)


# ---------------------------------------------------------------------- tasks


def _valid_param(param, value) -> bool:
    if hasattr(param, "low"):
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and param.low <= value <= param.high
        )
    return isinstance(value, str) and value in param.choices


@settings(FAST, max_examples=300)
@given(name=st.sampled_from(FAMILY.space.names), value=values)
def test_a_bad_parameter_value_is_refused_naming_the_parameter(name, value):
    assume(not _valid_param(FAMILY.space[name], value))  # a valid value is not a malformed input
    with pytest.raises(InvalidTaskError) as raised:
        FAMILY.task(**{name: value})
    assert _names(raised.value, repr(name))


@settings(FAST, max_examples=300)
@given(key=st.sampled_from(["family", "params", "ood_level", "distance", "id", "extra", 3]), value=values)
def test_a_malformed_task_dict_is_refused_naming_the_field(key, value):
    data = FAMILY.splits(seed=0, n_train=1, n_test=1, n_ood=1).ood[0].to_dict()
    original = data.get(key)
    data[key] = value
    unchanged = value == original and type(value) is type(original)
    same_distance = (
        key == "distance"
        and type(value) in (int, float)
        and math.isfinite(value)
        and math.isclose(value, original, rel_tol=1e-9, abs_tol=1e-12)
    )
    assume(not unchanged and not same_distance)
    with pytest.raises(TasksuiteError) as raised:
        Task.from_dict(data)
    assert _names(raised.value, str(key), "family", "parameter", "mapping")


# ---------------------------------------------------------------------- manifests


def _rehashed(manifest: dict) -> dict:
    """``manifest`` with a hash matching its content (where its content can be hashed at all)."""
    body = {k: v for k, v in manifest.items() if k != "hash"}
    try:
        return {**body, "hash": _content_hash(body)}
    except (TypeError, ValueError):  # bytes, NaN: not JSON; the schema check must refuse it before hashing
        return manifest


_WRONG = {
    "benchmark": st.one_of(st.integers(), st.lists(st.text(max_size=3), max_size=2), st.booleans()),
    "family": st.one_of(st.integers(), st.lists(st.just("navigation"), min_size=1, max_size=2), st.none()),
    "family_version": st.one_of(st.floats(), st.text(max_size=3), st.booleans(), st.integers(1, 99)),
    "seed": st.one_of(
        st.floats().filter(lambda x: x != int(x) if math.isfinite(x) else True),
        st.text(max_size=3),
        st.integers(max_value=-1),
        st.booleans(),
        st.none(),
    ),
    "setting": st.one_of(st.text(max_size=6).filter(lambda s: s not in ("meta", "multi-task")), st.integers()),
    "train": st.one_of(st.just([]), st.none(), st.text(max_size=3), st.lists(values, min_size=1, max_size=2)),
    "test": st.one_of(st.just([]), st.none(), st.dictionaries(st.text(max_size=2), values, max_size=2)),
    "ood": st.one_of(st.none(), st.integers(), st.lists(scalars, min_size=1, max_size=2)),
    "hash": st.one_of(st.integers(), st.none(), st.text(max_size=10)),
}


@settings(FAST, max_examples=400)
@given(key=st.sampled_from(sorted(_WRONG)), data=st.data(), rehash=st.booleans())
def test_a_manifest_with_a_wrong_value_is_refused_naming_the_key(key, data, rehash):
    manifest = copy.deepcopy(MANIFEST)
    manifest[key] = data.draw(_WRONG[key])
    if rehash and key != "hash":
        manifest = _rehashed(manifest)  # past the hash check: the schema and the family must catch it
    with pytest.raises(ManifestError) as raised:
        Splits.from_manifest(manifest)
    assert _names(raised.value, repr(key), key, "hash", "family", "test", "train", "ood")


@settings(FAST, max_examples=250)
@given(
    split=st.sampled_from(["train", "test", "ood"]),
    field=st.sampled_from(["family", "params", "ood_level", "distance", "id", "extra"]),
    value=values,
)
def test_a_manifest_task_with_a_wrong_field_is_refused_naming_it(split, field, value):
    manifest = copy.deepcopy(MANIFEST)
    task = manifest[split][0]
    same_bool = isinstance(value, bool) == isinstance(task.get(field), bool)
    assume(not (task.get(field) == value and same_bool))  # an equal number (0 for 0.0) is no wrong field
    # A distance within the tolerance the family's check allows (a JSON round trip's) is no wrong field either.
    numeric = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    assume(not (field == "distance" and numeric and math.isclose(value, task["distance"], rel_tol=1e-9, abs_tol=1e-12)))
    task[field] = value
    with pytest.raises(ManifestError) as raised:
        Splits.from_manifest(_rehashed(manifest))
    assert _names(raised.value, split, field, "task", "parameter", "overlap", "duplicate", "support")


@settings(FAST, max_examples=150)
@given(
    data=st.one_of(
        st.binary(max_size=64),
        st.binary(min_size=1, max_size=16).map(lambda b: b"\xff" + b),  # never UTF-8
        st.integers(1000, 200_000).map(lambda n: b"[" * n + b"]" * n),  # nested too deeply
        values.map(lambda v: json.dumps(v, default=str).encode()),
        st.sampled_from([b'{"seed": NaN}', b"Infinity", b"[]", b"null"]),
    )
)
def test_a_malformed_manifest_file_is_refused(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("m") / "manifest.json"
    path.write_bytes(data)
    with pytest.raises(ManifestError) as raised:
        Splits.from_manifest(read_manifest(path))
    assert _names(raised.value, "manifest", str(path))


# ---------------------------------------------------------------------- vector envs

TASKS = FAMILY.splits(seed=0, n_train=3, n_test=1).train
ENVS = {  # the batched env, and the SyncVectorEnv fallback of families without one
    "batched": gym.make_vec(FAMILY.env_id, 3, vectorization_mode="vector_entry_point", tasks=TASKS),
    "sync": SyncTaskVectorEnv(FAMILY, 3, tasks=TASKS),
}
bad_seeds = st.one_of(
    st.floats(allow_nan=True).filter(lambda x: not (math.isfinite(x) and x == int(x))),
    st.integers(max_value=-1),
    st.booleans(),
    st.text(max_size=3),
    st.lists(st.integers(0, 9), max_size=5).filter(lambda s: len(s) != 3),
    st.lists(st.one_of(st.floats(), st.text(max_size=2), st.integers(max_value=-1)), min_size=3, max_size=3),
)
bad_masks = st.one_of(
    st.lists(st.booleans(), max_size=6).filter(lambda m: len(m) != 3),
    st.lists(st.integers(0, 2), min_size=3, max_size=3),
    st.lists(st.floats(), min_size=3, max_size=3),
    st.text(max_size=3),
    st.integers(),
)


@settings(FAST, max_examples=350)
@given(
    mode=st.sampled_from(sorted(ENVS)), kind=st.sampled_from(["seed", "reset_mask", "options", "tasks"]), data=st.data()
)
def test_a_malformed_vector_reset_is_refused_naming_the_argument(mode, kind, data):
    envs = ENVS[mode]
    envs.reset(seed=0)
    before = envs.get_attr("task")
    with pytest.raises(TasksuiteError) as raised:
        if kind == "seed":
            envs.reset(seed=data.draw(bad_seeds))
        elif kind == "reset_mask":
            envs.reset(options={"reset_mask": data.draw(bad_masks)})
        elif kind == "options":
            envs.reset(
                options=data.draw(st.one_of(st.text(max_size=3), st.integers(), st.lists(st.integers(), max_size=2)))
            )
        else:
            tasks = data.draw(
                st.one_of(
                    # {} is a valid task (every parameter at its default): at least one entry is not
                    st.lists(values, min_size=3, max_size=3).filter(lambda t: any(task != {} for task in t)),
                    st.lists(st.just({}), max_size=5).filter(lambda t: len(t) != 3),
                )
            )
            if data.draw(st.booleans()):
                tasks = (task for task in tasks)  # a generator: no length, consumed once
            envs.reset(options={"tasks": tasks})
    assert _names(raised.value, "seed", "reset_mask", "options", "tasks", "task", "mapping", "num_envs", "parameter")
    assert envs.get_attr("task") == before  # nothing half-applied


@settings(FAST, max_examples=250)
@given(
    mode=st.sampled_from(sorted(ENVS)),
    actions=st.one_of(
        st.just(np.ones((3, 2), dtype=bool)),
        st.lists(st.lists(st.booleans(), min_size=2, max_size=2), min_size=3, max_size=3),
        st.lists(st.lists(st.floats(allow_nan=True), min_size=2, max_size=2), min_size=3, max_size=3).filter(
            lambda a: not all(math.isfinite(x) and abs(x) <= 1 for row in a for x in row)
        ),
        st.lists(st.lists(st.floats(-1, 1), max_size=3), max_size=4).filter(
            lambda a: len(a) != 3 or any(len(row) != 2 for row in a)
        ),
        st.lists(st.lists(st.text(max_size=2), min_size=2, max_size=2), min_size=3, max_size=3),
    ),
)
def test_malformed_vector_actions_are_refused(mode, actions):
    envs = ENVS[mode]
    envs.reset(seed=0)
    with pytest.raises(InvalidActionError) as raised:
        envs.step(actions)  # nested lists too, ragged ones included
    assert _names(raised.value, "action")


# ---------------------------------------------------------------------- the cases, one by one


@pytest.mark.parametrize("value", ["false", "true", 0, 1, None, np.int64(1)])
def test_task_observable_accepts_booleans_only(value):
    with pytest.raises(InvalidTaskError, match="task_observable must be True or False"):
        gym.make(FAMILY.env_id, task_observable=value)
    with pytest.raises(InvalidTaskError, match="task_observable must be True or False"):
        gym.make_vec(FAMILY.env_id, 2, vectorization_mode="vector_entry_point", task_observable=value)
    assert gym.make(FAMILY.env_id, task_observable=np.bool_(True)).unwrapped.task_observable is True


def test_single_and_vector_envs_share_one_seed_rule():
    single = gym.make(FAMILY.env_id)
    a, _ = single.reset(seed=np.int64(3))
    b, _ = single.reset(seed=3)
    np.testing.assert_array_equal(a, b)
    for envs in ENVS.values():
        envs.reset(seed=np.int64(3))
    for bad in (1.5, -1, True, "3"):
        with pytest.raises(InvalidTaskError, match="seed must be an integer >= 0"):
            single.reset(seed=bad)
        for envs in ENVS.values():
            with pytest.raises(InvalidTaskError, match="seed must be an integer >= 0"):
                envs.reset(seed=bad)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("train", [], "'train' is empty"),
        ("test", [], "'test' is empty"),
        ("seed", 1.7, "'seed' must be an integer >= 0, got 1.7"),
        ("seed", "abc", "'seed' must be an integer"),
        ("train", None, "'train' must be a list of task dicts"),
        ("family", ["navigation"], "'family' must be a family name"),
        ("extra", 1, "unknown key(s) ['extra']"),
    ],
)
def test_manifest_schema_regressions(key, value, message):
    manifest = _rehashed({**copy.deepcopy(MANIFEST), key: value})
    if key == "train" and value == []:
        manifest = _rehashed({**manifest, "test": []})
        message = "'train' is empty"
    with pytest.raises(ManifestError) as raised:
        Splits.from_manifest(manifest)
    assert message in str(raised.value)


def test_an_oversized_manifest_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("tasksuite.core.splits.MAX_MANIFEST_BYTES", 1000)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(MANIFEST))
    with pytest.raises(ManifestError, match="larger than a manifest may be"):
        read_manifest(path)


def test_vector_env_regressions():
    envs = ENVS["batched"]
    with pytest.raises(InvalidTaskError, match="reset_mask must hold num_envs=3 booleans"):
        envs.reset(options={"reset_mask": [True, False]})
    with pytest.raises(InvalidTaskError, match="reset_mask must hold num_envs=3 booleans"):
        envs.reset(options={"reset_mask": [1, 0, 1]})
    with pytest.raises(InvalidTaskError, match="tasks must be a list or tuple, got generator"):
        gym.make_vec(FAMILY.env_id, 2, vectorization_mode="vector_entry_point", tasks=(t for t in TASKS[:2]))
    envs.reset(seed=0)
    with pytest.raises(InvalidActionError, match="must hold numbers, got dtype bool"):
        envs.step(np.ones((3, 2), dtype=bool))
    single = FAMILY.make_env(TASKS[0])
    single.reset(seed=0)
    with pytest.raises(InvalidActionError, match="must hold numbers, got dtype bool"):
        single.step(np.array([True, False]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"distance": "far"}, "'distance' must be a finite number"),
        ({"distance": float("nan")}, "'distance' must be a finite number"),
        ({"params": {1: 0.5}}, "'params' keys must be parameter names"),
        ({"params": {"goal_x": [0.5]}}, "'params' 'goal_x' must be a finite number or a string"),
        ({2: "x"}, "task dict keys must be strings"),
        ({"ood_level": 3}, "'ood_level' must be a string or null"),
    ],
)
def test_task_from_dict_regressions(change, message):
    with pytest.raises(InvalidTaskError) as raised:
        Task.from_dict({**FAMILY.task().to_dict(), **change})
    assert message in str(raised.value)
