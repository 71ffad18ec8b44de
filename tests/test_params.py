"""Parameter validation: every bad value is refused with a message naming the parameter and its range."""

import math

import numpy as np
import pytest

from tasksuite.core import Categorical, Continuous, InvalidTaskError, ParameterSpace, UnknownNameError

SPACE = ParameterSpace(
    (
        Continuous("mass", 0.5, 2.0, default=1.0, unit="kg"),
        Categorical("shape", ("box", "ball"), default="box"),
    )
)


def test_defaults_fill_missing_parameters():
    assert SPACE.validate("toy", {"mass": 1.5}) == {"mass": 1.5, "shape": "box"}


def test_integers_and_numpy_scalars_become_floats():
    values = SPACE.validate("toy", {"mass": np.float32(1.25), "shape": "ball"})
    assert values == {"mass": 1.25, "shape": "ball"} and type(values["mass"]) is float
    assert type(SPACE.validate("toy", {"mass": 1})["mass"]) is float


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"mass": 3.0}, r"'mass' = 3.0 is outside its allowed range \[0.5, 2\] kg"),
        ({"mass": -math.inf}, r"'mass' = -inf is outside"),
        ({"mass": math.nan}, r"'mass' = nan is outside"),
        ({"mass": "heavy"}, r"'mass' must be a number in \[0.5, 2\] kg, got 'heavy'"),
        ({"mass": True}, r"'mass' must be a number"),
        ({"shape": "cone"}, r"'shape' = 'cone' is not allowed; expected one of 'box', 'ball'"),
        ({"shape": 1}, r"'shape' = 1 is not allowed"),
        ({"colour": "red"}, r"unknown parameter\(s\) 'colour'; parameters are mass, shape"),
    ],
)
def test_bad_values_name_the_parameter_and_what_is_allowed(values, expected):
    with pytest.raises(InvalidTaskError, match=expected):
        SPACE.validate("toy", values)


def test_non_mapping_is_refused():
    with pytest.raises(InvalidTaskError, match="must be a mapping"):
        SPACE.validate("toy", [("mass", 1.0)])


def test_encoding_maps_bounds_to_unit_interval_and_one_hot():
    assert SPACE.encoding_size == 3
    np.testing.assert_allclose(SPACE.encode({"mass": 0.5, "shape": "ball"}), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(SPACE.encode({"mass": 2.0, "shape": "box"}), [1.0, 1.0, 0.0])
    assert SPACE.encode({"mass": 1.0, "shape": "box"}).dtype == np.float32


def test_unknown_parameter_lookup_lists_names():
    with pytest.raises(UnknownNameError, match="parameters are mass, shape"):
        SPACE["volume"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Continuous("x", 1.0, 0.0, default=0.5),
        lambda: Continuous("x", 0.0, 1.0, default=2.0),
        lambda: Categorical("c", ("a", "a"), default="a"),
        lambda: Categorical("c", ("a", "b"), default="z"),
        lambda: ParameterSpace((Continuous("x", 0, 1, 0.5), Continuous("x", 0, 1, 0.5))),
    ],
)
def test_malformed_declarations_are_refused(make):
    with pytest.raises(ValueError):
        make()
