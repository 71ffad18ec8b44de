"""Every registered benchmark: published manifest present, verified and reproducible from its seed."""

import pytest

import tasksuite
from tasksuite import Benchmark, UnknownNameError
from tasksuite.registry import BENCHMARKS, generate_splits, published_manifest

NAMES = tasksuite.list_benchmarks()


@pytest.mark.parametrize("name", NAMES)
def test_published_manifest_matches_what_the_seed_generates(name):
    manifest = published_manifest(name)
    assert manifest is not None, (
        f"benchmark {name!r} has no published manifest; write it with "
        f"`tasksuite manifest {name} --generate --out tasksuite/manifests/{name}.json`"
    )
    assert manifest["benchmark"] == name
    regenerated = generate_splits(name, seed=0)
    assert tasksuite.make_benchmark(name).splits == regenerated, (
        "the published tasks differ from what seed 0 generates now: a change to the family or to NumPy's "
        "sampling altered the split; bump the family version instead of changing a published benchmark"
    )


@pytest.mark.parametrize("entry", BENCHMARKS, ids=lambda e: e.name)
def test_benchmark_has_its_declared_shape(entry):
    benchmark = tasksuite.make_benchmark(entry.name, seed=3)
    assert benchmark.setting == entry.setting and benchmark.family.name == entry.family
    assert len(benchmark.train_tasks) == entry.n_train
    expected_test = entry.n_train if entry.setting == "multi-task" else entry.n_test
    assert len(benchmark.test_tasks) == expected_test
    assert len(benchmark.ood_tasks) == entry.n_ood * len(benchmark.family.ood_levels)
    assert benchmark.splits.seed == 3 and benchmark.train_tasks != tasksuite.make_benchmark(entry.name).train_tasks


def test_benchmark_round_trips_through_its_manifest(tmp_path):
    benchmark = tasksuite.make_benchmark("navigation-meta", seed=4)
    loaded = Benchmark.from_manifest(benchmark.save_manifest(tmp_path / "b.json"))
    assert loaded.name == "navigation-meta" and loaded.splits == benchmark.splits


def test_every_benchmark_names_a_registered_family():
    assert {b.family for b in BENCHMARKS} <= set(tasksuite.list_families())


def test_unknown_benchmark_lists_registered_ones():
    with pytest.raises(UnknownNameError, match="unknown benchmark 'nope'; registered: navigation-multitask"):
        tasksuite.make_benchmark("nope")


def test_multitask_benchmarks_expose_the_task_and_meta_benchmarks_hide_it():
    multi, meta = tasksuite.make_benchmark("navigation-multitask"), tasksuite.make_benchmark("navigation-meta")
    assert multi.task_observable and not meta.task_observable
    family = multi.family
    assert multi.make_env(multi.train_tasks[0]).observation_space.shape[0] == 2 + family.space.encoding_size
    assert meta.make_env(meta.test_tasks[0]).observation_space.shape[0] == 2
    assert multi.make_env(multi.train_tasks[0], task_observable=False).observation_space.shape[0] == 2
