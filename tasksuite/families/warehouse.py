"""Warehouse shapes: push one of 50 catalogued products to a goal on a table.

The multi-task scenario "a warehouse robot handles 50 known product shapes",
with its meta-RL and OOD counterparts. A round pusher, driven in the plane by
two velocity servos, pushes one product across a fenced table
(``assets/warehouse.xml``) to a goal disc.

The product catalogue (:data:`CATALOGUE`) is a pure function of this module's
code: six shape classes (box, cylinder, capsule, ellipsoid and the compound
L- and T-shapes), each two sizes times five proportions, every product with
its dimensions, material, mass and friction. The 50 products of the first five
classes are the *known* shapes; the ten T-shapes are a class held out of
training entirely (the ``novel-class`` OOD level).

A product's geometry is added to the scene with :class:`mujoco.MjSpec` and
compiled once per process and shape (:func:`shape_model`). An env simulates its
own copy of that model, made the first time it meets the shape and kept, so
that switching back costs no allocation; mass, friction and the goal are
written into the env's model in place. Every shape's model has the same
``MjData`` layout (products of fewer parts get inert pads, see
:func:`compile_scene`), so that one :class:`mujoco.batch.Batch` steps any mix
of shapes (:class:`WarehouseVectorEnv`).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from tasksuite.core.env import TaskLike
from tasksuite.core.errors import InvalidTaskError
from tasksuite.core.family import OODLevel, Policy, TaskFamily, uniform
from tasksuite.core.mujoco_env import MujocoTaskEnv, MujocoTaskVectorEnv, asset_path
from tasksuite.core.params import Categorical, Continuous, ParameterSpace, ParamValue
from tasksuite.core.task import Task, canonical_json

# ---------------------------------------------------------------------- the product catalogue


@dataclass(frozen=True)
class Material:
    """What a product is made of: bulk density (kg/m³, contents included) and sliding friction on the table."""

    name: str
    density: float
    friction: float


MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        Material("cardboard", 400.0, 0.55),
        Material("wood", 650.0, 0.45),
        Material("tin", 900.0, 0.35),
        Material("plastic", 500.0, 0.4),
        Material("glass", 1000.0, 0.3),
        Material("rubber", 700.0, 0.7),
        Material("foam", 250.0, 0.6),
    )
}


@dataclass(frozen=True)
class Part:
    """One MuJoCo primitive of a product, in the product's frame (metres).

    ``size`` is MuJoCo's: box half-extents; cylinder (radius, half-height);
    capsule (radius, half-length of its straight part), lying along x;
    ellipsoid semi-axes.
    """

    geom: str
    size: tuple[float, ...]
    pos: tuple[float, float, float]

    @property
    def volume(self) -> float:
        """The part's volume in m^3 (MuJoCo half-sizes)."""
        if self.geom == "box":
            return 8.0 * math.prod(self.size)
        if self.geom == "cylinder":
            radius, half = self.size
            return 2.0 * math.pi * radius**2 * half
        if self.geom == "capsule":
            radius, half = self.size
            return 2.0 * math.pi * radius**2 * half + 4.0 / 3.0 * math.pi * radius**3
        return 4.0 / 3.0 * math.pi * math.prod(self.size)  # ellipsoid

    @property
    def half_extent(self) -> tuple[float, float, float]:
        """Half-sizes of the part's axis-aligned bounding box."""
        if self.geom == "cylinder":
            radius, half = self.size
            return radius, radius, half
        if self.geom == "capsule":
            radius, half = self.size
            return half + radius, radius, radius
        return self.size[0], self.size[1], self.size[2]


@dataclass(frozen=True)
class ProductShape:
    """A catalogued product: its parts (centred on the footprint's centroid, resting on z = 0), mass and friction."""

    name: str
    shape_class: str
    parts: tuple[Part, ...]
    material: str
    mass: float  # kg
    friction: float  # sliding friction coefficient against the table

    @property
    def extent(self) -> tuple[float, float, float]:
        """Size of the bounding box (x, y, z) in metres."""
        x, y, z = (
            round(
                max(p.pos[i] + p.half_extent[i] for p in self.parts)
                - min(p.pos[i] - p.half_extent[i] for p in self.parts),
                4,
            )
            for i in range(3)
        )
        return x, y, z

    @property
    def radius(self) -> float:
        """Radius of a vertical cylinder about the origin enclosing the product, whatever its yaw."""
        return max(math.hypot(abs(p.pos[0]) + p.half_extent[0], abs(p.pos[1]) + p.half_extent[1]) for p in self.parts)


# Geometry builders: (a, b, c) are the proportions times the size unit, in metres.
def _box(a: float, b: float, c: float) -> tuple[Part, ...]:
    return (Part("box", (a, b, c), (0.0, 0.0, c)),)


def _cylinder(radius: float, half_height: float) -> tuple[Part, ...]:
    return (Part("cylinder", (radius, half_height), (0.0, 0.0, half_height)),)


def _capsule(radius: float, half_length: float) -> tuple[Part, ...]:
    return (Part("capsule", (radius, half_length), (0.0, 0.0, radius)),)


def _ellipsoid(a: float, b: float, c: float) -> tuple[Part, ...]:
    return (Part("ellipsoid", (a, b, c), (0.0, 0.0, c)),)


def _l_shape(length_x: float, length_y: float, width: float, half_height: float) -> tuple[Part, ...]:
    """A bar along x and a leg along y from its end, ``width`` thick; the two parts do not overlap."""
    bar = Part("box", (length_x / 2, width / 2, half_height), (length_x / 2, width / 2, half_height))
    leg_length = length_y - width
    leg = Part("box", (width / 2, leg_length / 2, half_height), (width / 2, width + leg_length / 2, half_height))
    return (bar, leg)


def _t_shape(length_x: float, length_y: float, width: float, half_height: float) -> tuple[Part, ...]:
    """A bar along x on top of a stem along y through its middle, ``width`` thick; the parts do not overlap."""
    stem_length = length_y - width
    stem = Part("box", (width / 2, stem_length / 2, half_height), (0.0, stem_length / 2, half_height))
    bar = Part("box", (length_x / 2, width / 2, half_height), (0.0, stem_length + width / 2, half_height))
    return (stem, bar)


@dataclass(frozen=True)
class ShapeClass:
    """A family of products: a geometry builder, five named proportions, two materials (alternating)."""

    name: str
    build: Callable[..., tuple[Part, ...]]
    proportions: tuple[tuple[str, tuple[float, ...]], ...]
    materials: tuple[str, str]
    held_out: bool = False  # never in the training distribution: the novel-class OOD level


#: Size unit (metres) multiplying every proportion: each class comes in two sizes.
SIZES: tuple[tuple[str, float], ...] = (("small", 0.02), ("large", 0.03))

SHAPE_CLASSES: tuple[ShapeClass, ...] = (
    ShapeClass(
        "box",
        _box,
        (
            ("cube", (1.0, 1.0, 1.0)),
            ("flat", (1.5, 1.2, 0.5)),
            ("long", (2.0, 0.8, 0.8)),
            ("tall", (0.9, 0.9, 1.8)),
            ("wide", (1.6, 1.6, 0.7)),
        ),
        ("cardboard", "wood"),
    ),
    ShapeClass(
        "cyl",
        _cylinder,
        (
            ("puck", (1.4, 0.5)),
            ("can", (1.0, 1.2)),
            ("tall", (0.9, 2.0)),
            ("drum", (1.8, 0.9)),
            ("disc", (1.6, 0.3)),
        ),
        ("tin", "plastic"),
    ),
    ShapeClass(
        "capsule",
        _capsule,
        (
            ("short", (0.8, 0.6)),
            ("regular", (0.8, 1.2)),
            ("long", (0.7, 2.0)),
            ("thick", (1.2, 1.0)),
            ("thin", (0.5, 1.6)),
        ),
        ("plastic", "glass"),
    ),
    ShapeClass(
        "ellipsoid",
        _ellipsoid,
        (
            ("sphere", (1.0, 1.0, 1.0)),
            ("egg", (1.4, 1.0, 1.0)),
            ("flat", (1.4, 1.4, 0.6)),
            ("long", (2.0, 0.9, 0.9)),
            ("oval", (1.6, 1.1, 0.7)),
        ),
        ("rubber", "foam"),
    ),
    ShapeClass(
        "l",
        _l_shape,
        (
            ("even", (2.4, 2.4, 0.8, 0.5)),
            ("long", (3.2, 1.8, 0.8, 0.5)),
            ("thick", (2.4, 2.0, 1.2, 0.5)),
            ("flat", (2.6, 2.6, 0.8, 0.25)),
            ("tall", (2.0, 2.0, 0.8, 1.0)),
        ),
        ("wood", "plastic"),
    ),
    ShapeClass(
        "t",
        _t_shape,
        (
            ("even", (2.4, 2.4, 0.8, 0.5)),
            ("wide", (3.2, 1.8, 0.8, 0.5)),
            ("thick", (2.4, 2.2, 1.2, 0.5)),
            ("flat", (2.6, 2.6, 0.8, 0.25)),
            ("tall", (2.0, 2.0, 0.8, 1.0)),
        ),
        ("wood", "plastic"),
        held_out=True,
    ),
)


def _centred(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    """Shift the parts so that their common centroid (uniform density) lies on the z axis."""
    volume = sum(p.volume for p in parts)
    cx = sum(p.volume * p.pos[0] for p in parts) / volume
    cy = sum(p.volume * p.pos[1] for p in parts) / volume
    return tuple(
        Part(p.geom, tuple(round(s, 6) for s in p.size), (round(p.pos[0] - cx, 6), round(p.pos[1] - cy, 6), p.pos[2]))
        for p in parts
    )


def _build_catalogue() -> tuple[ProductShape, ...]:
    # Plain float arithmetic on literals, rounded: the same catalogue on every machine, no RNG to drift.
    products = []
    for shape_class in SHAPE_CLASSES:
        for size_name, unit in SIZES:
            for index, (proportion, factors) in enumerate(shape_class.proportions):
                parts = _centred(shape_class.build(*(round(f * unit, 6) for f in factors)))
                material = MATERIALS[shape_class.materials[index % 2]]
                products.append(
                    ProductShape(
                        name=f"{shape_class.name}-{size_name}-{proportion}",
                        shape_class=shape_class.name,
                        parts=parts,
                        material=material.name,
                        mass=round(material.density * sum(p.volume for p in parts), 4),
                        friction=material.friction,
                    )
                )
    return tuple(products)


#: Every product by name, known shapes first: ``box-small-cube`` ... ``t-large-tall``.
CATALOGUE: dict[str, ProductShape] = {product.name: product for product in _build_catalogue()}
_HELD_OUT_CLASSES = {c.name for c in SHAPE_CLASSES if c.held_out}
#: The 50 shapes of the training distribution (five classes of ten).
KNOWN_SHAPES: tuple[str, ...] = tuple(n for n, p in CATALOGUE.items() if p.shape_class not in _HELD_OUT_CLASSES)
#: The shapes of the classes held out of training (T-shapes).
NOVEL_SHAPES: tuple[str, ...] = tuple(n for n, p in CATALOGUE.items() if p.shape_class in _HELD_OUT_CLASSES)


def catalogue_digest() -> str:
    """SHA-256 of the catalogue's canonical JSON: pinned by the tests, so that it never drifts silently."""
    body = [asdict(product) for product in CATALOGUE.values()]
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- compiled models, one per shape

_CLASS_COLOURS: dict[str, tuple[float, float, float, float]] = {
    "box": (0.78, 0.6, 0.38, 1.0),
    "cyl": (0.8, 0.25, 0.22, 1.0),
    "capsule": (0.25, 0.45, 0.85, 1.0),
    "ellipsoid": (0.3, 0.7, 0.35, 1.0),
    "l": (0.95, 0.6, 0.1, 1.0),
    "t": (0.6, 0.3, 0.75, 1.0),
}
# Capsules lie on their side: MuJoCo's capsule axis (z) turned onto x.
_LYING = (math.sqrt(0.5), 0.0, math.sqrt(0.5), 0.0)


@dataclass(frozen=True)
class ShapeModel:
    """The scene compiled with one product. Never mutated: environments simulate copies of ``model``."""

    model: Any
    mass: float  # the compiled product's mass (kg) and inertia: per-task masses rescale both
    inertia: np.ndarray
    product_body: int
    product_geoms: slice
    goal_site: int


#: Geoms of every compiled product: the most parts of any catalogued shape.
PRODUCT_GEOMS = max(len(product.parts) for product in CATALOGUE.values())
_PAD_RADIUS = 0.001  # m: pads sit inside the product's first part, whose every dimension exceeds it
# A contact bit no geom of the scene has: with it, a pad counts in the body's bounding volumes (which leave out
# geoms of contype = conaffinity = 0, and which are part of MjData's layout) but collides with nothing.
_PAD_AFFINITY = 4


@functools.cache
def shape_model(name: str) -> ShapeModel:
    """The scene holding product ``name``, compiled on first use and cached for the process."""
    return compile_scene(CATALOGUE[name])


def compile_scene(product_shape: ProductShape, geoms: int = PRODUCT_GEOMS) -> ShapeModel:
    """Compile the scene with a product made of ``geoms`` geoms: its parts, then inert pads.

    A pad is a massless sphere inside the first part that collides with
    nothing and is never drawn (group 5, transparent): it changes no mass, no
    inertia, no contact, no trajectory (tested, bit for bit), but gives every
    shape's model the geoms, bounding volumes and so ``MjData`` layout of every
    other, which ``Batch.set_models`` needs to step models of several shapes
    together.
    """
    import mujoco

    if geoms < len(product_shape.parts):
        raise ValueError(
            f"product {product_shape.name!r} has {len(product_shape.parts)} parts, more than {geoms} geoms"
        )
    spec = mujoco.MjSpec.from_file(asset_path(WarehouseEnv.model_file))
    # The scene's placeholder inertial gives way to the inertia of the product's geoms.
    spec.compiler.inertiafromgeom = mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_TRUE
    body = spec.body("product")
    for index, part in enumerate(product_shape.parts):
        body.add_geom(
            name=f"product_{index}",
            type=getattr(mujoco.mjtGeom, f"mjGEOM_{part.geom.upper()}"),
            size=[*part.size, 0.0, 0.0][:3],
            pos=list(part.pos),
            quat=list(_LYING) if part.geom == "capsule" else [1.0, 0.0, 0.0, 0.0],
            density=MATERIALS[product_shape.material].density,
            friction=[product_shape.friction, 0.005, 0.0001],
            rgba=list(_CLASS_COLOURS[product_shape.shape_class]),
            contype=3,
            conaffinity=3,
        )
    for index in range(len(product_shape.parts), geoms):
        body.add_geom(
            name=f"product_pad_{index}",
            type=mujoco.mjtGeom.mjGEOM_SPHERE,
            size=[_PAD_RADIUS, 0.0, 0.0],
            pos=list(product_shape.parts[0].pos),
            mass=0.0,
            contype=0,
            conaffinity=_PAD_AFFINITY,
            group=5,
            rgba=[0.0, 0.0, 0.0, 0.0],
        )
    model = spec.compile()
    product = model.body("product").id
    first_geom = int(model.body_geomadr[product])
    return ShapeModel(
        model=model,
        mass=float(model.body_mass[product]),
        inertia=model.body_inertia[product].copy(),
        product_body=product,
        product_geoms=slice(first_geom, first_geom + len(product_shape.parts)),
        goal_site=model.site("goal").id,
    )


def write_task(model: Any, params: Mapping[str, ParamValue], scratch: Any) -> None:
    """Write a task's mass, friction and goal into ``model``, a copy of its shape's compiled model, in place.

    ``scratch`` is an ``MjData`` of the layout for ``mj_setConst`` to work in.
    """
    import mujoco

    shape = str(params["shape"])
    compiled, product = shape_model(shape), CATALOGUE[shape]
    mass = product.mass * float(params["mass_scale"])
    model.body_mass[compiled.product_body] = mass
    model.body_inertia[compiled.product_body] = compiled.inertia * (mass / compiled.mass)
    model.geom_friction[compiled.product_geoms, 0] = product.friction * float(params["friction_scale"])
    model.site_pos[compiled.goal_site, :2] = goal_position(params)
    mujoco.mj_setConst(model, scratch)  # constants derived from masses (the solver's inverse weights)


# ---------------------------------------------------------------------- the family

_TRAINING_OCTAVES = 1.0  # training masses and frictions: the catalogued value times 2**U(-1, 1)
_NOVEL_CLASS_DISTANCE = 2.0
# Scales this close to the training range's edge count as inside it: 2**u can land one rounding error outside.
_SUPPORT_TOLERANCE = 1e-9
GOAL_RADIUS = 0.05  # m: success when the product's centre is this close to the goal at the last step
PUSHER_RADIUS = 0.015  # m, as in warehouse.xml
MAX_SPEED = 0.4  # m/s asked of the pusher by a unit action, as in warehouse.xml
# The oracle pushes when this close (angle round the product) to the line behind it, repositions when further,
# and circles round the product beyond _ORACLE_CIRCLE.
_ORACLE_CIRCLE = math.radians(45.0)
_ORACLE_PUSH_SLOPE = math.tan(math.radians(20.0))
_ORACLE_ON_LINE = 0.01


def _octaves_outside_training(scale: float) -> float:
    excess = abs(math.log2(scale)) - _TRAINING_OCTAVES
    return excess if excess > _SUPPORT_TOLERANCE else 0.0


def goal_position(params: Mapping[str, ParamValue]) -> tuple[float, float]:
    """The goal's (x, y) on the table, from the task's polar goal parameters."""
    angle = math.radians(float(params["goal_angle"]))
    distance = float(params["goal_distance"])
    return distance * math.cos(angle), distance * math.sin(angle)


class Warehouse(TaskFamily):
    """Push one of 50 catalogued product shapes to a goal on a table (MuJoCo)."""

    horizon = 100
    trusted_sampler = True  # known shapes at training masses, frictions and goals
    training_doc = (
        "shape uniform over the 50 known products (box, cyl, capsule, ellipsoid, l); mass and friction the "
        "catalogued values times 2**U(-1, 1) each; goal direction U(-180, 180) deg at U(0.15, 0.3) m"
    )
    distance_unit = (
        "octaves of mass and friction outside the training range [1/2, 2] x catalogued (Euclidean over the two), "
        f"+ {_NOVEL_CLASS_DISTANCE:g} for a shape class never trained on"
    )
    space = ParameterSpace(
        (
            Categorical(
                "shape",
                tuple(CATALOGUE),
                default=KNOWN_SHAPES[0],
                doc="catalogued product (see the catalogue below); T-shapes are held out of training",
            ),
            Continuous("mass_scale", 0.25, 4.0, default=1.0, doc="multiplies the product's catalogued mass"),
            Continuous("friction_scale", 0.25, 4.0, default=1.0, doc="multiplies the product's catalogued friction"),
            Continuous(
                "goal_angle", -180.0, 180.0, default=0.0, unit="deg", doc="direction of the goal from the start"
            ),
            Continuous(
                "goal_distance", 0.15, 0.3, default=0.2, unit="m", doc="distance of the goal from the start (centre)"
            ),
        )
    )
    ood_levels = (
        OODLevel("near", 0.1, 0.5, "known shapes; mass or friction 0.1-0.5 octaves outside the training range"),
        OODLevel(
            "far", 0.5, 2.0, "known shapes; mass or friction 0.5-1.41 octaves outside the training range (both: sqrt 2)"
        ),
        OODLevel(
            "novel-class",
            _NOVEL_CLASS_DISTANCE,
            4.0,
            "T-shapes, a class never trained on, at training masses and frictions",
        ),
    )

    def sample_training_params(self, rng: np.random.Generator) -> dict[str, ParamValue]:
        return self._sample_params(KNOWN_SHAPES[int(rng.integers(len(KNOWN_SHAPES)))], rng)

    def _sample_params(
        self, shape: str, rng: np.random.Generator, octaves: float = _TRAINING_OCTAVES
    ) -> dict[str, Any]:
        # rng.uniform(-octaves, octaves, size=2)'s draws and arithmetic (its high - low is 2 * octaves exactly).
        mass_octaves, friction_octaves = -octaves + 2.0 * octaves * rng.random(2)
        return {
            "shape": shape,
            "mass_scale": float(2.0**mass_octaves),
            "friction_scale": float(2.0**friction_octaves),
            "goal_angle": uniform(rng, -180.0, 180.0),
            "goal_distance": uniform(rng, 0.15, 0.3),
        }

    def propose_ood_params(self, rng: np.random.Generator) -> dict[str, ParamValue]:
        # A third of the proposals are T-shapes at training dynamics; the rest known shapes with mass and
        # friction up to two octaves off (each outside the training range half of the time).
        if rng.random() < 1.0 / 3.0:
            return self._sample_params(NOVEL_SHAPES[int(rng.integers(len(NOVEL_SHAPES)))], rng)
        return self._sample_params(KNOWN_SHAPES[int(rng.integers(len(KNOWN_SHAPES)))], rng, octaves=2.0)

    def distance(self, params: Mapping[str, ParamValue]) -> float:
        dynamics = math.hypot(
            _octaves_outside_training(float(params["mass_scale"])),
            _octaves_outside_training(float(params["friction_scale"])),
        )
        novel = CATALOGUE[str(params["shape"])].shape_class in _HELD_OUT_CLASSES
        return dynamics + (_NOVEL_CLASS_DISTANCE if novel else 0.0)

    def disjointness_key(self, task: Task) -> Any:
        """Meta-test tasks are new *shapes*, not just new goals for a trained shape."""
        return task["shape"]

    def _distinct_training_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        # Stratified by class: shapes shuffled within each class, then dealt round-robin over the classes in
        # a shuffled order, so that any prefix (the training tasks) and the slice after it (the test tasks)
        # cover the classes evenly: 40 train / 10 test holds out two shapes of each class.
        classes = [c.name for c in SHAPE_CLASSES if not c.held_out]
        by_class = [[s for s in KNOWN_SHAPES if CATALOGUE[s].shape_class == c] for c in classes]
        for shapes in by_class:
            rng.shuffle(shapes)
        order = [by_class[i] for i in rng.permutation(len(by_class))]
        dealt = [shapes[k] for k in range(max(map(len, order))) for shapes in order if k < len(shapes)]
        if n > len(dealt):
            raise InvalidTaskError(
                f"{self.name}: asked for {n} distinct training tasks but there are only {len(dealt)} known shapes; "
                f"ask for fewer (n_train + n_test <= {len(dealt)})"
            )
        return [self.task(**self._sample_params(shape, rng)) for shape in dealt[:n]]

    def oracle_policy(self, task: Task) -> Policy:
        """Go behind the product (seen from the goal), push it along the line, re-approach when it turns away."""
        return PushingOracle(CATALOGUE[str(task["shape"])].radius, goal_position(task.params))

    def extra_sections(self) -> dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
        headers = ("shape", "class", "size x*y*z (cm)", "material", "mass (kg)", "friction")

        def rows(names: tuple[str, ...]) -> list[tuple[Any, ...]]:
            return [
                (
                    name,
                    CATALOGUE[name].shape_class,
                    "*".join(f"{100 * e:.1f}" for e in CATALOGUE[name].extent),
                    CATALOGUE[name].material,
                    f"{CATALOGUE[name].mass:.3f}",
                    f"{CATALOGUE[name].friction:g}",
                )
                for name in names
            ]

        return {
            f"Catalogue: the {len(KNOWN_SHAPES)} known shapes": (headers, rows(KNOWN_SHAPES)),
            f"Held-out class: the {len(NOVEL_SHAPES)} T-shapes (novel-class OOD level)": (headers, rows(NOVEL_SHAPES)),
        }


class PushingOracle:
    """Scripted pusher: circle round the product to its far side from the goal, then push it through its centre.

    It knows the product's enclosing radius and the goal; it reads the pusher and product positions from
    the observation (entries 0-1 and 4-5, whatever the task encoding after them).
    """

    def __init__(self, radius: float, goal: tuple[float, float]) -> None:
        self.goal = np.array(goal)
        self.clearance = radius + PUSHER_RADIUS + 0.02  # orbit radius: the pusher passes the product untouched

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        pusher, product = obs[0:2].astype(np.float64), obs[4:6].astype(np.float64)
        to_goal = self.goal - product
        remaining = math.hypot(*to_goal)
        if remaining < 0.01:
            return np.zeros(2, dtype=np.float32)
        push = to_goal / remaining
        side = np.array([-push[1], push[0]])
        offset = pusher - product
        distance = max(math.hypot(*offset), 1e-6)
        # angle of the pusher round the product, measured from the push point behind it
        off_line = math.atan2(-float(offset @ side), -float(offset @ push))
        if abs(off_line) > _ORACLE_CIRCLE:
            outward = offset / distance
            clockwise = np.array([outward[1], -outward[0]])
            # back away first: circling while touching the product would drag it along
            circling = MAX_SPEED * min(1.0, max(0.0, 1.0 - (self.clearance - distance) / 0.02))
            return self._action(
                math.copysign(circling, off_line) * clockwise + 8.0 * (self.clearance - distance) * outward
            )
        along, across = float(offset @ push), float(offset @ side)
        # Off the line through the product's centre (by angle, or by a centimetre where the pusher nestles
        # close to the centre, as in an L's inner corner): go straight to the pre-push point, a chord that
        # clears the product. On the line: push, steering back onto it.
        if abs(across) > max(_ORACLE_PUSH_SLOPE * -along, _ORACLE_ON_LINE):
            return self._action(6.0 * (product - self.clearance * push - pusher))
        speed = min(0.3, max(0.05, 2.0 * remaining))  # slow down near the goal: the product slides on
        return self._action(speed * push - 6.0 * across * side)

    @staticmethod
    def _action(velocity: np.ndarray) -> np.ndarray:
        velocity /= MAX_SPEED
        largest = float(np.max(np.abs(velocity)))
        if largest > 1.0:
            velocity /= largest
        return velocity.astype(np.float32)


# ---------------------------------------------------------------------- one env's or many: the same arithmetic


def place_start(qpos: np.ndarray, rng: np.random.Generator) -> None:
    """Write an episode's start into ``qpos`` (reset): the product at the centre with a random yaw, the pusher
    0.2 m from it in a random direction."""
    yaw, direction = rng.uniform(-math.pi, math.pi, size=2)
    qpos[0], qpos[1] = 0.2 * math.cos(direction), 0.2 * math.sin(direction)
    qpos[5] = yaw


def pushing_observation(qpos: Any, qvel: Any) -> tuple[Any, ...]:
    """The observation's 11 entries (float64) from the 6 joint positions and velocities: floats, or columns.

    The same NumPy functions on a float as on an array: single and batched envs agree to the bit.
    """
    pusher_x, pusher_y, product_x, product_y, _, yaw = qpos
    pusher_vx, pusher_vy, product_vx, product_vy, _, spin = qvel
    sin_yaw, cos_yaw = np.sin(yaw), np.cos(yaw)
    return (
        pusher_x,
        pusher_y,
        pusher_vx,
        pusher_vy,
        product_x,
        product_y,
        sin_yaw,
        cos_yaw,
        product_vx,
        product_vy,
        spin,
    )


def pushing_reward(
    pusher_x: Any, pusher_y: Any, product_x: Any, product_y: Any, goal_x: Any, goal_y: Any
) -> tuple[Any, Any]:
    """``(reward, distance of the product to the goal)`` from positions (float64): floats, or columns.

    Elementwise IEEE arithmetic (square roots are correctly rounded), the same
    on a float as on an array entry: single and batched envs agree to the bit.
    """
    goal_dx, goal_dy = product_x - goal_x, product_y - goal_y
    pusher_dx, pusher_dy = pusher_x - product_x, pusher_y - product_y
    to_goal = np.sqrt(goal_dx * goal_dx + goal_dy * goal_dy)
    to_product = np.sqrt(pusher_dx * pusher_dx + pusher_dy * pusher_dy)
    return -to_goal - 0.1 * to_product, to_goal


# ---------------------------------------------------------------------- the environment


class WarehouseEnv(MujocoTaskEnv):
    """Warehouse pushing environment.

    * Observation (11 floats, plus the task encoding when ``task_observable=True``):
      pusher position (x, y) and velocity; product position (x, y), yaw as
      (sin, cos), velocity (x, y) and yaw rate. The goal is not observed.
    * Action: the pusher's velocity (x, y) in [-1, 1]², times 0.4 m/s, tracked
      by force-limited servos.
    * Reward: ``-distance(product, goal) - 0.1 * distance(pusher, product)`` (m).
    * Episode: the product starts at the table's centre with a random yaw, the
      pusher 0.2 m from it in a random direction; truncated after 100 steps of
      40 ms. Success: the product's centre within 0.05 m of the goal at the last step.
    * Info: ``success`` and ``distance_to_goal``.

    A task of another shape swaps in that shape's model (compiled once per
    process, copied once per env); mass, friction and the goal are written into
    the model in place.

    Version history: v0, initial release.
    """

    family_class: ClassVar[type[TaskFamily]] = Warehouse
    model_file = "warehouse.xml"
    frame_skip = 4
    camera = "overview"

    def __init__(
        self,
        family: str | TaskFamily = "warehouse",
        task: TaskLike | None = None,
        render_mode: str | None = None,
        task_observable: bool = False,
        width: int = 480,
        height: int = 480,
    ) -> None:
        super().__init__(family, task, render_mode, task_observable, width, height)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        # Bounds no intact simulation reaches (MujocoTaskEnv treats leaving them as divergence): the walls at
        # 0.5 m hold both bodies; the pusher tracks at most 0.4 m/s and cannot throw a product much faster.
        position, speed, spin = 0.6, 5.0, 100.0
        high = np.array([position] * 2 + [speed] * 2 + [position] * 2 + [1.0] * 2 + [speed] * 2 + [spin], np.float32)
        self.base_observation_space = gym.spaces.Box(-high, high, dtype=np.float32)
        # The shapes this env has simulated: switching back to one reuses its model and data.
        self._simulations: dict[str, tuple[Any, Any]] = {}
        self._shape: str | None = None
        self._goal = (0.0, 0.0)
        self._finish_init()

    def _configure(self, task: Task) -> None:
        shape = str(task["shape"])
        if shape != self._shape:
            if shape not in self._simulations:  # first time in this env: copy the compiled model
                model = copy.copy(shape_model(shape).model)
                self._simulations[shape] = (model, self._mujoco.MjData(model))
            self.set_model(*self._simulations[shape])
            self._shape = shape
        write_task(self.model, task.params, self.data)
        self._goal = goal_position(task.params)

    def _reset_state(self) -> tuple[np.ndarray, dict[str, Any]]:
        self._reset_physics()
        place_start(self.data.qpos, self.np_random)
        return self._start_episode()

    def _set_control(self, action: np.ndarray) -> None:
        self.data.ctrl[:] = action

    def _observation(self) -> np.ndarray:
        # Plain floats: indexing a list is several times cheaper than indexing MjData's arrays.
        return np.array(pushing_observation(self.data.qpos.tolist(), self.data.qvel.tolist()), dtype=np.float32)

    def _evaluate(self, obs: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        pusher_x, pusher_y, _, _, product_x, product_y = obs[:6].tolist()
        reward, to_goal = pushing_reward(pusher_x, pusher_y, product_x, product_y, *self._goal)
        return float(reward), False, {"success": bool(to_goal <= GOAL_RADIUS), "distance_to_goal": float(to_goal)}

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        # the other shapes' simulations are a cache: a copy carries the current one only
        state["_simulations"] = {self._shape: (self.model, self.data)} if self._shape else {}
        return state


class WarehouseVectorEnv(MujocoTaskVectorEnv):
    """N warehouse sub-envs, each on its own task (any mix of shapes), stepped together by one MuJoCo batch.

    ``gym.make_vec("tasksuite/Warehouse-v0", num_envs=N,
    vectorization_mode="vector_entry_point", tasks=[...])``: bit for bit the
    trajectories of ``SyncVectorEnv`` over :class:`WarehouseEnv`; arguments,
    threads, autoreset and divergence as in
    :class:`~tasksuite.core.mujoco_env.MujocoTaskVectorEnv`. Every sub-env
    simulates its own copy of its shape's compiled model, into which
    :func:`write_task` writes mass, friction and goal in place; all shapes
    share one ``MjData`` layout (:func:`compile_scene`), so one batch steps
    them all. A sub-env moving to another shape leaves its model to whichever
    sub-env next takes that shape: once every shape in use has met its
    largest number of simultaneous sub-envs, switching tasks neither compiles
    nor copies a model (at most ``num_envs`` copies per shape are ever made).
    """

    env_class = WarehouseEnv

    def __init__(self, family: str | TaskFamily = "warehouse", num_envs: int = 1, **kwargs: Any) -> None:
        import mujoco

        template = shape_model(KNOWN_SHAPES[0]).model
        super().__init__(family, num_envs, template, **kwargs)
        self._scratch = mujoco.MjData(template)  # shared by every model's mj_setConst (one layout for all)
        self._shapes: list[str | None] = [None] * self.num_envs
        self._own_models: list[Any] = [None] * self.num_envs
        self._spare_models: dict[str, list[Any]] = {}  # by shape: models no sub-env simulates now
        self._goals = np.zeros((self.num_envs, 2))
        self._finish_init()

    def _configure(self, index: int, task: Task) -> None:
        shape = str(task["shape"])
        if shape != self._shapes[index]:
            left = self._shapes[index]
            if left is not None:
                self._spare_models.setdefault(left, []).append(self._own_models[index])
            spare = self._spare_models.get(shape)
            self._own_models[index] = spare.pop() if spare else copy.copy(shape_model(shape).model)
            self._shapes[index] = shape
        write_task(self._own_models[index], task.params, self._scratch)
        self._goals[index] = goal_position(task.params)
        self._simulate(index, self._own_models[index])

    def _reset_state(self, indices: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        self._reset_physics(indices)
        for index, rng in zip(indices, rngs, strict=True):  # each sub-env's generator, drawn as by a single env
            place_start(self._qpos[index], rng)
        return self._start_episodes(indices)

    def _observation(self, rows: slice | np.ndarray) -> np.ndarray:
        columns = pushing_observation(self._qpos[rows].T, self._qvel[rows].T)
        obs = np.empty((len(columns[0]), len(columns)), dtype=np.float32)
        obs.T[...] = columns  # a third of np.stack's cost for few sub-envs
        return obs

    def _evaluate(self, obs: np.ndarray, rows: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        # From the float32 observation in double precision, as the single env's Python floats.
        pusher_x, pusher_y, _, _, product_x, product_y = obs[:, :6].T.astype(np.float64)
        reward, to_goal = pushing_reward(pusher_x, pusher_y, product_x, product_y, *self._goals[rows].T)
        terminated = np.zeros(len(reward), dtype=bool)
        return reward, terminated, {"success": to_goal <= GOAL_RADIUS, "distance_to_goal": to_goal}
