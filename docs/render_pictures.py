"""Render one picture per family and split: docs/images/<family>-<split>.png.

For every registered family: a test task of its first benchmark, and for each
OOD level the task of that level lying farthest from the training support,
each shown at the end of an oracle episode (the scripted controller that
defines a normalized score of 1). The family pages of the docs show them.

Rerun after changing a family: ``python docs/render_pictures.py``
(headless: MUJOCO_GL=egl, SDL_VIDEODRIVER=dummy).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import tasksuite
from tasksuite.core.io import atomic_write
from tasksuite.core.task import Task
from tasksuite.registry import benchmark_entries

IMAGES = Path(__file__).resolve().parent / "images"


def pictured_tasks(family_name: str) -> dict[str, Task]:
    """A test task, then the farthest task of each OOD level."""
    benchmark = next(b.name for b in benchmark_entries() if b.family == family_name)
    splits = tasksuite.make_benchmark(benchmark).splits
    chosen = {"test": splits.test[0]}
    for level, tasks in splits.ood_levels.items():
        chosen[level] = max(tasks, key=lambda task: task.distance)
    return chosen


def oracle_frame(family_name: str, task: Task) -> np.ndarray:
    """The last frame of an oracle episode of ``task``."""
    family = tasksuite.get_family(family_name)
    env = family.make_env(task, render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    oracle = family.oracle_policy(task)
    for _ in range(family.horizon):
        obs, _, terminated, truncated, _ = env.step(oracle(obs))
        if terminated or truncated:
            break
    frame = env.render()
    env.close()
    return frame


def caption(family_name: str, split: str, task: Task) -> str:
    where = (
        "training distribution (test task)" if task.ood_level is None else f"OOD {split}: distance {task.distance:.2f}"
    )
    values = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in task.params.items())
    return f"{family_name}, {where}\n" + textwrap.fill(values, width=70)


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    for family_name in tasksuite.list_families():
        for split, task in pictured_tasks(family_name).items():
            figure, axes = plt.subplots(figsize=(5.2, 5.4), dpi=100)
            axes.imshow(oracle_frame(family_name, task))
            axes.set_axis_off()
            axes.set_title(caption(family_name, split, task), fontsize=8)
            figure.tight_layout()
            path = IMAGES / f"{family_name}-{split}.png"
            atomic_write(path, lambda handle, figure=figure: figure.savefig(handle, format="png"))
            plt.close(figure)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
