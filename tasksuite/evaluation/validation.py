"""The report of a ``tasksuite validate`` folder: ``summary.json``, ``report.md`` and ``plots/``.

It reads the folder only (``plan.json``, the trainings' ``trained.json`` and the harness's
results folders), so it needs no torch and redraws anywhere; a plan run in parts reports what is
finished and lists the rest as not run. The layout of the folder is written by
:mod:`tasksuite.baselines.validate`.

Statistics. A method's score on a split is the IQM over its pooled training seeds x the split's
tasks, with the percentile interval of a two-level bootstrap (training seeds and tasks resampled
together: :func:`~tasksuite.evaluation.scores.two_level_aggregate`). A method's gain over its control
is the paired difference on the same seeds and tasks. The range a new training seed is expected to
land in is a prediction interval from the per-seed scores; the held-out seed, never pooled, shows
where one did land.
"""

from __future__ import annotations

import json
import textwrap
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tasksuite.core.io import atomic_write_json, atomic_write_text
from tasksuite.evaluation.report import (
    MethodNumbers,
    draw_references,
    format_interval,
    interpretation,
    save_png,
    transfer_lines,
)
from tasksuite.evaluation.style import method_style

TRAINED, EVALUATED, SCORES = "trained.json", "evaluated.json", "scores.json"
CONTROL, CURVE, SWEEP, DEMOS = "control", "curve", "sweep", "demos"
#: The final checkpoint's extra evaluations: protocol -> (folder beside the evaluation, file marking it finished).
FINAL_EVALUATIONS = {"adaptation-sweep": (SWEEP, "swept.json"), "few-shot-demos": (DEMOS, "demonstrated.json")}
SWEPT, DEMONSTRATED = FINAL_EVALUATIONS["adaptation-sweep"][1], FINAL_EVALUATIONS["few-shot-demos"][1]
#: The acceptance of the suite on a meta benchmark: post-adaptation test score a method must reach.
PASS_SCORE = 0.6
#: Sample efficiency: env steps until a seed's test score first reaches this.
EFFICIENCY_SCORE = 0.6
#: Meta benchmarks a passing suite needs at least this many methods to pass on.
METHODS_TO_PASS = 2

Records = list[dict[str, Any]]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _records(folder: Path) -> Records:
    path = folder / "episodes.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _per_task(
    records: Records, split: str, episode: int | None = None, variant: str = "agent", value: str = "normalized"
) -> dict[str, float]:
    """Per task, the mean normalized return (``value="ret"``: raw return) of the evaluation episodes (or of
    episode index ``episode``) of the records of ``variant`` (the evaluated agent; ``"sweep"``: the
    adaptation sweep's trials)."""
    values: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if r["split"] != split or r["variant"] != variant or r[value] is None:
            continue
        if (episode is None and not r["adaptation"]) or (episode is not None and r["episode"] == episode):
            values[r["task_id"]].append(r[value])
    return {task: float(np.mean(v)) for task, v in sorted(values.items())}


def _matrix(per_seed: Sequence[Mapping[str, float]]) -> np.ndarray | None:
    """``[seeds, tasks]`` over the tasks every seed has a score on."""
    if not per_seed:
        return None
    tasks = sorted(set.intersection(*(set(p) for p in per_seed)))
    return np.array([[p[t] for t in tasks] for p in per_seed]) if tasks else None


def _aggregate(matrix: np.ndarray | None, baseline: np.ndarray | None = None) -> dict[str, Any] | None:
    from tasksuite.evaluation.scores import two_level_aggregate

    if matrix is None or (baseline is not None and baseline.shape != matrix.shape):
        return None
    return two_level_aggregate(matrix, baseline).to_dict()


def _iqm(values: Mapping[str, float]) -> float:
    from tasksuite.evaluation.scores import iqm

    return float(iqm(list(values.values())))


# ---------------------------------------------------------------------- one method on one benchmark


def job_scores(folder: Path, control: bool) -> dict[str, Any]:
    """What the report needs of one job's evaluations, per task: the evaluation score on every
    split (with mean OOD distance and success rate), the score at each episode of the test trials,
    the control's and each learning-curve snapshot's test score. Computed from the harness's
    episode records once and kept in ``scores.json`` (small: a validate folder can be committed
    with it and without the bulky records, and still be reported and resumed). Also kept: the raw
    test returns per task and the two references that normalize them, to compare with papers."""
    path = folder / SCORES
    cached = _read_json(path)
    # A scores.json from before raw returns were kept is recomputed where its records still are.
    if cached is not None and ("returns" in cached or not (folder / "episodes.jsonl").exists()):
        return cached
    records = _records(folder)
    config = _read_json(folder / "config.json")
    splits = [*(["train"] if "multi-task" in config["protocols"] else []), "test", *config["ood_levels"]]
    per_split = {}
    for split in splits:
        chosen = [r for r in records if r["split"] == split and r["variant"] == "agent" and not r["adaptation"]]
        per_split[split] = {
            "tasks": _per_task(records, split),
            "distance": float(np.mean([r["distance"] for r in chosen])),
            "success": float(np.mean([r["success"] for r in chosen])),
        }
    test = [r for r in records if r["split"] == "test" and r["variant"] == "agent"]
    indices = sorted({r["episode"] for r in test})
    scores = {
        "splits": per_split,
        "episodes": [
            {
                "adaptation": next(r["adaptation"] for r in test if r["episode"] == i),
                "tasks": _per_task(records, "test", episode=i),
            }
            for i in indices
        ],
        "returns": _per_task(records, "test", value="ret"),
        "references": {
            task: {"random": ref["random"], "oracle": ref["oracle"]}
            for task, ref in sorted((_read_json(folder / "references.json") or {}).items())
            if task in per_split["test"]["tasks"]
        },
        "control": _per_task(_records(folder / CONTROL), "test") if control else {},
        "curve": {
            p.name: _per_task(_records(p), "test")
            for p in sorted((folder / CURVE).glob("*"), key=lambda p: int(p.name))
            if p.name.isdigit()
        },
    }
    atomic_write_json(path, scores)
    return scores


def _final_scores(folder: Path, marker: str, compute: Callable[[dict[str, Any], Records], dict[str, Any]]) -> Any:
    """The scores of a final evaluation (``folder``: its results folder), computed from its config and
    records once and kept in ``folder/scores.json`` like :func:`job_scores`; ``None`` until ``marker``
    beside it says it has finished."""
    if not (folder.parent / marker).exists():
        return None
    path = folder / SCORES
    if path.exists():
        return _read_json(path)
    scores = compute(_read_json(folder / "config.json"), _records(folder))
    atomic_write_json(path, scores)
    return scores


def sweep_scores(folder: Path) -> dict[str, Any] | None:
    """Per task, the test score at each K and each number of gradient steps of a job's adaptation
    sweep (``folder/sweep``; ``None`` until it has finished)."""

    def compute(config: dict[str, Any], records: Records) -> dict[str, Any]:
        def per_task(**fields: Any) -> dict[str, float]:
            chosen = [r for r in records if all(r.get(k) == v for k, v in fields.items())]
            return _per_task(chosen, "test", variant="sweep")

        sweep, k = config["sweep"], config["adapt_episodes"]
        return {
            "trained": config["adaptation"]["declared"],
            "episodes": {str(e): per_task(adapt_episodes=e, gradient_steps=None) for e in sweep["episodes"]},
            "gradient_steps": {str(g): per_task(adapt_episodes=k, gradient_steps=g) for g in sweep["gradient_steps"]},
        }

    return _final_scores(folder, SWEPT, compute)


def demo_scores(folder: Path) -> dict[str, Any] | None:
    """Per split (test and every OOD level) and number D of demonstrations, per task, the evaluation
    score of a job's few-shot-demos sweep (``folder/demos``; ``None`` until it has finished)."""

    def compute(config: dict[str, Any], records: Records) -> dict[str, Any]:
        return {
            # False: the agent has no observe_demonstration hook and was evaluated as if D were 0.
            "takes_demonstrations": any(r["demonstrations_shown"] for r in records),
            "splits": {
                split: {str(d): _per_task(records, split, variant=f"demos-{d}") for d in config["demonstrations"]}
                for split in ["test", *config["ood_levels"]]
            },
        }

    return _final_scores(folder, DEMONSTRATED, compute)


def _pooled(per_seed: Sequence[Mapping[str, Mapping[str, float]]], key: str) -> list[dict[str, Any]]:
    """``{value: {task: score}}`` of each training seed to a two-level aggregate per value (``key``: its name)."""
    points = []
    for v in sorted({int(v) for seed in per_seed for v in seed}):
        agg = _aggregate(_matrix([seed[str(v)] for seed in per_seed if seed.get(str(v))]))
        if agg is not None:
            points.append({key: v, **agg})
    return points


def _sweep_summary(per_seed: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The pooled training seeds' sweep: a two-level aggregate at every K and number of gradient steps."""
    if not per_seed:
        return None
    return {
        "trained": per_seed[0]["trained"],
        "seeds": len(per_seed),
        "episodes": _pooled([seed["episodes"] for seed in per_seed], "k"),
        "gradient_steps": _pooled([seed["gradient_steps"] for seed in per_seed], "gradient_steps"),
    }


def _demo_summary(per_seed: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The pooled training seeds' few-shot-demos sweep: a two-level aggregate per split and D."""
    if not per_seed:
        return None
    return {
        "seeds": len(per_seed),
        "takes_demonstrations": all(seed["takes_demonstrations"] for seed in per_seed),
        "splits": {
            split: _pooled([seed["splits"][split] for seed in per_seed], "d") for split in per_seed[0]["splits"]
        },
    }


def method_summary(root: Path, trainings: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One row of the plan (a method or variant on a benchmark), its evaluated pooled seeds
    together: two-level aggregates per split, control and gain, the learning curve, sample
    efficiency, per-seed scores, the held-out seed, and the seeds not run or failed."""
    from tasksuite.evaluation.scores import new_seed_range

    first = trainings[0]
    row, k = first["row"], first["adapt_episodes"]
    runs, missing, held_out, distance_unit = [], [], None, None
    scores: dict[str, list[dict[str, float]]] = defaultdict(list)
    split_facts: dict[str, list[dict[str, float]]] = defaultdict(list)
    adaptation: list[bool] = []
    swept: list[dict[str, Any]] = []
    demonstrated: list[dict[str, Any]] = []
    snapshot_steps: dict[int, list[int]] = defaultdict(list)
    references: dict[str, dict[str, float]] = {}
    for training in trainings:
        run, folder = root / "runs" / training["name"], root / "evaluations" / training["name"]
        trained, evaluated = _read_json(run / TRAINED), _read_json(folder / EVALUATED)
        error = _read_json(root / "errors" / f"{training['name']}.json")
        if trained is None or evaluated is None:
            missing.append({"seed": training["seed"], "error": error["error"] if error else None})
            continue
        job = job_scores(folder, control=bool(training["control"]))
        distance_unit = (_read_json(folder / "config.json") or {}).get("distance_unit")
        per_split = {split: facts["tasks"] for split, facts in job["splits"].items()}
        seed_run = {
            "seed": training["seed"],
            "env_steps": trained["env_steps"],
            "train_s": trained["wall_s"],
            "eval_s": evaluated["wall_s"],
            **{split: _iqm(v) if v else None for split, v in per_split.items()},
            "pre": _iqm(job["episodes"][0]["tasks"]) if k else None,
            "control": _iqm(job["control"]) if job["control"] else None,
            "curve": {steps: _iqm(v) for steps, v in job["curve"].items() if v},
            "report": f"evaluations/{training['name']}/report.md",
        }
        if training["held_out"]:
            held_out = seed_run
            continue
        runs.append(seed_run)
        sweep = sweep_scores(folder / SWEEP)
        if sweep is not None:
            swept.append(sweep)
        demos = demo_scores(folder / DEMOS)
        if demos is not None:
            demonstrated.append(demos)
        for split, facts in job["splits"].items():
            scores[split].append(facts["tasks"])
            split_facts[split].append(facts)
        if k:
            scores["pre"].append(job["episodes"][0]["tasks"])
            for i, episode in enumerate(job["episodes"]):
                scores[f"episode:{i}"].append(episode["tasks"])
            adaptation = [episode["adaptation"] for episode in job["episodes"]]
        if job["control"]:
            scores["control"].append(job["control"])
        if job.get("returns"):
            scores["returns"].append(job["returns"])
            references = references or job["references"]
        # The i-th snapshot of every seed is pooled: their env steps differ a little where episodes
        # end early (a batch of whole episodes), so the point stands at their mean.
        for i, (steps, values) in enumerate(sorted(job["curve"].items(), key=lambda item: int(item[0]))):
            scores[f"curve:{i}"].append(values)
            snapshot_steps[i].append(int(steps))

    matrices = {name: _matrix(values) for name, values in scores.items() if len(values) == len(runs)}
    test = matrices.get("test")
    splits = {s: _aggregate(matrices.get(s)) for s in split_facts}
    for split, agg in splits.items():
        if agg is not None:
            agg["distance"] = float(np.mean([facts["distance"] for facts in split_facts[split]]))
            agg["success"] = float(np.mean([facts["success"] for facts in split_facts[split]]))
    curve = [
        {"episode": i, "adaptation": flag, **(_aggregate(matrices.get(f"episode:{i}")) or {})}
        for i, flag in enumerate(adaptation)
    ]
    per_seed_test = [r["test"] for r in runs if r.get("test") is not None]
    expected = new_seed_range(per_seed_test)
    if held_out is not None and expected is not None and held_out.get("test") is not None:
        held_out["inside"] = bool(expected[0] <= held_out["test"] <= expected[1])
    learning = []
    for i, steps in sorted(snapshot_steps.items()):
        agg = _aggregate(matrices.get(f"curve:{i}"))
        if agg is not None:
            learning.append({"env_steps": round(float(np.mean(steps))), **agg})
    return {
        "label": row_label(row),
        "method": row["method"],
        "variant": row["variant"],
        "control_of": row["control_of"],
        "train_tasks": row.get("train_tasks"),
        "benchmark": row["benchmark"],
        "adapt_episodes": k,
        "distance_unit": distance_unit,
        "budget": first["budget"],
        "why": row["why"],
        "planned_seeds": [t["seed"] for t in trainings if not t["held_out"]],
        "seeds": [r["seed"] for r in runs],
        "missing": missing,
        "env_steps": float(np.mean([r["env_steps"] for r in runs])) if runs else None,
        "train_s": float(np.mean([r["train_s"] for r in runs])) if runs else None,
        "splits": splits,
        "robustness": _robustness(splits, matrices),
        "pre": _aggregate(matrices.get("pre")) if k else None,
        "control": None
        if not first["control"]
        else {"label": first["control"]["label"], "test": _aggregate(matrices.get("control"))},
        "gain": _aggregate(test, matrices.get("control")) if first["control"] else None,
        "adaptation_gain": _aggregate(test, matrices.get("pre")) if k else None,
        "returns": _returns(matrices.get("returns"), references),
        "new_seed_range": expected,
        "held_out": held_out,
        "learning": learning,
        "steps_to": _steps_to(runs, EFFICIENCY_SCORE),
        "curve": [point for point in curve if "iqm" in point],
        "sweep": _sweep_summary(swept),
        "demonstrations": _demo_summary(demonstrated),
        "runs": runs,
        "_test_matrix": test,
    }


def _returns(matrix: np.ndarray | None, references: Mapping[str, Mapping[str, float]]) -> dict[str, Any] | None:
    """The test split's raw returns: two-level aggregate over seeds x tasks, beside the mean returns of
    the uniform-random policy and the oracle over the same tasks."""
    agg = _aggregate(matrix)
    if agg is None or not references:
        return None
    return {
        "test": agg,
        **{ref: float(np.mean([r[ref] for r in references.values()])) for ref in ("random", "oracle")},
    }


def _robustness(splits: Mapping[str, Any], matrices: Mapping[str, np.ndarray | None]) -> dict[str, Any] | None:
    """Area under score vs distance and slope (:func:`~tasksuite.evaluation.scores.robustness`) over the
    test tasks and the OOD levels, from every (training seed, task) score of each."""
    from tasksuite.evaluation.scores import robustness

    levels = [
        (agg["distance"], matrices[split].ravel())
        for split, agg in splits.items()
        if split != "train" and agg is not None and matrices.get(split) is not None
    ]
    found = robustness(levels)
    return found.to_dict() if found else None


def row_label(row: Mapping[str, Any]) -> str:
    """``maml`` or ``maml-pretrained``."""
    return f"{row['method']}-{row['variant']}" if row["variant"] else row["method"]


def _steps_to(runs: Sequence[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Per seed, the first learning-curve snapshot whose test score reaches ``threshold`` (``None``: never)."""
    per_seed = {}
    for run in runs:
        reached = [int(s) for s, score in run["curve"].items() if score >= threshold]
        per_seed[str(run["seed"])] = min(reached) if reached else None
    hits = [v for v in per_seed.values() if v is not None]
    return {
        "threshold": threshold,
        "per_seed": per_seed,
        "median": float(np.median(hits)) if len(hits) == len(per_seed) and hits else None,
        "reached": f"{len(hits)}/{len(per_seed)}",
    }


# ---------------------------------------------------------------------- acceptance


def acceptance(methods: Sequence[dict[str, Any]], planned: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """Per meta benchmark of the plan: which methods pass (post-adaptation test IQM >= 0.6, and
    above its control: the interval of the paired gain over the control, same seeds and tasks,
    lies above 0), whether at least two do, and whether every passing one is clearly lower on
    OOD-far (intervals apart). Methods not (fully) run are listed as such.

    Why the paired gain and not two separate intervals apart: the method and its control are
    measured on the same seeds and tasks, so most of their variation is shared; comparing their
    intervals side by side counts it twice and misses consistent gains (RL²'s over its
    memory-cleared control, whose within-episode memory already adapts, is one)."""
    checks = []
    for benchmark, labels in planned.items():
        verdicts = []
        for label in labels:
            m = next((m for m in methods if m["label"] == label and m["benchmark"] == benchmark), None)
            verdicts.append(_verdict(label, m))
        passing = [v for v in verdicts if v["passed"]]
        passed: bool | None = len(passing) >= METHODS_TO_PASS and all(v["ood_far_lower"] for v in passing)
        if not passed and len(passing) + sum(v["passed"] is None for v in verdicts) >= METHODS_TO_PASS:
            passed = None  # not decided yet: the methods that have not run could still make it pass
        checks.append({"benchmark": benchmark, "methods": verdicts, "passed": passed})
    return checks


def _verdict(label: str, m: dict[str, Any] | None) -> dict[str, Any]:
    verdict: dict[str, Any] = {"label": label, "passed": False, "ood_far_lower": None, "reason": ""}
    if m is None or not m["seeds"]:
        verdict["reason"] = _missing_reason(m) if m else "not run yet"
        verdict["passed"] = None if verdict["reason"] == "not run yet" else False
        return verdict
    test, gain = m["splits"].get("test"), m["gain"]
    reasons = []
    if test["iqm"] < PASS_SCORE:
        reasons.append(f"post-adaptation {test['iqm']:.3f} < {PASS_SCORE}")
    if gain is not None and gain["low"] <= 0:
        reasons.append(f"gain over its control {format_interval(gain)} not above 0")
    far = m["splits"].get("far")
    if far is not None:
        verdict["ood_far_lower"] = far["high"] < test["low"]
    verdict["passed"] = not reasons
    if len(m["seeds"]) < len(m["planned_seeds"]):
        reasons.append(f"only {len(m['seeds'])} of {len(m['planned_seeds'])} seeds run")
    if verdict["passed"] and verdict["ood_far_lower"] is False:
        reasons.append(f"OOD-far {format_interval(far)} not clearly below test {format_interval(test)}")
    verdict["reason"] = "; ".join(reasons) or "passes"
    return verdict


# ---------------------------------------------------------------------- the folder's report


def write_report(root: str | Path, skipped: Mapping[str, str] | None = None) -> dict[str, Any]:
    """(Re)write ``summary.json``, the plots and ``report.md`` of a validate folder from what it holds."""
    root = Path(root)
    plan = _read_json(root / "plan.json")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for training in plan["trainings"]:
        groups[(training["label"], training["row"]["benchmark"])].append(training)
    methods = [method_summary(root, group) for group in groups.values()]
    for m in methods:
        if m["control_of"]:
            base = next(
                (b for b in methods if b["label"] == m["control_of"] and b["benchmark"] == m["benchmark"]), None
            )
            if base is not None and base["_test_matrix"] is not None and m["_test_matrix"] is not None:
                base["gain_over_" + m["variant"]] = _aggregate(base["_test_matrix"], m["_test_matrix"])
    for m in methods:
        del m["_test_matrix"]
    planned: dict[str, list[str]] = defaultdict(list)
    for label, benchmark in groups:
        row = groups[(label, benchmark)][0]["row"]
        if row["method"] != "multitask" and not row["variant"]:
            planned[benchmark].append(label)
    transfers = []
    for transfer in plan["transfers"]:
        folder = root / "transfer" / transfer["benchmark"]
        summary = _read_json(folder / "summary.json") if (folder / EVALUATED).exists() else None
        transfers.append(
            {
                "benchmark": transfer["benchmark"],
                "trainer": transfer["trainer"],
                "budget": transfer["budget"],
                "section": summary["protocols"]["transfer"] if summary else None,
                "folder": f"transfer/{transfer['benchmark']}",
                "wall_s": (_read_json(folder / EVALUATED) or {}).get("wall_s"),
            }
        )
    summary = {
        "plan": plan["name"],
        "methods": methods,
        "transfers": transfers,
        "acceptance": acceptance(methods, planned),
        "sessions": _read_json(root / "sessions.json") or [],
        "not_run": dict(skipped or {}),
        "errors": [_read_json(path) for path in sorted((root / "errors").glob("*.json"))],
    }
    atomic_write_json(root / "summary.json", summary)
    plots = draw_plots(summary, root / "plots")
    atomic_write_text(root / "report.md", markdown(summary, plan, plots))
    return summary


# ---------------------------------------------------------------------- markdown


def label_of(label: str) -> str:
    """The readable name of a method or variant (:func:`~tasksuite.evaluation.style.method_style`)."""
    return method_style(label).label


def _cell(agg: dict[str, Any] | None) -> str:
    return format_interval(agg) if agg else "—"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _value(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def markdown(summary: dict[str, Any], plan: dict[str, Any], plots: Mapping[str, str]) -> str:
    """The validate report as Markdown."""
    lines = [f"# tasksuite validate: {plan['name']} plan", ""]
    lines += ["| session | command | part | jobs | wall-clock | workers | CPUs | load (1, 5, 15 min) start → end |"]
    lines += ["|---|---|---|---|---|---|---|---|"]
    for i, s in enumerate(summary["sessions"], 1):
        load = f"{', '.join(map(str, s['load_start']))} → {', '.join(map(str, s['load_end']))}"
        part = s.get("part", {})
        what = ", ".join(
            f"{k} {','.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in part.items()
            if v and k in ("methods", "benchmarks", "seeds")
        )
        lines.append(
            f"| {i} ({s['started']}) | `{s['command']}` | {what or 'all'} | {part.get('jobs', '—')} "
            f"| {_duration(s['wall_s'])} | {s['workers']} | {s['cpus']} | {load} |"
        )
    lines += [
        "",
        "Scores are normalized per task (0: uniform-random policy, 1: the family's scripted oracle). A method's "
        "score is the interquartile mean (IQM) over its pooled training seeds × the split's tasks, written "
        "IQM [low, high]: the 95% interval of a two-level bootstrap that resamples training seeds *and* tasks, so "
        "it covers both a re-run with new training seeds and new tasks from the same distribution (one training "
        "seed: tasks only). *Gain* is the paired difference to the control on the same seeds and tasks. *New seed "
        "lands in*: the 95% prediction interval of one more seed's test score, from the per-seed scores; the "
        "*held-out seed* (never pooled) shows where one did land. *Pre-adaptation* is the first episode of a "
        "trial; *post-adaptation* the evaluation episode after the K adaptation episodes each method trains with "
        f"({plan['eval_episodes']} evaluation episode(s) per trial, on "
        f"{_tasks_evaluated(plan['max_tasks'])} of each split).",
        "",
    ]
    by_benchmark: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in summary["methods"]:
        by_benchmark[m["benchmark"]].append(m)
    checks = {c["benchmark"]: c for c in summary["acceptance"]}
    lines += ["## What the numbers say", ""]
    for benchmark, methods in by_benchmark.items():
        ran = [m for m in methods if m["seeds"]]
        if ran:
            lines += [f"**{benchmark}.** {_interpretation(ran)}", ""]
    for benchmark, methods in by_benchmark.items():
        lines += _benchmark_section(benchmark, methods, checks.get(benchmark))
    if summary["acceptance"]:
        lines += ["## Acceptance of the suite", ""]
        lines += [
            f"On every meta benchmark at least {METHODS_TO_PASS} methods reach post-adaptation ≥ {PASS_SCORE} above "
            "their control (the 95% interval of the paired gain over the control, on the same seeds and tasks, "
            "above 0), and every passing method is clearly lower on OOD-far than on test (intervals apart).",
            "",
            "| benchmark | method | passes | OOD-far below test | measured |",
            "|---|---|---|---|---|",
        ]
        for check in summary["acceptance"]:
            for v in check["methods"]:
                far = {True: "yes", False: "**no**", None: "—"}[v["ood_far_lower"]]
                lines.append(
                    f"| {check['benchmark']} | {label_of(v['label'])} | {_outcome(v['passed'])} | {far} "
                    f"| {v['reason']} |"
                )
            lines.append(f"| **{check['benchmark']}** | | **{_VERDICTS[check['passed']]}** | | |")
        lines += [""]
    for name, title in (("learning", "Learning curves"), ("adaptation", "Adaptation curves"), ("ood", "OOD")):
        if name in plots:
            lines += [f"## {title}", "", f"![{title}]({plots[name]})", ""]
    lines += _sweep_section(summary["methods"], plots)
    lines += _demos_section(summary["methods"], plots)
    lines += _scaling_section(summary["methods"], plots)
    lines += _efficiency_table(summary["methods"])
    lines += _seed_table(summary["methods"])
    lines += _returns_section(summary["methods"])
    for t in summary["transfers"]:
        lines += [f"## Transfer on {t['benchmark']}", ""]
        if t["section"] is None:
            reason = summary["not_run"].get(f"transfer-{t['benchmark']}", "not run yet")
            lines += [f"Not run: {reason}", ""]
            continue
        lines += [
            f"Trainer `{t['trainer']}`, {t['budget']:,} env steps per task; {_duration(t['wall_s'])}. "
            f"Full results: [{t['folder']}/report.md]({t['folder']}/report.md).",
            "",
            *transfer_lines(t["section"]),
        ]
    if summary["errors"]:
        lines += ["## Errors", "", f"{len(summary['errors'])} job(s) failed; the others' results stand.", ""]
        for error in summary["errors"]:
            lines += [f"### {error['job']}", "", error["error"], "", "```", error["traceback"].rstrip(), "```", ""]
    return "\n".join(lines)


def _interpretation(methods: Sequence[dict[str, Any]]) -> str:
    """The harness's interpretation of the rows of one benchmark, then what each control says."""
    numbers = [
        MethodNumbers(
            m["label"],
            m["benchmark"],
            m["adapt_episodes"],
            m["splits"],
            pre=m["pre"],
            gain=m["adaptation_gain"],
            training_seeds=len(m["seeds"]),
        )
        for m in methods
    ]
    text = interpretation(numbers)
    controls = []
    for m in methods:
        if m["gain"] is not None:
            verdict = "adds" if m["gain"]["low"] > 0 else "adds nothing measurable"
            controls.append(
                f"Against its control ({m['control']['label']}), {label_of(m['label'])}'s mechanism {verdict}: "
                f"{format_interval(m['gain'])}."
            )
    body, _, caveats = text.partition("\n\n**Caveats.** ")
    return " ".join([body, *controls]) + (f"\n\n**Caveats.** {caveats}" if caveats else "")


#: A pass verdict (``None``: not decided, the methods needed have not run) in words.
_VERDICTS = {True: "pass", False: "FAIL", None: "not run yet"}


def _outcome(passed: bool | None) -> str:
    """A method's verdict in a table cell: a failure in bold."""
    return f"**{_VERDICTS[passed]}**" if passed is False else _VERDICTS[passed]


def _tasks_evaluated(max_tasks: int | None) -> str:
    return "every task" if max_tasks is None else f"the first {max_tasks} tasks"


def _benchmark_section(benchmark: str, methods: Sequence[dict[str, Any]], check: dict[str, Any] | None) -> list[str]:
    verdicts = {v["label"]: v for v in (check or {}).get("methods", [])}
    lines = [
        f"## {benchmark}",
        "",
        "| method | K | seeds | env steps / seed | training / seed | pre-adaptation | post-adaptation | control "
        "| gain over control | OOD-near | OOD-far | success (test) | OOD distance (near / far) | OOD area "
        "| OOD slope | new seed lands in | held-out seed | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for m in methods:
        seeds = f"{len(m['seeds'])}/{len(m['planned_seeds'])}"
        if not m["seeds"]:
            verdict = verdicts.get(m["label"], {}).get("reason") or _missing_reason(m)
            lines.append(
                f"| {label_of(m['label'])} | {m['adapt_episodes']} | {seeds} |" + " — |" * 14 + f" {verdict} |"
            )
            continue
        splits = m["splits"]
        control = (m["control"] or {}).get("test")
        held = m["held_out"]
        held_text = (
            "—" if held is None else f"{_value(held.get('test'))} ({'inside' if held.get('inside') else 'outside'})"
        )
        expected = m["new_seed_range"]
        status = verdicts.get(m["label"], {}).get("reason", "")
        if m["control_of"]:
            status = f"control of {label_of(m['control_of'])}"
        elif m["train_tasks"]:
            status = f"scaling study: {m['train_tasks']:,} training tasks"
        main = splits.get("train") if m["method"] == "multitask" else splits.get("test")
        lines.append(
            f"| {label_of(m['label'])} | {m['adapt_episodes']} | {seeds} | {m['env_steps']:,.0f} "
            f"| {_duration(m['train_s'])} | {_cell(m['pre'])} | **{_cell(main)}** | {_cell(control)} "
            f"| {_cell(m['gain'])} | {_cell(splits.get('near'))} | {_cell(splits.get('far'))} "
            f"| {_success(main)} | {_distances(splits)} | {_robustness_cells(m['robustness'])} "
            f"| {'—' if expected is None else f'[{expected[0]:.3f}, {expected[1]:.3f}]'} | {held_text} | {status} |"
        )
        if m["control"]:
            notes.append(f"{label_of(m['label'])}'s control: {m['control']['label']}.")
        for key, value in m.items():
            if key.startswith("gain_over_") and value:
                variant = key.removeprefix("gain_over_")
                notes.append(
                    f"{label_of(m['label'])} minus {label_of(m['label'] + '-' + variant)} (paired): {_cell(value)}."
                )
        if m["why"]:
            notes.append(f"{label_of(m['label'])}: {m['why']}.")
    return [*lines, "", *(f"- {n}" for n in notes), ""]


def _robustness_cells(found: Mapping[str, Any] | None) -> str:
    """``area [low, high] | slope [low, high]`` of an OOD sweep's robustness (see :func:`_robustness`)."""
    if found is None:
        return "— | —"
    return (
        f"{found['auc']:.3f} [{found['auc_low']:.3f}, {found['auc_high']:.3f}] "
        f"| {found['slope']:+.3f} [{found['slope_low']:+.3f}, {found['slope_high']:+.3f}]"
    )


def _success(agg: dict[str, Any] | None) -> str:
    return "—" if agg is None else f"{agg['success']:.0%}"


def _distances(splits: Mapping[str, Any]) -> str:
    levels = [splits.get("near"), splits.get("far")]
    return " / ".join("—" if level is None else f"{level['distance']:.2f}" for level in levels)


def _missing_reason(m: dict[str, Any]) -> str:
    errors = [x["error"] for x in m["missing"] if x["error"]]
    return f"failed: {errors[0]}" if errors else "not run yet"


def _section_head(title: str, text: str, columns: Sequence[str]) -> list[str]:
    """A report section's heading, its explanation and the head of its table."""
    return [f"## {title}", "", text, "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def _returns_section(methods: Sequence[dict[str, Any]]) -> list[str]:
    order = list(dict.fromkeys(m["benchmark"] for m in methods))
    shown = sorted(
        (m for m in methods if m.get("returns") and m.get("train_tasks") is None),
        key=lambda m: order.index(m["benchmark"]),
    )
    if not shown:
        return []
    lines = _section_head(
        "Raw returns",
        "The post-adaptation test scores as the env's undiscounted episode returns (IQM over pooled seeds × "
        "test tasks, intervals as above), beside the mean returns over the same tasks of the two policies "
        "that normalize them: the scale on which papers plot the presets (maml-navigation, pearl-sparse-point).",
        ["benchmark", "method", "seeds", "post-adaptation return", "normalized", "uniform-random", "oracle"],
    )
    for m in shown:
        r, ret = m["returns"], m["returns"]["test"]
        lines.append(
            f"| {m['benchmark']} | {label_of(m['label'])} | {len(m['seeds'])} "
            f"| {ret['iqm']:.2f} [{ret['low']:.2f}, {ret['high']:.2f}] "
            f"| {_cell(m['splits'].get('test'))} | {r['random']:.2f} | {r['oracle']:.2f} |"
        )
    return [*lines, ""]


def _sweep_section(methods: Sequence[dict[str, Any]], plots: Mapping[str, str]) -> list[str]:
    swept = [m for m in methods if m.get("sweep")]
    if not swept:
        return []
    ks = sorted({p["k"] for m in swept for p in m["sweep"]["episodes"]})
    lines = _section_head(
        "Adaptation budget at test time",
        "The final checkpoint of each pooled training seed evaluated as meta-test with K adaptation episodes "
        "for every K (the adaptation-sweep protocol, on the test tasks; intervals as above): what a method "
        "scores when the budget at test differs from the one it was meta-trained with (**bold**: the trained K).",
        ["benchmark", "method", "seeds", *(f"K = {k}" for k in ks)],
    )
    for m in swept:
        trained = (m["sweep"]["trained"] or {}).get("episodes")
        by_k = {p["k"]: p for p in m["sweep"]["episodes"]}
        cells = ["—" if k not in by_k else (f"**{_cell(by_k[k])}**" if k == trained else _cell(by_k[k])) for k in ks]
        lines.append(
            f"| {m['benchmark']} | {label_of(m['label'])} | {m['sweep']['seeds']} | " + " | ".join(cells) + " |"
        )
    lines.append("")
    stepped = [m for m in swept if m["sweep"]["gradient_steps"]]
    for m in stepped:
        trained = m["sweep"]["trained"] or {}
        cells = ", ".join(
            f"{p['gradient_steps']}{' (trained)' if p['gradient_steps'] == trained.get('gradient_steps') else ''}: "
            f"{_cell(p)}"
            for p in m["sweep"]["gradient_steps"]
        )
        where = f"{label_of(m['label'])} on {m['benchmark']}"
        lines.append(f"- {where}, test-time gradient steps at K = {trained.get('episodes')}: {cells}.")
    if stepped:
        lines.append("")
    if "sweep" in plots:
        lines += [f"![Adaptation budget]({plots['sweep']})", ""]
    return lines


def _demos_section(methods: Sequence[dict[str, Any]], plots: Mapping[str, str]) -> list[str]:
    shown = [m for m in methods if m.get("demonstrations")]
    if not shown:
        return []
    ds = sorted({p["d"] for m in shown for points in m["demonstrations"]["splits"].values() for p in points})
    lines = _section_head(
        "Few-shot adaptation from demonstrations",
        "The final checkpoint of each pooled training seed shown D demonstrations of each task by the "
        "family's oracle before its evaluation episode, with no adaptation episode of its own (the "
        "few-shot-demos protocol; intervals as above). These are not self-exploration scores: D = 0 is "
        "meta-test with K = 0.",
        ["benchmark", "method", "seeds", "split", *(f"D = {d}" for d in ds)],
    )
    for m in shown:
        demos = m["demonstrations"]
        label = label_of(m["label"]) + ("" if demos["takes_demonstrations"] else " (no hook: D = 0 throughout)")
        for split, points in demos["splits"].items():
            by_d = {p["d"]: p for p in points}
            cells = ["—" if d not in by_d else _cell(by_d[d]) for d in ds]
            lines.append(f"| {m['benchmark']} | {label} | {demos['seeds']} | {split} | " + " | ".join(cells) + " |")
    lines.append("")
    if "demos" in plots:
        lines += [f"![Demonstrations]({plots['demos']})", ""]
    return lines


def _scaling_studies(methods: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The scaling rows with results, per (benchmark, method), by number of training tasks."""
    studies: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for m in sorted((m for m in methods if m.get("train_tasks") and m["seeds"]), key=lambda m: m["train_tasks"]):
        studies[(m["benchmark"], m["method"])].append(m)
    return studies


def _scaling_section(methods: Sequence[dict[str, Any]], plots: Mapping[str, str]) -> list[str]:
    studies = _scaling_studies(methods)
    if not studies:
        return []
    lines = [
        "## Task-distribution scaling",
        "",
        "The same method, config and env-step budget trained on n tasks drawn from the family's training "
        "distribution (n = 10 ... 10,000), each evaluated on the benchmark's own test tasks and OOD levels "
        "(intervals as above). Whether more training tasks help shows as intervals apart between the "
        "smallest and the largest n.",
        "",
    ]
    for (benchmark, method), rows in studies.items():
        splits = list(rows[-1]["splits"])
        lines += [
            f"| {benchmark}: {label_of(method)} | seeds | env steps / seed | " + " | ".join(splits) + " |",
            "|---|---|---|" + "---|" * len(splits),
        ]
        for m in rows:
            cells = " | ".join(_cell(m["splits"].get(split)) for split in splits)
            lines.append(f"| {m['train_tasks']:,} tasks | {len(m['seeds'])} | {m['env_steps']:,.0f} | {cells} |")
        lines.append("")
        for split in splits:
            first, last = rows[0]["splits"].get(split), rows[-1]["splits"].get(split)
            if first and last and len(rows) > 1:
                apart = last["low"] > first["high"] or first["low"] > last["high"]
                if apart:
                    verdict = f"{'higher' if last['iqm'] > first['iqm'] else 'lower'} (intervals apart)"
                else:
                    verdict = "no difference shown (intervals overlap)"
                lines.append(
                    f"- {split}: {_cell(first)} with {rows[0]['train_tasks']:,} tasks, {_cell(last)} with "
                    f"{rows[-1]['train_tasks']:,}: {verdict}."
                )
        lines.append("")
    if "scaling" in plots:
        lines += [f"![Task-distribution scaling]({plots['scaling']})", ""]
    return lines


def _efficiency_table(methods: Sequence[dict[str, Any]]) -> list[str]:
    rows = [m for m in methods if m["learning"]]
    if not rows:
        return []
    lines = [
        "## Sample efficiency",
        "",
        f"Env steps until a seed's test score (harness, post-adaptation, IQM over tasks) first reaches "
        f"{EFFICIENCY_SCORE}, read off the learning-curve snapshots (so at the snapshots' resolution); "
        "median over seeds when every seed reaches it.",
        "",
        "| benchmark | method | budget | seeds reaching it | median env steps | per seed |",
        "|---|---|---|---|---|---|",
    ]
    for m in rows:
        s = m["steps_to"]
        per_seed = ", ".join(f"{seed}: {'—' if v is None else f'{v:,}'}" for seed, v in s["per_seed"].items())
        median = "—" if s["median"] is None else f"{s['median']:,.0f}"
        lines.append(
            f"| {m['benchmark']} | {label_of(m['label'])} | {m['budget']:,} | {s['reached']} | {median} | {per_seed} |"
        )
    return [*lines, ""]


def _seed_table(methods: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "## Per training seed",
        "",
        "IQM over tasks of each training seed alone (the held-out seed last, marked *); the harness's own "
        "report of each run is linked.",
        "",
        "| benchmark | method | seed | env steps | training | evaluation | train | pre-adaptation | post-adaptation "
        "| control | OOD-near | OOD-far | report |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in methods:
        runs = [*m["runs"], *([m["held_out"]] if m["held_out"] else [])]
        for run in runs:
            mark = "*" if run is m["held_out"] else ""
            cells = [run.get(k) for k in ("train", "pre", "test", "control", "near", "far")]
            lines.append(
                f"| {m['benchmark']} | {label_of(m['label'])} | {run['seed']}{mark} | {run['env_steps']:,} "
                f"| {_duration(run['train_s'])} | {_duration(run['eval_s'])} | "
                + " | ".join(_value(c) for c in cells)
                + f" | [report]({run['report']}) |"
            )
    return [*lines, ""]


# ---------------------------------------------------------------------- plots


def draw_plots(summary: dict[str, Any], folder: Path) -> dict[str, str]:
    """Learning curves, adaptation curves and score vs OOD distance, one panel per benchmark;
    return ``{name: path relative to the validate folder}``."""
    from matplotlib.figure import Figure  # no pyplot: no global backend, nothing left open

    drawn = {}
    methods = [m for m in summary["methods"] if m["seeds"]]
    figures = {
        "learning": ([m for m in methods if m["learning"]], _learning_panel, "env steps of meta-training"),
        "adaptation": ([m for m in methods if m["curve"]], _adaptation_panel, "episode of the trial"),
        "ood": ([m for m in methods if len(m["splits"]) > 1], _ood_panel, "distance from the training support"),
        "sweep": ([m for m in methods if m.get("sweep")], _sweep_panel, "adaptation episodes K at test time"),
        "demos": (
            [m for m in methods if m.get("demonstrations")],
            _demos_panel,
            "oracle demonstrations D (solid: test tasks; dashed: farthest OOD level)",
        ),
    }
    for name, (chosen, panel, xlabel) in figures.items():
        benchmarks = list(dict.fromkeys(m["benchmark"] for m in chosen))
        if not benchmarks:
            continue
        columns = min(3, len(benchmarks))
        rows = -(-len(benchmarks) // columns)
        figure = Figure(figsize=(4.6 * columns, 3.8 * rows), layout="constrained")
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        for ax, bench in zip(axes, benchmarks, strict=False):
            for m in (m for m in chosen if m["benchmark"] == bench):
                panel(ax, m)
            draw_references(ax)
            unit = next((m["distance_unit"] for m in chosen if m["benchmark"] == bench), None)
            label = f"{xlabel} ({unit})" if name == "ood" and unit else xlabel
            ax.set(title=bench, xlabel=textwrap.fill(label, 50))  # units are long: wrapped, never overlapping
            ax.set(ylabel="normalized score (IQM, 95% CI)")
            ax.legend(fontsize=7, loc="lower right")
        for ax in axes[len(benchmarks) :]:
            ax.set_visible(False)
        save_png(figure, folder / f"{name}.png")
        drawn[name] = f"plots/{name}.png"
    studies = _scaling_studies(methods)
    if studies:
        figure = Figure(figsize=(4.6 * len(studies), 3.8), layout="constrained")
        axes = figure.subplots(1, len(studies), squeeze=False)[0]
        for ax, ((benchmark, method), rows) in zip(axes, studies.items(), strict=True):
            _scaling_panel(ax, rows)
            draw_references(ax)
            ax.set(title=f"{benchmark}: {label_of(method)}", xlabel="training tasks (log scale)")
            ax.set(ylabel="normalized score (IQM, 95% CI)")
            ax.legend(fontsize=7, loc="lower right")
        save_png(figure, folder / "scaling.png")
        drawn["scaling"] = "plots/scaling.png"
    return drawn


def _style(m: dict[str, Any]) -> dict[str, Any]:
    return method_style(m["label"]).plot_kwargs()


def _learning_panel(ax: Any, m: dict[str, Any]) -> None:
    style = _style(m)
    x = [p["env_steps"] for p in m["learning"]]
    ax.plot(x, [p["iqm"] for p in m["learning"]], **style)
    ax.fill_between(
        x, [p["low"] for p in m["learning"]], [p["high"] for p in m["learning"]], color=style["color"], alpha=0.15
    )


def _adaptation_panel(ax: Any, m: dict[str, Any]) -> None:
    style = _style(m)
    x = [p["episode"] + 1 for p in m["curve"]]
    ax.plot(x, [p["iqm"] for p in m["curve"]], **{**style, "label": f"{style['label']} (K={m['adapt_episodes']})"})
    ax.fill_between(
        x, [p["low"] for p in m["curve"]], [p["high"] for p in m["curve"]], color=style["color"], alpha=0.15
    )
    ax.xaxis.get_major_locator().set_params(integer=True)


def _sweep_panel(ax: Any, m: dict[str, Any]) -> None:
    style = _style(m)
    points = m["sweep"]["episodes"]
    x = [p["k"] for p in points]
    ax.plot(x, [p["iqm"] for p in points], **style)
    ax.fill_between(x, [p["low"] for p in points], [p["high"] for p in points], color=style["color"], alpha=0.15)
    trained = next((p for p in points if p["k"] == (m["sweep"]["trained"] or {}).get("episodes")), None)
    if trained is not None:  # the budget the method was meta-trained with
        ax.plot([trained["k"]], [trained["iqm"]], marker="*", markersize=14, color=style["color"], markeredgecolor="k")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xticks(x, [str(k) for k in x])


def _demos_panel(ax: Any, m: dict[str, Any]) -> None:
    """Score vs D on the test tasks (solid) and on the farthest OOD level (dashed), in the method's colour."""
    splits = list(m["demonstrations"]["splits"])
    for split, linestyle in [(splits[0], "-"), *([(splits[-1], "--")] if len(splits) > 1 else [])]:
        points = m["demonstrations"]["splits"][split]
        style = _style(m) | {"linestyle": linestyle, "label": f"{_style(m)['label']} ({split})"}
        x = [p["d"] for p in points]
        ax.plot(x, [p["iqm"] for p in points], **style)
        ax.fill_between(x, [p["low"] for p in points], [p["high"] for p in points], color=style["color"], alpha=0.1)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xticks(x, [str(d) for d in x])


def _scaling_panel(ax: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Score vs training tasks, one line per split (test solid, OOD levels dashed and dotted), the method's colour."""
    style = method_style(rows[0]["method"]).plot_kwargs()  # the method's, not its scaling rows' labels
    for split, linestyle in zip(rows[-1]["splits"], ("-", "--", ":", "-."), strict=False):
        points = [(m["train_tasks"], m["splits"][split]) for m in rows if m["splits"].get(split)]
        x = [n for n, _ in points]
        errors = [[a["iqm"] - a["low"] for _, a in points], [a["high"] - a["iqm"] for _, a in points]]
        ax.errorbar(
            x,
            [a["iqm"] for _, a in points],
            yerr=errors,
            capsize=3,
            linestyle=linestyle,
            color=style["color"],
            marker=style["marker"],
            label=split,
        )
    ax.set_xscale("log")


def _ood_panel(ax: Any, m: dict[str, Any]) -> None:
    points = [agg for split, agg in m["splits"].items() if agg and split != "train"]
    x = [agg["distance"] for agg in points]
    errors = [[a["iqm"] - a["low"] for a in points], [a["high"] - a["iqm"] for a in points]]
    ax.errorbar(x, [a["iqm"] for a in points], yerr=errors, capsize=3, **_style(m))
