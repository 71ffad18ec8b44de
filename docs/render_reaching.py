"""Render one picture of the reaching family per split: docs/images/reaching-<split>.png.

Each picture shows the oracle holding the target at the end of an episode of
the published ``reaching-meta`` benchmark: a test task, then, for each OOD
level, the task of that level whose target lies farthest outside the training
box (translucent blue). The red sphere is the target with the success radius;
the blue ball at the hand is the payload (a steel ball of the task's mass).

Rerun with ``python docs/render_reaching.py`` (headless: MUJOCO_GL=egl).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import tasksuite
from tasksuite.core.io import atomic_write
from tasksuite.core.task import Task
from tasksuite.families.reaching import TRAINING_TARGETS, target_of

IMAGES = Path(__file__).resolve().parent / "images"


def pictured_tasks() -> dict[str, Task]:
    benchmark = tasksuite.make_benchmark("reaching-meta")
    chosen = {"test": benchmark.test_tasks[0]}
    for level, tasks in benchmark.splits.ood_levels.items():
        chosen[level] = max(tasks, key=lambda task: TRAINING_TARGETS.distance(target_of(task.params)))
    return chosen


def render(task: Task) -> object:
    family = tasksuite.get_family("reaching")
    env = family.make_env(task, render_mode="rgb_array", width=640, height=480)
    obs, _ = env.reset(seed=0)
    oracle = family.oracle_policy(task)
    for _ in range(family.horizon):
        obs, *_ = env.step(oracle(obs))
    frame = env.render()
    env.close()
    return frame


def caption(split: str, task: Task) -> str:
    x, y, z = target_of(task.params)
    where = "training distribution" if task.ood_level is None else f"OOD level {split}, distance {task.distance:.2f}"
    return (
        f"reaching: {where}\ntarget ({x:.2f}, {y:.2f}, {z:.2f}) m, payload {task['payload_mass']:.2f} kg, "
        f"damping {task['joint_damping']:.2f}, gain {task['actuator_gain']:.2f}"
    )


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    for split, task in pictured_tasks().items():
        figure, axes = plt.subplots(figsize=(6.4, 5.2), dpi=100)
        axes.imshow(render(task))
        axes.set_axis_off()
        axes.set_title(caption(split, task), fontsize=9)
        figure.tight_layout()
        path = IMAGES / f"reaching-{split}.png"
        atomic_write(path, lambda handle, figure=figure: figure.savefig(handle, format="png"))
        plt.close(figure)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
