"""Reports a reviewer accepts: a fixed style per method, figures that name what they show, and an
interpretation paragraph written from the numbers."""

import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from tasksuite.evaluation import evaluate
from tasksuite.evaluation.report import MethodNumbers, interpretation, report_figures
from tasksuite.evaluation.style import FALLBACK_COLORS, METHOD_STYLES, method_style

CHEAP = {"seeds": 1, "workers": 1, "progress": False, "max_tasks": 3}


def agg(iqm, low, high, distance=0.0):
    return {"iqm": iqm, "low": low, "high": high, "distance": distance, "success": 0.5}


# ---------------------------------------------------------------------- style


def test_reference_methods_keep_their_style_under_any_spelling():
    assert method_style("maml") == method_style("MAML") == METHOD_STYLES["maml"]
    assert method_style("rl2") == method_style("RL²") == method_style("RL2")
    assert method_style("multitask") == method_style("multi-task PPO")
    assert method_style("in-context transformer") == METHOD_STYLES["transformer"]
    reserved = [style.color for style in METHOD_STYLES.values()]
    assert len(set(reserved)) == len(reserved), "two reference methods share a colour"


def test_other_methods_get_a_stable_colour_that_no_reference_method_uses():
    names = [f"agent-{i}" for i in range(40)]
    styles = [method_style(name) for name in names]
    reserved = {style.color for style in METHOD_STYLES.values()}
    assert all(s.color in FALLBACK_COLORS and s.color not in reserved for s in styles)
    assert len({s.color for s in styles}) > 3 and all(s.label == n for s, n in zip(styles, names, strict=True))
    # The same in another process (str hashes are salted per process; the style must not be).
    code = "from tasksuite.evaluation.style import method_style; s = method_style('agent-7'); print(s.color, s.marker)"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert other == [styles[7].color, styles[7].marker]


# ---------------------------------------------------------------------- figures


@pytest.fixture(scope="module")
def adapting_run(tmp_path_factory):
    """A goal-finding agent (adapts in one episode, fails out of distribution) on navigation-meta, K = 1."""
    out = tmp_path_factory.mktemp("goal-finder")
    summary = evaluate(out, "evaluation_agents:goal_finder", "navigation-meta", "ood-sweep", adapt_episodes=1, **CHEAP)
    return summary, out


def _assert_readable(figure, title_parts):
    ax = figure.axes[0]
    assert ax.get_legend() is not None and ax.get_legend().get_texts()
    assert ax.get_xlabel() and ax.get_ylabel()
    assert all(part in ax.get_title() for part in title_parts), ax.get_title()
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., :3]
    drawn = np.any(pixels < 250, axis=-1).mean()
    assert drawn > 0.05, f"figure nearly blank ({drawn:.1%} of the pixels drawn)"


def test_every_figure_is_drawn_titled_and_labelled(adapting_run):
    summary, out = adapting_run
    config = json.loads((out / "config.json").read_text())
    figures = report_figures(summary, config)
    assert set(figures) == {"adaptation", "ood"}
    for figure in figures.values():
        _assert_readable(figure, ["goal_finder", "navigation-meta"])
    assert "(" in figures["ood"].axes[0].get_xlabel(), "the distance axis names the family's unit"
    transfer = {
        "tolerance": 0.05,
        "tasks": [
            {"task_id": "a", "label": "shape=box", "all": 0.9, "single": 0.5, "negative_transfer": False},
            {"task_id": "b", "label": "shape=cyl", "all": 0.2, "single": 0.8, "negative_transfer": True},
        ],
    }
    figures = report_figures({"protocols": {"transfer": transfer}}, {**config, "method": "multitask"})
    _assert_readable(figures["transfer"], ["multi-task PPO", "navigation-meta"])


def test_no_adaptation_plot_without_adaptation_episodes(tmp_path):
    evaluate(tmp_path, "tasksuite.evaluation.agents:random", "navigation-meta", "ood-sweep", adapt_episodes=0, **CHEAP)
    assert not (tmp_path / "plots" / "adaptation.png").exists() and (tmp_path / "plots" / "ood.png").exists()
    assert "plots/adaptation.png" not in (tmp_path / "report.md").read_text()


# ---------------------------------------------------------------------- interpretation


def test_the_report_opens_with_what_the_numbers_say(adapting_run):
    summary, out = adapting_run
    report = (out / "report.md").read_text().splitlines()
    assert report[0] == "# goal_finder on navigation-meta"
    paragraph = report[2]
    assert paragraph.startswith("**goal_finder** on `navigation-meta` adapts:")
    gain = summary["protocols"]["ood-sweep"]["gains"]["test"]
    assert gain["low"] > 0.5 and f"a gain of {gain['iqm']:+.3f}" in paragraph
    assert "drops below its test score already at near" in paragraph
    assert "one trained agent" in "\n".join(report[3:6])  # the caveat of a single agent


def test_interpretation_of_two_methods_states_ranking_ood_and_caveats():
    maml = MethodNumbers(
        "maml",
        "navigation-meta",
        10,
        {"test": agg(0.76, 0.70, 0.80), "near": agg(0.45, 0.40, 0.50, 0.29), "far": agg(0.36, 0.30, 0.42, 0.90)},
        pre=agg(0.32, 0.28, 0.36),
        gain=agg(0.44, 0.40, 0.48),
        training_seeds=3,
    )
    rl2 = MethodNumbers(
        "rl2",
        "navigation-meta",
        2,
        {"test": agg(0.79, 0.74, 0.83), "near": agg(-1.21, -1.5, -0.9, 0.29), "far": agg(-0.63, -0.8, -0.4, 0.9)},
        pre=agg(0.79, 0.75, 0.82),
        gain=agg(0.01, -0.02, 0.03),
        training_seeds=1,
    )
    text = interpretation([maml, rl2])
    assert "**MAML** on `navigation-meta` adapts: 0.320 [0.280, 0.360] in the first episode" in text
    assert "a gain of +0.440 [+0.400, +0.480]" in text
    assert "**RL²** on `navigation-meta` shows no measurable adaptation (the interval contains 0)" in text
    assert "below random (the whole interval under 0) at near, far" in text
    assert "not monotone in distance: near scores below the farther far" in text
    assert "RL² and MAML overlap, so no ranking between them is claimed" in text
    caveats = text.split("**Caveats.**")[1]
    assert "RL²: one training seed" in caveats and "MAML: one" not in caveats
    assert "Adaptation budgets differ (MAML K = 10, RL² K = 2)" in caveats
    assert "RL² adapts within its first episode" in caveats and "MAML adapts within" not in caveats


def test_disjoint_intervals_rank_and_a_method_that_holds_out_of_distribution_says_so():
    strong = MethodNumbers(
        "multitask",
        "b",
        0,
        {"train": agg(0.99, 0.98, 0.995), "near": agg(0.985, 0.97, 0.99, 0.25), "far": agg(1.0, 0.998, 1.0, 0.85)},
        training_seeds=3,
    )
    weak = MethodNumbers("my_agent", "b", 0, {"train": agg(0.5, 0.4, 0.6)}, training_seeds=3)
    text = interpretation([strong, weak])
    assert "scores 0.990 [0.980, 0.995] on its training tasks without adaptation (K = 0)" in text
    assert "it holds its train score out to far" in text and "not monotone" not in text  # above it holds too
    assert "multi-task PPO is above my_agent (disjoint intervals)" in text
    assert "Caveats" not in text


def test_without_a_paired_gain_the_two_intervals_decide():
    splits = {"test": agg(0.6, 0.55, 0.65)}
    adapts = MethodNumbers("maml", "b", 2, splits, pre=agg(0.3, 0.25, 0.35), training_seeds=3)
    unclear = MethodNumbers("maml", "b", 2, splits, pre=agg(0.58, 0.5, 0.6), training_seeds=3)
    assert "**MAML** on `b` adapts: " in interpretation([adapts]) and "a difference of +0.300" in interpretation(
        [adapts]
    )
    assert "shows no measurable adaptation" in interpretation([unclear])
