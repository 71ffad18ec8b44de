"""Splits: reproducible from the seed, disjoint, OOD provably outside the training support; manifests verified."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tasksuite
from tasksuite import InvalidTaskError, ManifestError, Splits

FAMILIES = tasksuite.list_families()


def _assert_well_formed(family, splits, n_train, n_test, n_ood):
    assert len(splits.train) == n_train and len(splits.test) == n_test
    assert all(t.ood_level is None and t.distance == 0.0 for t in splits.train + splits.test)
    keys = {family.disjointness_key(t) for t in splits.train}
    assert not keys & {family.disjointness_key(t) for t in splits.test}
    assert len(keys) == n_train
    by_level = splits.ood_levels
    assert list(by_level) == [level.name for level in family.ood_levels]
    for level in family.ood_levels:
        tasks = by_level[level.name]
        assert len(tasks) == n_ood
        assert all(level.low <= t.distance < level.high and t.distance > 0 for t in tasks)
        # distance and level are recomputed by the family, not trusted from the sampler
        assert all(family.task(**t.params).distance == t.distance for t in tasks)


@pytest.mark.parametrize("name", FAMILIES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    n_train=st.integers(1, 20),
    n_test=st.integers(1, 10),
    n_ood=st.integers(1, 4),
)
def test_meta_splits_are_disjoint_reproducible_and_graded(name, seed, n_train, n_test, n_ood):
    family = tasksuite.get_family(name)
    splits = family.splits(seed=seed, n_train=n_train, n_test=n_test, n_ood=n_ood, setting="meta")
    _assert_well_formed(family, splits, n_train, n_test, n_ood)
    assert family.splits(seed=seed, n_train=n_train, n_test=n_test, n_ood=n_ood, setting="meta") == splits


@pytest.mark.parametrize("name", FAMILIES)
def test_multitask_setting_tests_on_training_tasks(name):
    family = tasksuite.get_family(name)
    splits = family.splits(seed=1, n_train=5, n_ood=2, setting="multi-task")
    assert splits.test == splits.train and splits.setting == "multi-task"


@pytest.mark.parametrize("name", FAMILIES)
def test_more_ood_tasks_or_another_level_size_never_changes_train_and_test(name):
    family = tasksuite.get_family(name)
    few = family.splits(seed=5, n_train=4, n_test=2, n_ood=1)
    many = family.splits(seed=5, n_train=4, n_test=2, n_ood=6)
    assert few.train == many.train and few.test == many.test
    assert family.splits(seed=6, n_train=4, n_test=2, n_ood=1).train != few.train


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"setting": "few-shot"}, "setting='few-shot' is not allowed"),
        ({"setting": "meta", "n_test": None}, "n_test must be a positive integer"),
        ({"setting": "multi-task", "n_test": 3}, "n_test must be None in the multi-task setting"),
        ({"n_train": 0, "n_test": 1}, "n_train must be at least 1"),
        ({"seed": -1, "n_test": 1}, "seed must be a non-negative integer"),
        ({"n_ood": 1.5, "n_test": 1}, "n_ood must be a non-negative integer"),
    ],
)
def test_bad_split_arguments_are_refused(kwargs, message):
    with pytest.raises(InvalidTaskError, match=message):
        tasksuite.get_family("navigation").splits(**kwargs)


def test_asking_for_more_distinct_tasks_than_exist_fails_clearly():
    pearl = tasksuite.get_family("point-robot-sparse")  # exactly 100 training goals
    assert len(pearl.splits(seed=0, n_train=80, n_test=20).test) == 20
    with pytest.raises(InvalidTaskError, match="yielded only 100"):
        pearl.splits(seed=0, n_train=90, n_test=20)


# ---------------------------------------------------------------------- manifests


@pytest.fixture
def splits():
    return tasksuite.get_family("navigation").splits(seed=11, n_train=4, n_test=2, n_ood=2)


def test_manifest_round_trip(tmp_path, splits):
    path = splits.save(tmp_path / "split.json")
    assert Splits.load(path) == splits
    manifest = json.loads(path.read_text())
    assert manifest["family"] == "navigation" and manifest["family_version"] == 0 and manifest["seed"] == 11
    assert manifest["hash"].startswith("sha256:")
    assert not list(tmp_path.glob(".*tmp")), "atomic write left a temporary file"


def _rewrite(path, edit):
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def _rehash(manifest):
    from tasksuite.core.splits import _content_hash

    manifest["hash"] = _content_hash({k: v for k, v in manifest.items() if k != "hash"})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["train"][0]["params"].update(goal_x=0.0), "content hash does not match"),
        (lambda m: (m.update(family_version=7), _rehash(m)), "written for navigation v7"),
        (lambda m: (m["train"][0]["params"].update(goal_x=0.0), _rehash(m)), "does not validate"),
        (lambda m: (m.update(test=m["train"][:1]), _rehash(m)), "test tasks overlap training tasks"),
        (lambda m: (m.update(ood=m["train"][:1]), _rehash(m)), "OOD tasks must lie outside"),
        (lambda m: m.update(format="something-else"), "not a split manifest"),
        (lambda m: m.update(format_version=99), "format_version 99 is not supported"),
        (lambda m: m.pop("seed"), r"missing key\(s\) \['seed'\]"),
    ],
)
def test_tampered_or_stale_manifests_fail_loudly(tmp_path, splits, edit, message):
    path = splits.save(tmp_path / "split.json")
    _rewrite(path, edit)
    with pytest.raises(ManifestError, match=message):
        Splits.load(path)


def test_manifest_that_is_not_json_fails_loudly(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": ')
    with pytest.raises(ManifestError, match="not valid JSON"):
        Splits.load(path)
