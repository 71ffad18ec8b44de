"""The registry: one table of families and one table of benchmarks.

Adding a family means writing its module (and its MJCF in ``assets/``) and
adding a row to :data:`FAMILIES`; Gymnasium registration, ``tasksuite list``,
the registry-wide tests and the docs pick it up from here. Rows name their
environment class by import path, so importing tasksuite imports no simulator.

A published id never changes behaviour: change a family and you bump its
``-vN`` (and its benchmarks' manifests).
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from tasksuite.core.errors import UnknownNameError, did_you_mean
from tasksuite.core.family import SETTINGS, TaskFamily
from tasksuite.core.lookup import install_family_lookup

if TYPE_CHECKING:
    from tasksuite.core.benchmark import Benchmark
    from tasksuite.core.splits import Splits


@dataclass(frozen=True)
class FamilyEntry:
    """A registered family: its name, Gymnasium id, environment class and variant options."""

    name: str
    env_id: str
    entry_point: str
    options: Mapping[str, Any] = field(default_factory=dict)
    #: A batched :class:`~tasksuite.core.vector.TaskVectorEnv`; without one, a ``SyncVectorEnv`` of single envs.
    vector_entry_point: str = "tasksuite.core.vector:SyncTaskVectorEnv"


@dataclass(frozen=True)
class BenchmarkEntry:
    """A named benchmark: a family, a setting and split sizes.

    A benchmark's published tasks for seed 0 live in a bundled split manifest
    (``tasksuite/manifests/<name>.json``), so they stay fixed across NumPy
    versions and machines; other seeds are generated.
    """

    name: str
    family: str
    setting: str
    n_train: int
    n_test: int | None
    n_ood: int
    summary: str

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise ValueError(f"benchmark {self.name!r}: setting {self.setting!r} not in {SETTINGS}")


_NAV = "tasksuite.families.navigation:NavigationEnv"
_NAV_VEC = "tasksuite.families.navigation:NavigationVectorEnv"

FAMILIES: tuple[FamilyEntry, ...] = (
    FamilyEntry("navigation", "tasksuite/Navigation-v0", _NAV, vector_entry_point=_NAV_VEC),
    FamilyEntry("navigation-maml", "tasksuite/NavigationMAML-v0", _NAV, {"preset": "maml"}, _NAV_VEC),
    FamilyEntry("point-robot-sparse", "tasksuite/PointRobotSparse-v0", _NAV, {"preset": "pearl-sparse"}, _NAV_VEC),
    FamilyEntry(
        "warehouse",
        "tasksuite/Warehouse-v0",
        "tasksuite.families.warehouse:WarehouseEnv",
        vector_entry_point="tasksuite.families.warehouse:WarehouseVectorEnv",
    ),
    FamilyEntry(
        "reaching",
        "tasksuite/Reaching-v0",
        "tasksuite.families.reaching:ReachingEnv",
        vector_entry_point="tasksuite.families.reaching:ReachingVectorEnv",
    ),
)

BENCHMARKS: tuple[BenchmarkEntry, ...] = (
    BenchmarkEntry(
        "navigation-multitask",
        "navigation",
        "multi-task",
        n_train=10,
        n_test=None,
        n_ood=10,
        summary="10 known goals on the upper half-disc; test on the same goals.",
    ),
    BenchmarkEntry(
        "navigation-meta",
        "navigation",
        "meta",
        n_train=100,
        n_test=20,
        n_ood=20,
        summary="Adapt to new goals on the upper half-disc; OOD goals below it and beyond radius 1.",
    ),
    BenchmarkEntry(
        "warehouse-multitask",
        "warehouse",
        "multi-task",
        n_train=50,
        n_test=None,
        n_ood=10,
        summary="The 50 known product shapes, one goal each; test on the same tasks. OOD: heavier, lighter, "
        "slipperier or grippier products and the held-out T-shapes.",
    ),
    BenchmarkEntry(
        "warehouse-meta",
        "warehouse",
        "meta",
        n_train=40,
        n_test=10,
        n_ood=10,
        summary="Train on 40 product shapes, adapt to 10 held-out shapes of the same classes (two per class); "
        "OOD as in warehouse-multitask.",
    ),
    BenchmarkEntry(
        "maml-navigation",
        "navigation-maml",
        "meta",
        n_train=100,
        n_test=20,
        n_ood=20,
        summary="The MAML paper's 2-D navigation: goals in [-0.5, 0.5]^2, dense reward, horizon 100.",
    ),
    BenchmarkEntry(
        "pearl-sparse-point",
        "point-robot-sparse",
        "meta",
        n_train=80,
        n_test=20,
        n_ood=20,
        summary="PEARL's sparse point robot: 100 goals on the unit semicircle, 80 train / 20 test.",
    ),
    BenchmarkEntry(
        "reaching-multitask",
        "reaching",
        "multi-task",
        n_train=10,
        n_test=None,
        n_ood=10,
        summary="10 known arm-reaching tasks (target, payload, damping, motor strength), task observed.",
    ),
    BenchmarkEntry(
        "reaching-meta",
        "reaching",
        "meta",
        n_train=50,
        n_test=20,
        n_ood=20,
        summary="Adapt to a hidden target and unknown arm dynamics; OOD targets out of the box, heavier payloads.",
    ),
)


_plugin_families: list[FamilyEntry] = []
_plugin_benchmarks: list[BenchmarkEntry] = []


def family_entries() -> tuple[FamilyEntry, ...]:
    """Every registered family: the rows of :data:`FAMILIES`, then those of plugins."""
    return (*FAMILIES, *_plugin_families)


def benchmark_entries() -> tuple[BenchmarkEntry, ...]:
    """Every registered benchmark: the rows of :data:`BENCHMARKS`, then those of plugins."""
    return (*BENCHMARKS, *_plugin_benchmarks)


def list_families() -> list[str]:
    """Names of all registered families."""
    return [entry.name for entry in family_entries()]


def list_benchmarks() -> list[str]:
    """Names of all registered benchmarks."""
    return [entry.name for entry in benchmark_entries()]


def _lookup(table: tuple[Any, ...], name: str, what: str) -> Any:
    for entry in table:
        if entry.name == name:
            return entry
    known = [entry.name for entry in table]
    raise UnknownNameError(f"unknown {what} {name!r}{did_you_mean(name, known)}; registered: {', '.join(known)}")


def family_entry(name: str) -> FamilyEntry:
    """The registry row of family ``name``."""
    return _lookup(family_entries(), name, "family")


def benchmark_entry(name: str) -> BenchmarkEntry:
    """The registry row of benchmark ``name``."""
    return _lookup(benchmark_entries(), name, "benchmark")


def load_entry_point(entry_point: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module, _, attribute = entry_point.partition(":")
    return getattr(importlib.import_module(module), attribute)


@functools.cache
def get_family(name: str) -> TaskFamily:
    """The registered family called ``name`` (e.g. ``"navigation"``)."""
    if not isinstance(name, str):
        raise UnknownNameError(f"family name must be a string, got {type(name).__name__}")
    entry = family_entry(name)
    env_class = load_entry_point(entry.entry_point)
    return env_class.family_class(entry.name, entry.env_id, **entry.options)


install_family_lookup(get_family)


def published_manifest(name: str) -> dict[str, Any] | None:
    """The bundled seed-0 manifest of benchmark ``name``, if one is published."""
    path = resources.files("tasksuite.manifests") / f"{name}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def make_benchmark(name: str, seed: int = 0) -> Benchmark:
    """Build benchmark ``name``: its train/test/OOD tasks for ``seed``.

    Seed 0 loads the published manifest bundled with tasksuite (verified on
    load); other seeds generate splits with the benchmark's sizes.
    """
    from tasksuite.core.benchmark import Benchmark
    from tasksuite.core.splits import Splits

    entry = benchmark_entry(name)
    manifest = published_manifest(name) if seed == 0 else None
    splits = Splits.from_manifest(manifest) if manifest is not None else generate_splits(name, seed)
    return Benchmark(name=name, family=get_family(entry.family), splits=splits)


def generate_splits(name: str, seed: int = 0) -> Splits:
    """Generate (never load) benchmark ``name``'s splits for ``seed``; published manifests are written from this."""
    entry = benchmark_entry(name)
    return get_family(entry.family).splits(
        seed=seed, n_train=entry.n_train, n_test=entry.n_test, n_ood=entry.n_ood, setting=entry.setting
    )


def register_family(entry: FamilyEntry) -> None:
    """Register a family defined outside tasksuite (a plugin); tasksuite's own families are rows of FAMILIES."""
    if any(e.name == entry.name or e.env_id == entry.env_id for e in family_entries()):
        raise ValueError(f"a family named {entry.name!r} or with id {entry.env_id!r} is already registered")
    _plugin_families.append(entry)
    register_gymnasium_envs()


def register_benchmark(entry: BenchmarkEntry) -> None:
    """Register a benchmark defined outside tasksuite (it has no published manifest: splits come from the seed)."""
    if any(e.name == entry.name for e in benchmark_entries()):
        raise ValueError(f"a benchmark named {entry.name!r} is already registered")
    family_entry(entry.family)
    _plugin_benchmarks.append(entry)


def register_gymnasium_envs() -> None:
    """Register every family's id with Gymnasium (idempotent)."""
    for entry in family_entries():
        if entry.env_id not in gym.registry:
            gym.register(
                id=entry.env_id,
                entry_point=entry.entry_point,
                vector_entry_point=entry.vector_entry_point,
                kwargs={"family": entry.name},
            )
