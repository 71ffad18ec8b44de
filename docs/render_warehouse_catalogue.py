"""Render the warehouse family's product catalogue and scene for the docs.

Writes, under ``docs/images/``:

* ``warehouse-catalogue.png``: the 50 known shapes, one row per class;
* ``warehouse-t-shapes.png``: the held-out T-shapes (the ``novel-class`` OOD level);
* ``warehouse-scene.png``: the table midway through an oracle episode.

Run from the repository root: ``MUJOCO_GL=egl python docs/render_warehouse_catalogue.py``
(headless; ``osmesa`` works too, and with a display nothing needs setting).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mujoco
import numpy as np
from tqdm import tqdm

import tasksuite
from tasksuite.families.warehouse import CATALOGUE, KNOWN_SHAPES, NOVEL_SHAPES, shape_model

TILE = 240  # pixels
COLUMNS = 10  # two sizes x five proportions: one class per row


def render_product(name: str) -> np.ndarray:
    """A close-up of product ``name`` alone on the table, at a fixed yaw, seen from above at an angle."""
    model = shape_model(name).model
    data = mujoco.MjData(model)
    data.qpos[:2] = 0.45  # the pusher out of the picture, in the table's far corner
    data.qpos[5] = np.radians(25.0)
    mujoco.mj_forward(model, data)
    camera = mujoco.MjvCamera()
    camera.lookat[:] = (0.0, 0.0, 0.02)
    camera.distance, camera.azimuth, camera.elevation = 0.27, -60.0, -50.0
    hide_goal = mujoco.MjvOption()
    hide_goal.sitegroup[:] = 0
    with mujoco.Renderer(model, TILE, TILE) as renderer:
        renderer.update_scene(data, camera=camera, scene_option=hide_goal)
        return renderer.render()


def grid(names: tuple[str, ...], path: Path, title: str) -> None:
    rows = -(-len(names) // COLUMNS)
    figure, axes = plt.subplots(rows, COLUMNS, figsize=(COLUMNS * 1.9, rows * 2.05), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for index, name in enumerate(tqdm(names, desc=path.name, unit="shape")):
        axis, product = axes.flat[index], CATALOGUE[name]
        axis.imshow(render_product(name))
        size = " x ".join(f"{100 * e:.1f}" for e in product.extent)
        axis.set_title(f"{name}\n{size} cm, {1000 * product.mass:.0f} g", fontsize=8)
    figure.suptitle(title, fontsize=12)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def scene(path: Path) -> None:
    family = tasksuite.get_family("warehouse")
    task = family.task(shape="l-large-even", goal_angle=35.0, goal_distance=0.28)
    env = family.make_env(task, render_mode="rgb_array", width=640, height=480)
    oracle = family.oracle_policy(task)
    obs, _ = env.reset(seed=1)
    for _ in range(28):  # mid-push
        obs, *_ = env.step(oracle(obs))
    plt.imsave(path, env.render())
    env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"), help="folder (default: docs/images)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    grid(KNOWN_SHAPES, args.out / "warehouse-catalogue.png", "tasksuite warehouse: the 50 known product shapes")
    grid(NOVEL_SHAPES, args.out / "warehouse-t-shapes.png", "Held out of training: the T-shapes (novel-class)")
    scene(args.out / "warehouse-scene.png")


if __name__ == "__main__":
    main()
