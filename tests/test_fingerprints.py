"""Bit-for-bit: seeded trajectories, sampled tasks and splits are those of the code before the
speed work of issue 15 (digests recorded from it with ``python tests/fingerprints.py``).

A digest changes only when a family's behaviour changes, and that needs a new ``-vN`` id.
"""

import fingerprints
import numpy as np
import pytest

from tasksuite.core.family import uniform

RECORDED = {
    "navigation/single-env": "8ae36bc78705c650ac69",
    "navigation/vector-env": "7c2cb29dc1b061b0e182",
    "navigation/sampled-tasks": "86ac82bf3fd3af5b7234",
    "navigation/long-vector-env": "c8143dcf0be79d159ed5",
    "navigation-maml/single-env": "bf922a99c2cecf7d3d78",
    "navigation-maml/vector-env": "1cc1b99b1d36e4e06287",
    "navigation-maml/sampled-tasks": "9391fd2951198af2b84b",
    "navigation-maml/long-vector-env": "bccf720cf4765869cb7c",
    "point-robot-sparse/single-env": "3e20b5908b6f4bbfdab3",
    "point-robot-sparse/vector-env": "01d9726d3a9ca99acd8b",
    "point-robot-sparse/sampled-tasks": "7cf1582e7607b2080c69",
    "point-robot-sparse/long-vector-env": "5bd7376897e9afc432a8",
    "warehouse/single-env": "7b0f8b9307cb79d2e7cf",
    "warehouse/vector-env": "264a2e1c8cf3f1fcc5f7",
    "warehouse/sampled-tasks": "f4a6c677313a92688205",
    "reaching/single-env": "ca76004b2a59cce8ae06",
    "reaching/vector-env": "b29fdfdcd70ffcf66705",
    "reaching/sampled-tasks": "ff73ee87ee4024063278",
}


@pytest.mark.parametrize("name", fingerprints.names())
def test_fingerprint_is_unchanged(name):
    assert fingerprints.fingerprint(name) == RECORDED[name]


def test_every_fingerprint_is_recorded():
    assert sorted(RECORDED) == sorted(fingerprints.names())


@pytest.mark.parametrize(("low", "high"), [(-180.0, 180.0), (0.15, 0.3), (0.5, 2.0), (-1e-3, 7.25)])
def test_uniform_draws_what_rng_uniform_draws(low, high):
    ours, numpys = np.random.default_rng(11), np.random.default_rng(11)
    assert [uniform(ours, low, high) for _ in range(200)] == [float(numpys.uniform(low, high)) for _ in range(200)]
