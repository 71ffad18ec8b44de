"""Splits and split manifests.

A :class:`Splits` value holds the train, test and OOD tasks of one family for
one seed. Saved as a *split manifest* (versioned JSON with a content hash), it
pins a benchmark's exact tasks so that two labs run the same ones; loading a
manifest re-validates every task against the installed family and fails
loudly on any mismatch.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasksuite.core.errors import IntegrityError, InvalidTaskError, ManifestError, TasksuiteError
from tasksuite.core.io import atomic_write_json, parse_json
from tasksuite.core.lookup import family_named
from tasksuite.core.task import Task, canonical_json, check_task_dict

MANIFEST_FORMAT = "tasksuite-split-manifest"
MANIFEST_FORMAT_VERSION = 1
#: Largest manifest file read (the published ones are under 50 kB).
MAX_MANIFEST_BYTES = 16 * 2**20
# The manifest schema: every key, and what its value must be.
_SCHEMA: dict[str, tuple[str, Any]] = {
    "format": ("a string", str),
    "format_version": ("an integer", int),
    "benchmark": ("a string or null", (str, type(None))),
    "family": ("a family name (string)", str),
    "family_version": ("an integer", int),
    "seed": ("an integer >= 0", int),
    "setting": ("'multi-task' or 'meta'", str),
    "train": ("a list of task dicts", list),
    "test": ("a list of task dicts", list),
    "ood": ("a list of task dicts", list),
    "hash": ("a string", str),
}


@dataclass(frozen=True)
class Splits:
    """Train, test and OOD tasks of one family, generated from one seed.

    In the ``"multi-task"`` setting ``test`` is ``train``; in the ``"meta"``
    setting ``test`` holds new draws from the training distribution, disjoint
    from ``train``. ``ood`` lists the OOD tasks of every level in level order;
    each task carries its ``ood_level`` and ``distance``.
    """

    family: str
    family_version: int
    seed: int
    setting: str
    train: tuple[Task, ...]
    test: tuple[Task, ...]
    ood: tuple[Task, ...]

    @property
    def ood_levels(self) -> dict[str, tuple[Task, ...]]:
        """OOD tasks grouped by level, in the family's level order."""
        grouped: dict[str, list[Task]] = {}
        for task in self.ood:
            grouped.setdefault(task.ood_level or "", []).append(task)
        return {level: tuple(tasks) for level, tasks in grouped.items()}

    def split(self, name: str) -> tuple[Task, ...]:
        """Tasks of ``"train"``, ``"test"``, ``"ood"`` or one OOD level by name."""
        if name in ("train", "test", "ood"):
            return getattr(self, name)
        levels = self.ood_levels
        if name in levels:
            return levels[name]
        raise InvalidTaskError(f"unknown split {name!r}; expected train, test, ood or one of {sorted(levels)}")

    def to_manifest(self, benchmark: str | None = None) -> dict[str, Any]:
        """The manifest dict, hash included."""
        body = {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_FORMAT_VERSION,
            "benchmark": benchmark,
            "family": self.family,
            "family_version": self.family_version,
            "seed": self.seed,
            "setting": self.setting,
            "train": [t.to_dict() for t in self.train],
            "test": [t.to_dict() for t in self.test],
            "ood": [t.to_dict() for t in self.ood],
        }
        return {**body, "hash": _content_hash(body)}

    def save(self, path: str | os.PathLike[str], benchmark: str | None = None) -> Path:
        """Write the manifest atomically to ``path`` and return the path."""
        atomic_write_json(path, self.to_manifest(benchmark))
        return Path(path)

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> Splits:
        """Rebuild splits from a manifest dict, checking format, hash, family version and every task."""
        if not isinstance(manifest, Mapping) or manifest.get("format") != MANIFEST_FORMAT:
            raise ManifestError(f"not a split manifest: expected 'format': {MANIFEST_FORMAT!r}")
        if manifest.get("format_version") != MANIFEST_FORMAT_VERSION:
            raise ManifestError(
                f"manifest format_version {manifest.get('format_version')!r} is not supported; "
                f"this tasksuite reads version {MANIFEST_FORMAT_VERSION}"
            )
        check_schema(manifest)
        body = {k: v for k, v in manifest.items() if k != "hash"}
        if _content_hash(body) != manifest["hash"]:
            raise ManifestError(
                "manifest content hash does not match its 'hash' field: the file was edited or corrupted"
            )
        family = family_named(manifest["family"])
        if manifest["family_version"] != family.version:
            raise ManifestError(
                f"manifest was written for {family.name} v{manifest['family_version']}, "
                f"but the installed family is v{family.version} ({family.env_id})"
            )
        try:
            splits = cls(
                family=family.name,
                family_version=family.version,
                seed=manifest["seed"],
                setting=manifest["setting"],
                train=tuple(Task.from_dict(t) for t in manifest["train"]),
                test=tuple(Task.from_dict(t) for t in manifest["test"]),
                ood=tuple(Task.from_dict(t) for t in manifest["ood"]),
            )
        except TasksuiteError as error:
            raise ManifestError(f"manifest task does not validate against the installed family: {error}") from error
        splits.check(family.disjointness_key)
        return splits

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Splits:
        """Read and verify a manifest file written by :meth:`save`."""
        return cls.from_manifest(read_manifest(path))

    def check(self, disjointness_key: Any = None) -> None:
        """Raise :class:`ManifestError` unless the splits are well-formed.

        Checks: every task belongs to the family; train and test lie inside
        the training support; OOD tasks lie outside it; the multi-task setting
        tests on its training tasks; the meta setting's test tasks share no
        ``disjointness_key`` with training tasks.
        """
        key = disjointness_key or (lambda task: task.id)
        if self.setting not in ("multi-task", "meta"):
            raise ManifestError(f"setting {self.setting!r} is not 'multi-task' or 'meta'")
        if not self.train or not self.test:
            empty = "train" if not self.train else "test"
            raise ManifestError(f"splits need at least one task in train and in test; {empty!r} is empty")
        every = self.train + self.test + self.ood
        if any(t.family != self.family for t in every):
            raise ManifestError(f"splits of {self.family!r} contain tasks of another family")
        if any(t.ood_level is not None for t in self.train + self.test):
            raise ManifestError("train/test tasks must lie inside the training support")
        if any(t.ood_level is None or not t.distance > 0.0 for t in self.ood):
            raise ManifestError("OOD tasks must lie outside the training support (distance > 0)")
        if self.setting == "multi-task" and self.test != self.train:
            raise ManifestError("multi-task setting: test tasks must be the training tasks")
        if self.setting == "meta" and {key(t) for t in self.train} & {key(t) for t in self.test}:
            raise ManifestError("meta setting: test tasks overlap training tasks")
        if len(set(self.train)) != len(self.train) or len(set(self.ood)) != len(self.ood):
            raise ManifestError("splits contain duplicate tasks")


def check_schema(manifest: Mapping[str, Any]) -> None:
    """Raise :class:`ManifestError` naming the key unless every key of the manifest schema is
    present with a value of its type, and no other key is (task dicts: :func:`check_task_dict`)."""
    missing = sorted(set(_SCHEMA) - set(manifest))
    unknown = sorted(map(str, set(manifest) - set(_SCHEMA)))
    if missing or unknown:
        raise ManifestError(
            f"manifest is missing key(s) {missing} / has unknown key(s) {unknown}; keys are {list(_SCHEMA)}"
        )
    for key, (allowed, types) in _SCHEMA.items():
        value = manifest[key]
        if isinstance(value, bool) or not isinstance(value, types) or (key == "seed" and value < 0):
            raise ManifestError(f"manifest key {key!r} must be {allowed}, got {value!r:.80}")
    for split in ("train", "test", "ood"):
        for index, task in enumerate(manifest[split]):
            try:
                check_task_dict(task)
            except InvalidTaskError as error:
                raise ManifestError(f"manifest key {split!r}[{index}]: {error}") from None


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a manifest file's JSON (unverified; :meth:`Splits.from_manifest` verifies).

    Files over :data:`MAX_MANIFEST_BYTES`, not UTF-8, or not JSON are a :class:`ManifestError`.
    """
    try:
        size = os.stat(path).st_size
    except OSError as error:
        raise ManifestError(f"cannot read manifest {path}: {error.strerror}") from None
    if size > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{path}: {size} bytes is larger than a manifest may be ({MAX_MANIFEST_BYTES} bytes)")
    try:
        manifest = parse_json(Path(path).read_bytes(), str(path))
    except IntegrityError as error:
        raise ManifestError(str(error)) from None
    if not isinstance(manifest, dict):
        raise ManifestError(f"{path}: a manifest is a JSON object, got {type(manifest).__name__}")
    return manifest


def _content_hash(body: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()
