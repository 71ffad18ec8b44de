"""From saved episode records to numbers and pictures: ``summary.json``, ``report.md`` and ``plots/``.

Everything here reads the results folder only (config, references, unit
files), so ``tasksuite report DIR`` redraws a report anywhere, and a resumed
run reports exactly what an uninterrupted one does.

Scores: a (task, seed) score is the mean normalized return of the trial's
evaluation episodes; a split's aggregate is the IQM of its scores with a 95 %
bootstrap interval (:mod:`tasksuite.evaluation.scores`).
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from tasksuite.core.errors import IntegrityError
from tasksuite.core.io import atomic_write, atomic_write_json, atomic_write_text
from tasksuite.evaluation.references import Reference
from tasksuite.evaluation.results import ResultsDir, to_jsonl
from tasksuite.evaluation.scores import CONFIDENCE, aggregate, is_degenerate, normalize

#: The all-task agent shows negative transfer on a task when it scores this much below the single-task agent.
TRANSFER_TOLERANCE = 0.05
#: Below this single-task score a transfer ratio is meaningless (division by ~0) and is left out.
RATIO_FLOOR = 0.05

Records = list[dict[str, Any]]


# ---------------------------------------------------------------------- summary


def summarize(
    config: dict[str, Any], records: Records, references: dict[str, Reference], errors: Records
) -> dict[str, Any]:
    """The content of ``summary.json``, from a run's config, normalized records, references and errors."""
    sections: dict[str, Any] = {}
    for protocol in config["protocols"]:
        if protocol == "transfer":
            sections[protocol] = _transfer_summary(records)
            continue
        splits = ["train"] if protocol == "multi-task" else ["test"]
        if protocol == "ood-sweep":
            splits += config["ood_levels"]
        section: dict[str, Any] = {"splits": {s: split_summary(records, s) for s in splits}}
        if protocol != "multi-task":
            section["curves"] = {s: adaptation_curve(records, s) for s in splits}
        if protocol == "ood-sweep":
            distance = {r["task_id"]: r["distance"] for r in records}
            section["tasks"] = [
                {"task_id": tid, "split": split, "distance": distance[tid], "score": score}
                for split, agg in section["splits"].items()
                if agg is not None
                for tid, score in agg["per_task"].items()
            ]
        sections[protocol] = section
    return {
        "agent": config["agent"],
        "benchmark": config["benchmark"],
        "setting": config["setting"],
        "privileged": any(r["privileged"] for r in records),
        "confidence": CONFIDENCE,
        "protocols": sections,
        "units": {"finished": len({r["unit"] for r in records}), "failed": len(errors)},
        "errors": errors,
        "degenerate_references": sorted(tid for tid, ref in references.items() if is_degenerate(ref)),
    }


def normalized_records(records: Records, references: dict[str, Reference]) -> Records:
    """The records with ``normalized`` return added (``None`` where the task's references are degenerate)."""
    out = []
    for record in records:
        reference = references[record["task_id"]]
        score = None if is_degenerate(reference) else normalize(record["ret"], reference)
        out.append({**record, "normalized": score})
    return out


def _scores(records: Records, split: str, variant: str = "agent") -> dict[str, list[float]]:
    """Per task, one score per seed: the mean normalized return of the evaluation episodes."""
    by_trial: dict[tuple[str, int], list[float]] = defaultdict(list)
    for r in records:
        if r["split"] == split and r["variant"] == variant and not r["adaptation"] and r["normalized"] is not None:
            by_trial[(r["task_id"], r["seed"])].append(r["normalized"])
    per_task: dict[str, list[float]] = defaultdict(list)
    for (task_id, _seed), values in sorted(by_trial.items()):
        per_task[task_id].append(float(np.mean(values)))
    return dict(per_task)


def split_summary(records: Records, split: str, variant: str = "agent") -> dict[str, Any] | None:
    """One split's aggregate (IQM, CI, mean distance, success rate, per-task scores) from normalized
    records; ``None`` when no record of the split has a score. Runs are told apart by ``seed``."""
    scores = _scores(records, split, variant)
    if not scores:
        return None
    chosen = [r for r in records if r["split"] == split and r["variant"] == variant and not r["adaptation"]]
    return {
        **aggregate(scores).to_dict(),
        "distance": float(np.mean([r["distance"] for r in chosen])),
        "success": float(np.mean([r["success"] for r in chosen])),
        "per_task": {tid: float(np.mean(values)) for tid, values in scores.items()},
    }


def adaptation_curve(records: Records, split: str) -> list[dict[str, Any]]:
    """IQM and CI of the normalized return at each episode index of the trials (adaptation episodes first)."""
    by_episode: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    adaptation: dict[int, bool] = {}
    for r in records:
        if r["split"] == split and r["variant"] == "agent" and r["normalized"] is not None:
            by_episode[r["episode"]][r["task_id"]].append(r["normalized"])
            adaptation[r["episode"]] = r["adaptation"]
    return [
        {"episode": index, "adaptation": adaptation[index], **aggregate(by_episode[index]).to_dict()}
        for index in sorted(by_episode)
    ]


def _transfer_summary(records: Records) -> dict[str, Any]:
    everything = _scores(records, "train", "all")
    alone = _scores(records, "train", "single")
    labels = task_labels({r["task_id"]: r["params"] for r in records if r["variant"] == "all"})
    tasks = []
    for tid in sorted(set(everything) & set(alone)):
        score_all, score_single = float(np.mean(everything[tid])), float(np.mean(alone[tid]))
        tasks.append(
            {
                "task_id": tid,
                "label": labels[tid],
                "all": score_all,
                "single": score_single,
                "ratio": score_all / score_single if score_single > RATIO_FLOOR else None,
                "negative_transfer": score_all < score_single - TRANSFER_TOLERANCE,
            }
        )
    return {
        "tolerance": TRANSFER_TOLERANCE,
        "all": aggregate(everything).to_dict() if everything else None,
        "single": aggregate(alone).to_dict() if alone else None,
        "tasks": tasks,
        "negative_transfer": [t["task_id"] for t in tasks if t["negative_transfer"]],
    }


def task_labels(params: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Short readable names of tasks: the parameters that differ between them (else the id)."""
    varying = [name for name in next(iter(params.values()), {}) if len({str(p[name]) for p in params.values()}) > 1]
    return {
        tid: ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items() if k in varying)
        or tid
        for tid, p in params.items()
    }


# ---------------------------------------------------------------------- files


def saved_references(results: ResultsDir, config: dict[str, Any]) -> dict[str, Reference]:
    """The references saved in a results folder, each checked against the run's family and its task id."""
    references = {}
    for task_id, data in results.read_references().items():
        try:
            reference = Reference.from_dict(data)
        except IntegrityError as error:
            raise IntegrityError(f"{results.references}: {error}") from None
        found = (reference.task_id, reference.family, reference.family_version)
        if found != (task_id, config["family"], config["family_version"]):
            raise IntegrityError(
                f"{results.references}: the reference saved for {task_id} is of task {found[0]} of "
                f"{found[1]} v{found[2]}, not of this run's {config['family']} v{config['family_version']}"
            )
        references[task_id] = reference
    return references


def write_report(results: ResultsDir) -> dict[str, Any]:
    """(Re)write ``episodes.jsonl``, ``summary.json``, the plots and ``report.md``; return the summary."""
    config = results.read_config()
    references = saved_references(results, config)
    records = results.read_records()
    unmeasured = sorted({r["task_id"] for r in records} - set(references))
    if unmeasured:
        raise IntegrityError(f"{results.references} lacks the references of task(s) {unmeasured}")
    records = normalized_records(records, references)
    atomic_write_text(results.episodes, to_jsonl(records))
    summary = summarize(config, records, references, results.read_errors())
    atomic_write_json(results.summary, summary)
    plots = draw_plots(summary, config, results)
    atomic_write_text(results.report, markdown(summary, config, plots))
    return summary


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def format_interval(agg: dict[str, Any]) -> str:
    """An aggregate as ``IQM [low, high]``."""
    return f"{agg['iqm']:.3f} [{agg['low']:.3f}, {agg['high']:.3f}]"


def markdown(summary: dict[str, Any], config: dict[str, Any], plots: dict[str, str]) -> str:
    """The report as Markdown."""
    lines = [f"# {config['agent'] or config['trainer']} on {config['benchmark']}", ""]
    if summary["privileged"]:
        lines += [
            "> **Privileged reference agent**: it was shown the task in every setting; "
            "its scores are a reference, not a meta-RL result.",
            "",
        ]
    settings = [
        ("agent", f"`{config['agent']}` {config['agent_kwargs'] or ''}" if config["agent"] else "none"),
        ("benchmark", f"`{config['benchmark']}` ({config['setting']} setting, split seed {config['split_seed']})"),
        ("protocols", ", ".join(config["protocols"])),
        ("adaptation episodes (K)", config["adapt_episodes"]),
        ("evaluation episodes (E)", config["eval_episodes"]),
        ("seeds", config["seeds"]),
        ("tasks per split", config["max_tasks"] or "all"),
        ("reference episodes", config["reference_episodes"]),
    ]
    if config.get("trainer"):
        settings += [("trainer", f"`{config['trainer']}` {config['trainer_kwargs'] or ''}")]
        settings += [("budget per task", config["budget"])]
    lines += ["| setting | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in settings), ""]
    lines += [
        "Scores are normalized per task: 0 is a uniform-random policy, 1 the family's scripted oracle "
        f"(mean returns over {config['reference_episodes']} reference episodes per task). A split's score is the "
        f"interquartile mean (IQM) over tasks and seeds with its {summary['confidence']:.0%} bootstrap "
        "confidence interval, written IQM [low, high].",
        "",
    ]
    titles = {
        "multi-task": "Multi-task: the training tasks, no adaptation",
        "meta-test": f"Meta-test: test tasks, {config['adapt_episodes']} adaptation episode(s) first",
        "ood-sweep": "OOD sweep: meta-test on each out-of-distribution level",
        "transfer": "Transfer: one agent trained on all tasks vs one per task",
    }
    shown: set[str] = set()
    for protocol, section in summary["protocols"].items():
        lines += [f"## {titles[protocol]}", ""]
        if protocol == "transfer":
            lines += transfer_lines(section)
        else:
            lines += _split_lines(section)
        for name in _PLOTS_OF[protocol]:
            if name in plots and name not in shown:  # meta-test and ood-sweep share the adaptation plot
                lines += [f"![{name}]({plots[name]})", ""]
                shown.add(name)
    if summary["degenerate_references"]:
        lines += ["## Tasks without a score", "", "The oracle does not beat random on these tasks:", ""]
        lines += [f"- `{tid}`" for tid in summary["degenerate_references"]] + [""]
    if summary["errors"]:
        lines += ["## Errors", "", f"{len(summary['errors'])} unit(s) failed; the other units' results stand.", ""]
        for error in summary["errors"]:
            lines += [f"### `{error['unit']}`", "", error["error"], "", "```", error["traceback"].rstrip(), "```", ""]
    return "\n".join(lines)


def _split_lines(section: dict[str, Any]) -> list[str]:
    lines = [
        "| split | distance | tasks | runs | score IQM [95% CI] | mean | success |",
        "|---|---|---|---|---|---|---|",
    ]
    for split, agg in section["splits"].items():
        if agg is None:
            lines.append(f"| {split} | | 0 | 0 | no finished units | | |")
        else:
            lines.append(
                f"| {split} | {agg['distance']:.2f} | {agg['tasks']} | {agg['runs']} | {format_interval(agg)} "
                f"| {agg['mean']:.3f} | {agg['success']:.0%} |"
            )
    lines.append("")
    curves = {split: curve for split, curve in section.get("curves", {}).items() if curve}
    if curves:
        episodes = max(len(curve) for curve in curves.values())
        lines += ["Normalized return by episode of the trial (A: adaptation episode, E: evaluation episode):", ""]
        header = "| split | " + " | ".join(f"{i + 1}" for i in range(episodes)) + " |"
        lines += [header, "|---|" + "---|" * episodes]
        for split, curve in curves.items():
            cells = [f"{'A' if p['adaptation'] else 'E'} {p['iqm']:.2f}" for p in curve]
            lines.append(f"| {split} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def transfer_lines(section: dict[str, Any]) -> list[str]:
    """Markdown lines of a transfer summary: the aggregates and the per-task table."""
    lines = []
    if section["all"] and section["single"]:
        lines += [
            f"All-task agent {format_interval(section['all'])}; "
            f"single-task agents {format_interval(section['single'])}.",
            "",
        ]
    flagged = len(section["negative_transfer"])
    lines += [
        f"Negative transfer (all-task score more than {section['tolerance']} below single-task) "
        f"on {flagged} of {len(section['tasks'])} task(s).",
        "",
        "| task | id | all tasks | this task alone | ratio | negative transfer |",
        "|---|---|---|---|---|---|",
    ]
    for t in section["tasks"]:
        flag = "**yes**" if t["negative_transfer"] else "no"
        lines.append(
            f"| {t['label']} | `{t['task_id']}` | {t['all']:.3f} | {t['single']:.3f} | {_fmt(t['ratio'])} | {flag} |"
        )
    return [*lines, ""]


# ---------------------------------------------------------------------- plots

_PLOTS_OF = {
    "multi-task": [],
    "meta-test": ["adaptation"],
    "ood-sweep": ["adaptation", "ood"],
    "transfer": ["transfer"],
}


def draw_plots(summary: dict[str, Any], config: dict[str, Any], results: ResultsDir) -> dict[str, str]:
    """Draw the plots the summary has data for; return ``{name: path relative to the results folder}``."""
    # Figure without pyplot: no global backend, no GUI, nothing left open (the Agg canvas is built in).
    from matplotlib.figure import Figure

    drawn: dict[str, str] = {}
    protocols = summary["protocols"]
    curves: dict[str, list] = {}
    for name in ("meta-test", "ood-sweep"):
        curves.update({s: c for s, c in protocols.get(name, {}).get("curves", {}).items() if c})
    figures = {}
    if curves:
        figures["adaptation"] = _adaptation_figure(Figure(figsize=(6.4, 4.2)), curves, config)
    if protocols.get("ood-sweep", {}).get("tasks"):
        figures["ood"] = _ood_figure(Figure(figsize=(6.4, 4.2)), protocols["ood-sweep"], config)
    if protocols.get("transfer", {}).get("tasks"):
        figures["transfer"] = _transfer_figure(Figure(figsize=(6.4, 4.2)), protocols["transfer"])
    for name, figure in figures.items():
        save_png(figure, results.plots / f"{name}.png")
        drawn[name] = f"plots/{name}.png"
    return drawn


def save_png(figure: Any, path: Path) -> None:
    """Write a matplotlib figure as a PNG, atomically."""
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=120, bbox_inches="tight"))


def draw_references(ax: Any) -> None:
    """Dotted lines at the oracle's (1) and the random policy's (0) normalized score."""
    ax.axhline(1.0, color="0.4", linestyle=":", linewidth=1)
    ax.axhline(0.0, color="0.4", linestyle=":", linewidth=1)
    ax.text(1.0, 1.0, " oracle", transform=ax.get_yaxis_transform(), va="center", fontsize=8, color="0.3")
    ax.text(1.0, 0.0, " random", transform=ax.get_yaxis_transform(), va="center", fontsize=8, color="0.3")


def _adaptation_figure(figure: Any, curves: dict[str, list], config: dict[str, Any]) -> Any:
    ax = figure.subplots()
    for split, curve in curves.items():
        x = [p["episode"] + 1 for p in curve]
        ax.plot(x, [p["iqm"] for p in curve], marker="o", label=split)
        ax.fill_between(x, [p["low"] for p in curve], [p["high"] for p in curve], alpha=0.2)
    k = config["adapt_episodes"]
    if k:
        ax.axvspan(0.5, k + 0.5, color="0.92", zorder=0, label="adaptation episodes")
    draw_references(ax)
    ax.set(xlabel="episode of the trial", ylabel="normalized return (IQM, 95% CI)")
    ax.set_title(f"{config['agent'].rpartition(':')[2]} on {config['benchmark']}: adaptation curves")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    return figure


def _ood_figure(figure: Any, section: dict[str, Any], config: dict[str, Any]) -> Any:
    ax = figure.subplots()
    splits = [s for s, agg in section["splits"].items() if agg is not None]
    colors = {split: f"C{i}" for i, split in enumerate(splits)}
    for split in splits:
        points = [t for t in section["tasks"] if t["split"] == split]
        ax.scatter([t["distance"] for t in points], [t["score"] for t in points], s=14, alpha=0.5, color=colors[split])
        agg = section["splits"][split]
        ax.errorbar(
            agg["distance"],
            agg["iqm"],
            yerr=[[agg["iqm"] - agg["low"]], [agg["high"] - agg["iqm"]]],
            fmt="D",
            markersize=8,
            capsize=4,
            color=colors[split],
            markeredgecolor="black",
            label=f"{split} (IQM, 95% CI)",
        )
    draw_references(ax)
    unit = f" ({config['distance_unit']})" if config["distance_unit"] else ""
    ax.set(xlabel=textwrap.fill(f"distance from the training support{unit}", 80), ylabel="normalized score")
    ax.set_title(f"{config['benchmark']}: score vs distance (dots: tasks)")
    ax.legend(fontsize=8)
    return figure


def _transfer_figure(figure: Any, section: dict[str, Any]) -> Any:
    # Scores, not ratios: a ratio explodes where the single-task agent scores near 0.
    ax = figure.subplots()
    tasks = section["tasks"]
    alone, together = [t["single"] for t in tasks], [t["all"] for t in tasks]
    low = min(0.0, *alone, *together) - 0.05
    high = max(1.0, *alone, *together) + 0.05
    ax.plot([low, high], [low, high], color="black", linewidth=1, label="no transfer")
    below = [low - section["tolerance"], high - section["tolerance"]]  # more than the tolerance under
    ax.fill_between([low, high], [low, low], below, color="tab:red", alpha=0.08, label="negative transfer")
    colors = ["tab:red" if t["negative_transfer"] else "tab:blue" for t in tasks]
    ax.scatter(alone, together, c=colors, zorder=3)
    for task, x, y in zip(tasks, alone, together, strict=True):
        # The first parameter names the task well enough beside its dot (the report's table has the rest).
        ax.annotate(
            task["label"].split(",")[0].split("=")[-1], (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7
        )
    ax.set(xlim=(low, high), ylim=(low, high), aspect="equal")
    ax.set(xlabel="score of an agent trained on this task alone", ylabel="score of the agent trained on all tasks")
    ax.set_title("Transfer per task (above the diagonal: positive)")
    ax.legend(fontsize=8, loc="lower right")
    return figure
