"""From saved episode records to numbers and pictures: ``summary.json``, ``report.md`` and ``plots/``.

Everything here reads the results folder only (config, references, unit
files), so ``tasksuite report DIR`` redraws a report anywhere, and a resumed
run reports exactly what an uninterrupted one does.

Scores: a (task, seed) score is the mean normalized return of the trial's
evaluation episodes; a split's aggregate is the IQM of its scores with a 95 %
bootstrap interval (:mod:`tasksuite.evaluation.scores`).
"""

from __future__ import annotations

import itertools
import textwrap
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasksuite.core.errors import IntegrityError
from tasksuite.core.io import atomic_write, atomic_write_json, atomic_write_text
from tasksuite.evaluation.agent import AdaptationBudget
from tasksuite.evaluation.protocols import DEMO_PROTOCOL
from tasksuite.evaluation.references import Reference
from tasksuite.evaluation.results import ResultsDir, to_jsonl
from tasksuite.evaluation.scores import CONFIDENCE, aggregate, is_degenerate, normalize, robustness
from tasksuite.evaluation.style import MethodStyle, method_key, method_style

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
        if protocol == "adaptation-sweep":
            sections[protocol] = sweep_summary(records, config)
            continue
        if protocol == DEMO_PROTOCOL:
            sections[protocol] = demonstration_summary(config, records)
            continue
        splits = ["train"] if protocol == "multi-task" else ["test"]
        if protocol == "ood-sweep":
            splits += config["ood_levels"]
        section: dict[str, Any] = {"splits": {s: split_summary(records, s) for s in splits}}
        if protocol != "multi-task":
            section["curves"] = {s: adaptation_curve(records, s) for s in splits}
            section["gains"] = {s: adaptation_gain(records, s) for s in splits}
        if protocol == "ood-sweep":
            distance = {r["task_id"]: r["distance"] for r in records}
            section["tasks"] = [
                {"task_id": tid, "split": split, "distance": distance[tid], "score": score}
                for split, agg in section["splits"].items()
                if agg is not None
                for tid, score in agg["per_task"].items()
            ]
            levels = [
                (agg["distance"], [v for values in _scores(records, split).values() for v in values])
                for split, agg in section["splits"].items()
                if agg is not None
            ]
            found = robustness(levels)
            section["robustness"] = found.to_dict() if found else None
        sections[protocol] = section
    return {
        "agent": config["agent"],
        "benchmark": config["benchmark"],
        "setting": config["setting"],
        "privileged": any(r["privileged"] for r in records),
        "adaptation": config.get("adaptation"),
        "runs": config.get("runs"),
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


def _scores_by_trial(records: Records, split: str, variant: str, **fields: Any) -> dict[str, list[tuple[int, float]]]:
    """Per task, ``(seed, score)`` of each trial: the mean normalized return of its evaluation episodes
    (only records whose ``fields`` have the given values, e.g. ``adapt_episodes=4`` in a sweep)."""
    by_trial: dict[tuple[str, int], list[float]] = defaultdict(list)
    for r in records:
        if r["split"] == split and r["variant"] == variant and not r["adaptation"] and r["normalized"] is not None:
            if all(r.get(name) == value for name, value in fields.items()):
                by_trial[(r["task_id"], r["seed"])].append(r["normalized"])
    per_task: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for (task_id, seed), values in sorted(by_trial.items()):
        per_task[task_id].append((seed, float(np.mean(values))))
    return dict(per_task)


def _scores(records: Records, split: str, variant: str = "agent") -> dict[str, list[float]]:
    """Per task, one score per seed: the mean normalized return of the evaluation episodes."""
    return {tid: [score for _, score in trials] for tid, trials in _scores_by_trial(records, split, variant).items()}


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


def adaptation_gain(records: Records, split: str) -> dict[str, Any] | None:
    """IQM and CI of the per-trial gain: the trial's score minus its first (adaptation) episode's normalized
    return; paired within each trial, so task difficulty cancels. ``None`` without adaptation episodes."""
    first: dict[tuple[str, int], float] = {}
    for r in records:
        if r["split"] == split and r["variant"] == "agent" and r["adaptation"] and r["episode"] == 0:
            if r["normalized"] is not None:
                first[(r["task_id"], r["seed"])] = r["normalized"]
    if not first:
        return None
    gains: dict[str, list[float]] = defaultdict(list)
    for task_id, scores in _scores_by_trial(records, split, "agent").items():
        for seed, score in scores:
            if (task_id, seed) in first:
                gains[task_id].append(score - first[(task_id, seed)])
    return aggregate(gains).to_dict() if gains else None


def sweep_summary(records: Records, config: Mapping[str, Any]) -> dict[str, Any]:
    """The adaptation sweep: per split, the score at every K (at the agent's own gradient steps) and
    at every number of gradient steps (at the run's K), each an aggregate as meta-test's."""

    def point(split: str, **fields: Any) -> dict[str, Any] | None:
        trials = _scores_by_trial(records, split, "sweep", **fields)
        if not trials:
            return None
        scores = {tid: [score for _, score in values] for tid, values in trials.items()}
        return aggregate(scores).to_dict()

    sweep, k = config["sweep"], config["adapt_episodes"]
    splits = {}
    for split in sweep["splits"]:
        episodes = [
            {"k": n, **agg} for n in sweep["episodes"] if (agg := point(split, adapt_episodes=n, gradient_steps=None))
        ]
        steps = [
            {"gradient_steps": g, **agg}
            for g in sweep["gradient_steps"]
            if (agg := point(split, adapt_episodes=k, gradient_steps=g))
        ]
        splits[split] = {"episodes": episodes, "gradient_steps": steps}
    return {"adapt_episodes": k, "trained": config["adaptation"]["declared"], "splits": splits}


def demo_split(split: str, count: int) -> str:
    """The name of one (split, D) cell of the few-shot-demos summary, e.g. ``"test, D=3"``."""
    return f"{split}, D={count}"


def demonstration_summary(config: Mapping[str, Any], records: Records) -> dict[str, Any]:
    """The few-shot-demos section: one split aggregate per (split, D), named by :func:`demo_split`, and
    whether the agent took the demonstrations (``None`` before any unit finished; ``False``: it has no
    ``observe_demonstration`` hook, so every D was evaluated as D = 0)."""
    counts = config["demonstrations"]
    splits = {
        demo_split(split, count): split_summary(records, split, f"demos-{count}")
        for split in ["test", *config["ood_levels"]]
        for count in counts
    }
    shown = [r["demonstrations_shown"] == r["demonstrations"] for r in records if "demonstrations" in r]
    return {
        "demonstrations": list(counts),
        "noise": config["demo_noise"],
        "agent_takes_demonstrations": all(shown) if shown else None,
        "splits": splits,
    }


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


# ---------------------------------------------------------------------- interpretation

#: Methods that adapt within an episode (a sequence model conditioned on the trial so far), by method_key.
IN_CONTEXT_METHODS = frozenset({"rl2", "transformer"})
AggregateDict = Mapping[str, Any]  # an aggregate as summaries hold it: iqm, low, high (and distance, success)


@dataclass(frozen=True)
class MethodNumbers:
    """One method's numbers on one benchmark, as :func:`interpretation` reads them.

    Aggregates are the dicts of :func:`split_summary`, :func:`adaptation_curve` and
    :func:`adaptation_gain` (``iqm``, ``low``, ``high``; OOD levels also ``distance``).

    Attributes:
        method: the method's name (:func:`~tasksuite.evaluation.style.method_style` gives its label).
        benchmark: the benchmark's name.
        adapt_episodes: K, adaptation episodes per trial (0: no adaptation).
        splits: aggregates by split: ``"test"`` (after adaptation) and/or ``"train"``, then the OOD levels;
            ``None`` for a split without finished units.
        pre: the first episode of the test trials (``adaptation_curve(...)[0]``), when K > 0.
        gain: :func:`adaptation_gain` on the test split, when K > 0.
        training_seeds: training runs pooled in the aggregates; ``None``: one trained agent as given.
        in_context: whether the method adapts within an episode (``None``: known for RL² and the transformer).
        transfer: the transfer section of a summary (:func:`summarize`), when the protocol ran.
        sweep: the adaptation-sweep section of a summary (:func:`sweep_summary`), when the protocol ran.
    """

    method: str
    benchmark: str
    adapt_episodes: int
    splits: Mapping[str, AggregateDict | None]
    pre: AggregateDict | None = None
    gain: AggregateDict | None = None
    training_seeds: int | None = None
    in_context: bool | None = None
    transfer: Mapping[str, Any] | None = None
    sweep: Mapping[str, Any] | None = None

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any], config: Mapping[str, Any]) -> MethodNumbers:
        """The numbers of one ``evaluate`` run (its summary and config)."""
        protocols = summary["protocols"]
        splits: dict[str, AggregateDict | None] = {}
        for name in ("multi-task", "meta-test", "ood-sweep"):
            splits.update(protocols.get(name, {}).get("splits", {}))
        adapting = [protocols[p] for p in ("meta-test", "ood-sweep") if p in protocols]
        k = config["adapt_episodes"] if adapting else 0
        curve = adapting[0]["curves"].get("test") if adapting else None
        training_seeds = config["seeds"] if config.get("runs") == "training seeds" else None
        return cls(
            method=method_of(config),
            benchmark=config["benchmark"],
            adapt_episodes=k,
            splits=splits,
            pre=curve[0] if k and curve else None,
            gain=adapting[0].get("gains", {}).get("test") if k else None,
            training_seeds=training_seeds,
            transfer=protocols.get("transfer"),
            sweep=protocols.get("adaptation-sweep"),
        )

    @property
    def label(self) -> str:
        """The method's display label."""
        return method_style(self.method).label

    @property
    def adapts_in_context(self) -> bool:
        """Whether the method adapts within an episode (explicitly, or known by its name)."""
        return self.in_context if self.in_context is not None else method_key(self.method) in IN_CONTEXT_METHODS

    @property
    def in_distribution(self) -> tuple[str, AggregateDict] | None:
        """``(split, aggregate)`` of the in-distribution score: after adaptation on the test tasks when the method
        adapts (K > 0), else on the training tasks when measured (the multi-task protocol), else the test tasks."""
        for split in ("test", "train") if self.adapt_episodes else ("train", "test"):
            if self.splits.get(split):
                return split, self.splits[split]  # type: ignore[return-value]
        return None

    @property
    def ood(self) -> list[tuple[str, AggregateDict]]:
        """The OOD levels with a score, nearest first."""
        levels = [(s, agg) for s, agg in self.splits.items() if s not in ("train", "test") and agg]
        return sorted(levels, key=lambda item: item[1]["distance"])


def method_of(config: Mapping[str, Any]) -> str:
    """The method name of an ``evaluate`` run: recorded by the harness, else (older folders) its factory's name."""
    spec = config.get("agent") or config.get("trainer") or "agent"
    return config.get("method") or spec.rpartition(":")[2]


def _overlap(a: AggregateDict, b: AggregateDict) -> bool:
    return a["low"] <= b["high"] and b["low"] <= a["high"]


def _adaptation_sentence(m: MethodNumbers) -> str | None:
    found = m.in_distribution
    if found is None:
        return None
    split, post = found
    where = "its training tasks" if split == "train" else "the test tasks"
    who = f"**{m.label}** on `{m.benchmark}`"
    if not m.adapt_episodes or m.pre is None:
        return f"{who} scores {format_interval(post)} on {where} without adaptation (K = 0)."
    if m.gain is not None:
        low, high = m.gain["low"], m.gain["high"]
        gain = f"a gain of {m.gain['iqm']:+.3f} [{low:+.3f}, {high:+.3f}] per trial"
    else:  # no paired gain (a caller without records): the widest difference the two intervals allow
        low, high = post["low"] - m.pre["high"], post["high"] - m.pre["low"]
        gain = f"a difference of {post['iqm'] - m.pre['iqm']:+.3f}"
    verdict = (
        "adapts"
        if low > 0
        else "gets worse with adaptation"
        if high < 0
        else "shows no measurable adaptation (the interval contains 0)"
    )
    return (
        f"{who} {verdict}: {format_interval(m.pre)} in the first episode, {format_interval(post)} after "
        f"K = {m.adapt_episodes} adaptation episodes, {gain}."
    )


def _ood_sentence(m: MethodNumbers) -> str | None:
    found, levels = m.in_distribution, m.ood
    if found is None or not levels:
        return None
    split, reference = found
    scores = ", ".join(f"{name} (mean distance {agg['distance']:.2f}) {format_interval(agg)}" for name, agg in levels)
    # A level holds unless its whole interval lies under the in-distribution one (above it holds too).
    dropped = [agg["high"] < reference["low"] for _, agg in levels]
    held = dropped.index(True) if True in dropped else len(levels)
    if held == len(levels):
        verdict = f"it holds its {split} score out to {levels[-1][0]}"
    elif held:
        verdict = f"it holds its {split} score up to {levels[held - 1][0]} and drops from {levels[held][0]}"
    else:
        verdict = f"it drops below its {split} score already at {levels[0][0]}"
    below = [name for name, agg in levels if agg["high"] < 0]
    if below:
        verdict += f"; below random (the whole interval under 0) at {', '.join(below)}"
    random = [name for name, agg in levels if agg["low"] <= 0 <= agg["high"]]
    if random:
        verdict += f"; no better than random (the interval contains 0) at {', '.join(random)}"
    inverted = [  # a dropped level under a farther one: the drop is not a matter of distance alone
        f"{near} scores below the farther {far}"
        for ((near, a), (far, b)), fell in zip(itertools.pairwise(levels), dropped, strict=False)
        if fell and a["high"] < b["low"]
    ]
    if inverted:
        verdict += f"; not monotone in distance: {', '.join(inverted)}"
    return f"Out of distribution, {scores}: {verdict}."


def _sweep_sentence(m: MethodNumbers) -> str | None:
    points = (m.sweep or {}).get("splits", {}).get("test", {}).get("episodes") if m.sweep else None
    if not points or len(points) < 2:
        return None
    trained = (m.sweep.get("trained") or {}).get("episodes")  # type: ignore[union-attr]
    cells = ", ".join(f"K = {p['k']}{' (trained)' if p['k'] == trained else ''} {format_interval(p)}" for p in points)
    sentence = f"By adaptation budget, **{m.label}** on the test tasks of `{m.benchmark}` scores {cells}"
    at_trained = next((p for p in points if p["k"] == trained), None)
    if at_trained is not None:
        more = [p for p in points if p["k"] > trained]
        fewer = [p for p in points if p["k"] < trained]
        if more:
            verdict = (
                "more episodes than trained help"
                if more[-1]["low"] > at_trained["high"]
                else "more episodes than trained hurt"
                if more[-1]["high"] < at_trained["low"]
                else "more episodes than trained change nothing measurable"
            )
            sentence += f"; {verdict} (K = {more[-1]['k']} against K = {trained})"
        if fewer and fewer[0]["high"] < at_trained["low"]:
            sentence += f"; with K = {fewer[0]['k']} it is below its trained-budget score"
    return sentence + "."


def _ranking_sentences(methods: Sequence[MethodNumbers]) -> list[str]:
    by_benchmark: dict[str, list[tuple[MethodNumbers, AggregateDict]]] = defaultdict(list)
    for m in methods:
        if m.in_distribution:
            by_benchmark[m.benchmark].append((m, m.in_distribution[1]))
    sentences = []
    for benchmark, scored in by_benchmark.items():
        if len(scored) < 2:
            continue
        scored.sort(key=lambda item: -item[1]["iqm"])
        parts = []
        for (a, agg_a), (b, agg_b) in itertools.pairwise(scored):
            if _overlap(agg_a, agg_b):
                parts.append(f"{a.label} and {b.label} overlap, so no ranking between them is claimed")
            else:
                parts.append(f"{a.label} is above {b.label} (disjoint intervals)")
        sentences.append(f"On `{benchmark}`: {'; '.join(parts)}.")
    return sentences


def _transfer_sentence(m: MethodNumbers) -> str | None:
    t = m.transfer
    if not t or not t.get("all") or not t.get("single"):
        return None
    return (
        f"Trained on all tasks at once, **{m.label}** scores {format_interval(t['all'])} on `{m.benchmark}`, "
        f"against {format_interval(t['single'])} for agents trained on one task each; negative transfer on "
        f"{len(t['negative_transfer'])} of {len(t['tasks'])} task(s)."
    )


def _caveats(methods: Sequence[MethodNumbers]) -> list[str]:
    caveats = []
    one_agent = [m.label for m in methods if m.training_seeds is None]
    one_seed = [m.label for m in methods if m.training_seeds == 1]
    if one_agent:
        caveats.append(
            f"The intervals of {', '.join(dict.fromkeys(one_agent))} resample tasks and evaluation seeds of one "
            "trained agent: they do not cover the spread between training runs."
        )
    if one_seed:
        caveats.append(
            f"{', '.join(dict.fromkeys(one_seed))}: one training seed, so the intervals resample tasks and "
            "evaluation seeds, not training runs; another seed can land outside them."
        )
    flat = [
        m.label
        for m in methods
        if any(agg and agg.get("runs", 0) > 1 and agg["low"] == agg["high"] for agg in m.splits.values())
    ]
    if flat:
        caveats.append(
            f"{', '.join(dict.fromkeys(flat))}: some intervals have zero width because every run of each task "
            "scored the same (a deterministic agent): that is no spread between runs, not certainty."
        )
    budgets = {m.label: m.adapt_episodes for m in methods if m.in_distribution and m.splits.get("test")}
    if len(set(budgets.values())) > 1:
        listed = ", ".join(f"{label} K = {k}" for label, k in budgets.items())
        caveats.append(f"Adaptation budgets differ ({listed}): the post-adaptation scores are not like for like.")
    for m in methods:
        if m.adapts_in_context and m.adapt_episodes and m.pre is not None:
            caveats.append(
                f"{m.label} adapts within its first episode (it conditions on the trial so far): its "
                "first-episode score already includes adaptation, so the gain from it understates adaptation."
            )
    return list(dict.fromkeys(caveats))


def interpretation(methods: Sequence[MethodNumbers]) -> str:
    """A paragraph (Markdown) that says what the numbers mean: which method adapts and by how much, how far out of
    distribution it holds and where it drops below random, which intervals overlap (no ranking claimed), then
    the caveats that apply (one agent or one training seed, unequal adaptation budgets, in-context adaptation).

    Takes one :class:`MethodNumbers` per (method, benchmark): ``evaluate``'s report passes one, ``validate``'s
    one per row of its table.
    """
    sentences: list[str] = []
    for m in methods:
        found = (_adaptation_sentence(m), _ood_sentence(m), _sweep_sentence(m), _transfer_sentence(m))
        sentences += [s for s in found if s]
    sentences += _ranking_sentences(methods)
    caveats = _caveats(methods)
    text = " ".join(sentences) or "No finished units yet: nothing to interpret."
    return text + ("\n\n**Caveats.** " + " ".join(caveats) if caveats else "")


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
    lines = [f"# {method_style(method_of(config)).label} on {config['benchmark']}", ""]
    if summary["privileged"]:
        lines += [
            "> **Privileged reference agent**: it was shown the task in every setting; "
            "its scores are a reference, not a meta-RL result.",
            "",
        ]
    adaptation = config.get("adaptation") or {}
    if adaptation.get("notice"):
        lines += [f"> **Adaptation budget**: {adaptation['notice']}.", ""]
    if set(config["protocols"]) != {DEMO_PROTOCOL}:  # the interpretation reads the self-exploration protocols
        lines += [interpretation([MethodNumbers.from_summary(summary, config)]), ""]
    settings = [
        ("agent", f"`{config['agent']}` {config['agent_kwargs'] or ''}" if config["agent"] else "none"),
        ("benchmark", f"`{config['benchmark']}` ({config['setting']} setting, split seed {config['split_seed']})"),
        ("protocols", ", ".join(config["protocols"])),
        ("adaptation episodes (K)", f"{config['adapt_episodes']} ({budget_source(adaptation)})"),
        ("evaluation episodes (E)", config["eval_episodes"]),
        ("seeds", f"{config['seeds']} ({RUNS_ARE.get(config.get('runs', ''), 'runs')})"),
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
        "adaptation-sweep": "Adaptation sweep: the score as a function of the adaptation budget",
        "transfer": "Transfer: one agent trained on all tasks vs one per task",
        DEMO_PROTOCOL: "Few-shot demonstrations: D oracle demonstrations, then evaluation",
    }
    shown: set[str] = set()
    for protocol, section in summary["protocols"].items():
        lines += [f"## {titles[protocol]}", ""]
        if protocol == "transfer":
            lines += transfer_lines(section)
        elif protocol == "adaptation-sweep":
            lines += sweep_lines(section)
        elif protocol == DEMO_PROTOCOL:
            lines += demonstration_lines(section, config) + _split_lines(section)
        else:
            lines += _split_lines(section)
        if section.get("robustness"):
            lines += robustness_lines(section["robustness"], config.get("distance_unit", ""))
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


#: What the harness's runs are, by the config's ``runs``: the interval's coverage follows.
RUNS_ARE = {
    "training seeds": "run k is the agent built for seed k: the intervals resample training seeds within each task",
    "evaluation seeds": "every run is the same agent: the intervals resample evaluation seeds within each task, "
    "not training seeds",
}


def budget_source(adaptation: Mapping[str, Any]) -> str:
    """Why a run used its K, from the config's ``adaptation`` (empty for folders older than budgets)."""
    declared = adaptation.get("declared")
    trained = f"trained for K={declared['episodes']}" if declared else "declares no budget"
    return {
        "given": f"given; the agent {trained}",
        "declared": "the agent's trained budget",
        "default": "the harness default: the agent declares no budget",
    }.get(adaptation.get("source", ""), "as given")


def robustness_lines(found: Mapping[str, Any], distance_unit: str) -> list[str]:
    """The robustness figures of an OOD sweep as one paragraph."""
    unit = distance_unit or "unit of distance"
    near, far = found["distance_range"]
    return [
        f"Robustness over distances {near:.2f} to {far:.2f} ({found['levels']} levels, test included): "
        f"area under score vs distance, per unit of range, {found['auc']:.3f} "
        f"[{found['auc_low']:.3f}, {found['auc_high']:.3f}] (the average score over the range); slope "
        f"{found['slope']:+.3f} [{found['slope_low']:+.3f}, {found['slope_high']:+.3f}] per {unit} "
        f"({found['method']}).",
        "",
    ]


def sweep_lines(section: Mapping[str, Any]) -> list[str]:
    """Markdown tables of an adaptation sweep: score by K, and by gradient steps where swept."""
    trained = section["trained"]
    lines = [
        f"Each point is meta-test with that budget (same tasks and seeds); the run's K is "
        f"{section['adapt_episodes']}, "
        + (
            f"the agent was trained for {AdaptationBudget(**trained).describe()}."
            if trained
            else "the agent declares no budget."
        ),
        "",
    ]
    for split, points in section["splits"].items():
        if points["episodes"]:
            lines += [f"**{split}** by adaptation episodes:", "", "| K | score IQM [95% CI] | runs |", "|---|---|---|"]
            lines += [f"| {p['k']} | {format_interval(p)} | {p['runs']} |" for p in points["episodes"]]
            lines.append("")
        if points["gradient_steps"]:
            lines += [
                f"**{split}** by test-time gradient steps (K = {section['adapt_episodes']}):",
                "",
                "| gradient steps | score IQM [95% CI] | runs |",
                "|---|---|---|",
            ]
            lines += [
                f"| {p['gradient_steps']} | {format_interval(p)} | {p['runs']} |" for p in points["gradient_steps"]
            ]
            lines.append("")
    return lines


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


def demonstration_lines(section: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """What the few-shot-demos scores are (and are not), above their table."""
    noise = f"with Gaussian action noise of {section['noise']:g} half-widths" if section["noise"] else "noise-free"
    lines = [
        f"> **Demonstrations were given**: before its {config['eval_episodes']} evaluation episode(s) on a task the "
        f"agent was shown D of the oracle's episodes of that task ({noise}), and no adaptation episodes. "
        "These scores measure learning from demonstrations, not self-exploration.",
        "",
    ]
    if section["agent_takes_demonstrations"] is False:
        lines += [
            "> The agent has no `observe_demonstration` hook: it was shown nothing, and every D was evaluated "
            "as D = 0.",
            "",
        ]
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
    "adaptation-sweep": ["sweep"],
    "transfer": ["transfer"],
    DEMO_PROTOCOL: ["demonstrations"],
}


_PLOT_NAMES = ("adaptation", "ood", "sweep", "transfer", "demonstrations")


def draw_plots(summary: dict[str, Any], config: dict[str, Any], results: ResultsDir) -> dict[str, str]:
    """Draw the plots the summary has data for; return ``{name: path relative to the results folder}``."""
    drawn: dict[str, str] = {}
    for name, figure in report_figures(summary, config).items():
        save_png(figure, results.plots / f"{name}.png")
        drawn[name] = f"plots/{name}.png"
    for name in set(_PLOT_NAMES) - set(drawn):  # one an older version of the report drew, now without data
        (results.plots / f"{name}.png").unlink(missing_ok=True)
    return drawn


def report_figures(summary: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a run's report by name (``adaptation``, ``ood``, ``transfer``), each titled with the
    method and the benchmark, drawn in the method's colour and marker (:mod:`tasksuite.evaluation.style`).

    No adaptation figure when K = 0: without adaptation episodes there is no curve to draw.
    """
    # Figure without pyplot: no global backend, no GUI, nothing left open (the Agg canvas is built in).
    from matplotlib.figure import Figure

    protocols = summary["protocols"]
    style = method_style(method_of(config))
    title = f"{style.label} on {config['benchmark']}"
    curves: dict[str, list] = {}
    for name in ("meta-test", "ood-sweep"):
        curves.update({s: c for s, c in protocols.get(name, {}).get("curves", {}).items() if c})
    figures: dict[str, Any] = {}
    if curves and config["adapt_episodes"] > 0:
        figures["adaptation"] = adaptation_figure(Figure(figsize=(6.4, 4.2)), curves, config["adapt_episodes"], style)
        figures["adaptation"].axes[0].set_title(f"{title}: adaptation curves")
    if protocols.get("ood-sweep", {}).get("tasks"):
        figures["ood"] = ood_figure(Figure(figsize=(6.4, 4.2)), protocols["ood-sweep"], config["distance_unit"], style)
        figures["ood"].axes[0].set_title(f"{title}: score vs distance (dots: tasks)")
    sweep = protocols.get("adaptation-sweep")
    if sweep and any(points["episodes"] or points["gradient_steps"] for points in sweep["splits"].values()):
        figures["sweep"] = sweep_figure(Figure(figsize=(9.6, 4.2)), sweep, style)
        figures["sweep"].suptitle(f"{title}: score vs adaptation budget")
    if protocols.get("transfer", {}).get("tasks"):
        figures["transfer"] = transfer_figure(Figure(figsize=(6.4, 4.2)), protocols["transfer"], style)
        figures["transfer"].axes[0].set_title(f"{title}: transfer per task")
    if any(protocols.get(DEMO_PROTOCOL, {}).get("splits", {}).values()):
        figures["demonstrations"] = demonstration_figure(
            Figure(figsize=(6.4, 4.2)), protocols[DEMO_PROTOCOL], ["test", *config["ood_levels"]], style
        )
        figures["demonstrations"].axes[0].set_title(f"{title}: score vs demonstrations")
    return figures


def demonstration_figure(figure: Any, section: Mapping[str, Any], splits: Sequence[str], style: MethodStyle) -> Any:
    """Score (IQM, 95% CI) vs the number of demonstrations D, one line per split (test, then each OOD level)."""
    ax = figure.subplots()
    for split, linestyle in zip(splits, SPLIT_LINESTYLES, strict=False):
        points = [(d, section["splits"][demo_split(split, d)]) for d in section["demonstrations"]]
        points = [(d, agg) for d, agg in points if agg]
        if not points:
            continue
        counts, aggs = [d for d, _ in points], [agg for _, agg in points]
        ax.errorbar(
            counts,
            [a["iqm"] for a in aggs],
            yerr=[[a["iqm"] - a["low"] for a in aggs], [a["high"] - a["iqm"] for a in aggs]],
            color=style.color,
            marker=style.marker,
            linestyle=linestyle,
            capsize=3,
            label=split,
        )
    draw_references(ax)
    ax.set(xlabel="oracle demonstrations shown (D)", ylabel="normalized score")
    ax.set_xticks(list(section["demonstrations"]))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.08, 1.0), title=style.label, title_fontsize=8)
    return figure


def save_png(figure: Any, path: Path) -> None:
    """Write a matplotlib figure as a PNG, atomically."""
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=120, bbox_inches="tight"))


def draw_references(ax: Any) -> None:
    """Dotted lines at the oracle's (1) and the random policy's (0) normalized score, named in the right margin."""
    for level, name in ((1.0, "oracle"), (0.0, "random")):
        ax.axhline(level, color="0.4", linestyle=":", linewidth=1)
        ax.text(1.01, level, name, transform=ax.get_yaxis_transform(), va="center", fontsize=8, color="0.3")


#: Line styles of a method's splits in one figure (the colour is the method's): test, then each OOD level.
SPLIT_LINESTYLES = ("-", "--", ":", "-.")


def adaptation_figure(
    figure: Any, curves: Mapping[str, Sequence[Mapping[str, Any]]], k: int, style: MethodStyle
) -> Any:
    """Normalized return per episode of the trial, one line per split in the method's colour; K shaded."""
    ax = figure.subplots()
    for index, (split, curve) in enumerate(curves.items()):
        x = [p["episode"] + 1 for p in curve]
        linestyle = SPLIT_LINESTYLES[index % len(SPLIT_LINESTYLES)]
        ax.plot(x, [p["iqm"] for p in curve], linestyle=linestyle, **{**style.plot_kwargs(), "label": split})
        ax.fill_between(x, [p["low"] for p in curve], [p["high"] for p in curve], color=style.color, alpha=0.12)
    ax.axvspan(0.5, k + 0.5, color="0.92", zorder=0, label="adaptation episodes")
    draw_references(ax)
    ax.set(xlabel="episode of the trial", ylabel="normalized return (IQM, 95% CI)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    outside_legend(ax, style)
    return figure


def sweep_figure(figure: Any, section: Mapping[str, Any], style: MethodStyle) -> Any:
    """Score vs K (and vs test-time gradient steps where swept), one line per split in the method's
    colour; the trained budget marked by a dashed line, the run's K by a dotted one."""
    by_steps = any(points["gradient_steps"] for points in section["splits"].values())
    axes = figure.subplots(1, 2 if by_steps else 1, squeeze=False)[0]
    trained = section["trained"] or {}
    panels = [("episodes", "k", "adaptation episodes K", trained.get("episodes"))]
    if by_steps:
        panels.append(("gradient_steps", "gradient_steps", "test-time gradient steps", trained.get("gradient_steps")))
    for ax, (kind, key, xlabel, mark) in zip(axes, panels, strict=True):
        for index, (split, points) in enumerate(section["splits"].items()):
            if not points[kind]:
                continue
            x = [p[key] for p in points[kind]]
            linestyle = SPLIT_LINESTYLES[index % len(SPLIT_LINESTYLES)]
            ax.plot(x, [p["iqm"] for p in points[kind]], linestyle=linestyle, **{**style.plot_kwargs(), "label": split})
            ax.fill_between(
                x, [p["low"] for p in points[kind]], [p["high"] for p in points[kind]], color=style.color, alpha=0.12
            )
        if mark is not None:
            ax.axvline(mark, color="black", linestyle="--", linewidth=1, label="trained budget")
        if kind == "episodes" and section["adapt_episodes"] != mark:
            ax.axvline(section["adapt_episodes"], color="0.5", linestyle=":", linewidth=1, label="this run's K")
        ticks = sorted({p[key] for points in section["splits"].values() for p in points[kind]})
        if kind == "episodes" and max(ticks, default=0) > 4:
            ax.set_xscale("symlog", linthresh=1)  # K doubles from one point to the next
        ax.set_xticks(ticks, [str(t) for t in ticks])
        draw_references(ax)
        ax.set(xlabel=xlabel, ylabel="normalized score (IQM, 95% CI)")
    outside_legend(axes[-1], style)
    figure.subplots_adjust(wspace=0.45)
    return figure


def outside_legend(ax: Any, style: MethodStyle) -> None:
    """The legend, titled with the method, right of the axes and past the oracle/random names, over no data."""
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.14, 0.5), title=style.label, title_fontsize=8)


def ood_figure(figure: Any, section: Mapping[str, Any], distance_unit: str, style: MethodStyle) -> Any:
    """Per-task scores (dots) and each split's IQM with its interval against the distance from the training
    support, in the method's colour; splits named above their interval."""
    ax = figure.subplots()
    splits = [s for s, agg in section["splits"].items() if agg is not None]
    points = [t for t in section["tasks"] if t["split"] in splits]
    ax.scatter(
        [t["distance"] for t in points],
        [t["score"] for t in points],
        s=12,
        alpha=0.35,
        color=style.color,
        marker=style.marker,
        linewidths=0,
        label="tasks",
    )
    for index, split in enumerate(splits):
        agg = section["splits"][split]
        ax.errorbar(
            agg["distance"],
            agg["iqm"],
            yerr=[[agg["iqm"] - agg["low"]], [agg["high"] - agg["iqm"]]],
            fmt=style.marker,
            markersize=8,
            capsize=4,
            color=style.color,
            markeredgecolor="black",
            label="split IQM, 95% CI" if index == 0 else None,
        )
        ax.annotate(
            split, (agg["distance"], agg["high"]), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=8
        )
    draw_references(ax)
    unit = f" ({distance_unit})" if distance_unit else ""
    ax.set(xlabel=textwrap.fill(f"distance from the training support{unit}", 70), ylabel="normalized score")
    ax.margins(x=0.08, y=0.12)  # room for the split names above the intervals
    outside_legend(ax, style)
    return figure


def transfer_figure(figure: Any, section: Mapping[str, Any], style: MethodStyle) -> Any:
    """Each task at (score trained alone, score trained on all tasks), in the method's colour; tasks with
    negative transfer ringed in red."""
    # Scores, not ratios: a ratio explodes where the single-task agent scores near 0.
    ax = figure.subplots()
    tasks = section["tasks"]
    alone, together = [t["single"] for t in tasks], [t["all"] for t in tasks]
    low = min(0.0, *alone, *together) - 0.05
    high = max(1.0, *alone, *together) + 0.05
    ax.plot([low, high], [low, high], color="black", linewidth=1, label="no transfer (above: positive)")
    below = [low - section["tolerance"], high - section["tolerance"]]  # more than the tolerance under
    ax.fill_between([low, high], [low, low], below, color="tab:red", alpha=0.08, label="negative transfer")
    negative = [t["negative_transfer"] for t in tasks]
    ax.scatter(
        alone,
        together,
        color=style.color,
        marker=style.marker,
        zorder=3,
        label="tasks",
        edgecolors=["tab:red" if n else style.color for n in negative],
        linewidths=[2 if n else 0.5 for n in negative],
    )
    for task, x, y in zip(tasks, alone, together, strict=True):
        # The first parameter names the task well enough beside its dot (the report's table has the rest).
        ax.annotate(
            task["label"].split(",")[0].split("=")[-1], (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7
        )
    ax.set(xlim=(low, high), ylim=(low, high), aspect="equal")
    ax.set(xlabel="score of an agent trained on this task alone", ylabel="score of the agent trained on all tasks")
    # Beside the square axes, where no task's dot can hide under it.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), title=style.label, title_fontsize=8)
    return figure
