"""The ``tasksuite`` command line.

Every subcommand explains itself with ``--help``. Heavy imports (simulators,
torch) happen inside the subcommand that needs them, so ``tasksuite --help``
and ``tasksuite list`` stay instant.

A user's mistake (an unknown name, a missing or malformed file, a file where a
folder is expected, a full disk) ends in one line on stderr and exit status 2;
``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import tasksuite
from tasksuite.baselines import ALGORITHMS, INSTALL_TORCH, import_with_torch, train_baseline  # torch-free until used
from tasksuite.core.errors import TasksuiteError, UnknownNameError, did_you_mean
from tasksuite.evaluation.demonstrations import DEFAULT_DEMONSTRATIONS
from tasksuite.evaluation.protocols import (
    DEFAULT_ADAPT_EPISODES,
    DEFAULT_BUDGET,
    DEFAULT_EVAL_EPISODES,
    DEFAULT_SEEDS,
    DEFAULT_SWEEP_EPISODES,
    DEFAULT_SWEEP_GRADIENT_STEPS,
    PROTOCOLS,
)
from tasksuite.evaluation.references import DEFAULT_REFERENCE_EPISODES
from tasksuite.registry import benchmark_entries, benchmark_entry, family_entries, generate_splits

DEFAULT_BENCHMARK = "navigation-meta"
#: How long each validate plan takes, as measured, with the machine and its load: the one claim that the
#: README and --help make (tests/test_readme.py checks that they agree).
QUICK_PLAN_TIME = (
    "4.7 minutes of training, evaluation, adaptation and demonstration sweeps on 2 CPU cores, Intel Xeon, "
    "Python 3.11, torch 2.13 CPU, shared with two training jobs at load average 3.5"
)
FULL_PLAN_TIME = (
    "many hours on 2 CPU cores (PEARL and the MuJoCo benchmarks take most), run in parts; docs/results.md records "
    "each part's wall-clock and load"
)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table (a dozen lines; not worth a dependency such as tabulate)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ---------------------------------------------------------------------- list / show


def cmd_list(args: argparse.Namespace) -> int:
    families = [(e.name, e.env_id, tasksuite.get_family(e.name).horizon) for e in family_entries()]
    print("Families\n" + format_table(["name", "gymnasium id", "horizon"], families))
    benchmarks = [
        (b.name, b.family, b.setting, b.n_train, b.n_test if b.n_test is not None else "= train", b.n_ood, b.summary)
        for b in benchmark_entries()
    ]
    print(
        "\nBenchmarks\n"
        + format_table(["name", "family", "setting", "train", "test", "ood/level", "summary"], benchmarks)
    )
    return 0


def _show_family(name: str) -> None:
    family = tasksuite.get_family(name)
    info = family.describe()
    print(f"{info['name']}  ({info['env_id']}, horizon {info['horizon']})\n{info['summary']}\n")
    print(f"Training distribution: {info['training']}\n")
    if info["source"]:
        print(f"Source: {info['source']}\n")
    rows = [(p["name"], p["allowed"], p["default"], p["doc"]) for p in info["parameters"]]
    print("Parameters\n" + format_table(["name", "allowed", "default", "meaning"], rows))
    levels = [(lv["name"], f"[{lv['low']:g}, {lv['high']:g})", lv["doc"]) for lv in info["ood_levels"]]
    print(f"\nOOD levels (distance: {info['distance_unit']})\n" + format_table(["level", "distance", "region"], levels))
    for title, (headers, table_rows) in family.extra_sections().items():
        print(f"\n{title}\n" + format_table(headers, table_rows))
    examples = family.splits(seed=0, n_train=3, n_test=None, n_ood=1, setting="multi-task")
    print("\nExample tasks (seed 0)")
    for task in examples.train + examples.ood:
        print(f"  {task!r}")
    used = [b.name for b in benchmark_entries() if b.family == name]
    if used:
        print(f"\nBenchmarks: {', '.join(used)}")


def _show_benchmark(name: str) -> None:
    benchmark = tasksuite.make_benchmark(name)
    entry = benchmark_entry(name)
    splits = benchmark.splits
    print(f"{name}: {entry.summary}\n")
    print(
        f"family {benchmark.family.name} ({benchmark.family.env_id}), setting {benchmark.setting}, seed {splits.seed}"
    )
    counts = [("train", len(splits.train), "0"), ("test", len(splits.test), "0")]
    for level, tasks in splits.ood_levels.items():
        distances = [t.distance for t in tasks]
        counts.append((f"ood/{level}", len(tasks), f"{min(distances):.3g} - {max(distances):.3g}"))
    print("\n" + format_table(["split", "tasks", "distance"], counts))
    print("\nFirst tasks")
    for split in ("train", "test"):
        print(f"  {split}: {benchmark.tasks(split)[0]!r}")
    for tasks in splits.ood_levels.values():
        print(f"  ood: {tasks[0]!r}")


def cmd_show(args: argparse.Namespace) -> int:
    families, benchmarks = tasksuite.list_families(), tasksuite.list_benchmarks()
    if args.name in families:
        _show_family(args.name)
    elif args.name in benchmarks:
        _show_benchmark(args.name)
    else:
        raise UnknownNameError(
            f"{args.name!r} is neither a family ({', '.join(families)}) nor a benchmark ({', '.join(benchmarks)})"
            + did_you_mean(args.name, families + benchmarks)
        )
    return 0


# ---------------------------------------------------------------------- rollout / manifest


def cmd_rollout(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tasksuite.evaluation.rollout import RandomPolicy, run_episode

    benchmark = tasksuite.make_benchmark(args.benchmark, seed=args.split_seed)
    splits = ["train", "test", *benchmark.splits.ood_levels]
    plan = {split: benchmark.tasks(split)[: args.max_tasks] for split in splits}
    total = 2 * args.episodes * sum(len(tasks) for tasks in plan.values())
    rows = []
    with tqdm(total=total, desc=f"rollout {args.benchmark}", unit="episode", disable=args.quiet) as progress:
        for split, tasks in plan.items():
            results: dict[str, list] = {"oracle": [], "random": []}
            for task in tasks:
                env = benchmark.make_env(task)
                policies = {
                    "oracle": benchmark.family.oracle_policy(task),
                    "random": RandomPolicy(env.action_space, seed=args.seed),
                }
                for name, policy in policies.items():
                    for episode in range(args.episodes):
                        results[name].append(run_episode(env, policy, seed=args.seed + episode))
                        progress.update()
                env.close()
            rows.append(
                (
                    split,
                    len(tasks),
                    *(f"{np.mean([e.ret for e in results[p]]):.2f}" for p in ("oracle", "random")),
                    *(f"{np.mean([e.success for e in results[p]]):.0%}" for p in ("oracle", "random")),
                )
            )
    headers = ["split", "tasks", "oracle return", "random return", "oracle success", "random success"]
    print(f"\n{benchmark!r}\n" + format_table(headers, rows))
    return 0


def cmd_manifest(args: argparse.Namespace) -> int:
    if args.generate:
        benchmark = tasksuite.Benchmark(
            args.benchmark,
            tasksuite.get_family(benchmark_entry(args.benchmark).family),
            generate_splits(args.benchmark, seed=args.seed),
        )
    else:
        benchmark = tasksuite.make_benchmark(args.benchmark, seed=args.seed)
    path = benchmark.save_manifest(args.out)
    print(
        f"wrote {path} ({len(benchmark.train_tasks)} train, {len(benchmark.test_tasks)} test, "
        f"{len(benchmark.ood_tasks)} OOD tasks)"
    )
    return 0


# ---------------------------------------------------------------------- bench


def cmd_bench(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tasksuite import speed
    from tasksuite.core.io import atomic_write_json

    available = speed.scenarios(args.family)
    chosen = [s for s in available if not args.only or any(part in s.name for part in args.only)]
    if not chosen:
        names = [s.name for s in available]
        raise UnknownNameError(
            f"--only {' '.join(args.only)} matches no scenario{did_you_mean(args.only[0], names)}; "
            f"scenarios are {', '.join(names)}"
        )
    metaworld, metaworld_error = None, None
    if args.metaworld_python:
        try:
            metaworld = speed.MetaWorld(args.metaworld_python, args.seconds)
        except speed.MetaWorldError as error:
            metaworld_error = str(error)
    progress = tqdm(chosen, desc="bench", unit="scenario", disable=args.quiet)
    measurements = []
    for scenario in progress:
        between = metaworld.between_rounds(scenario) if metaworld else None
        try:
            measurements.append(speed.measure(scenario, args.seconds, between=between))
        except speed.MetaWorldError as error:  # ours are measured again alone; the comparison says why it failed
            metaworld, metaworld_error = None, str(error)
            measurements.append(speed.measure(scenario, args.seconds))
    rows = [
        (m.name, f"{m.per_second:,.0f} {m.unit}/s", f"{m.reference_per_second:,.0f}", f"{m.ratio:.3g}x", m.reference)
        for m in measurements
    ]
    print(format_table(["scenario", "speed", "reference speed", "time ratio", "reference"], rows))
    footprints = [] if args.no_memory else speed.footprints(args.family)
    if footprints:
        print("\nBuilding, resetting and stepping a vector env in a fresh process (interpreter and libraries included)")
        print(
            format_table(
                ["vector env", "build + first reset", "peak RSS"],
                [(f"{f.family} x {f.num_envs}", f"{f.build_s:.2f} s", f"{f.peak_rss_mb:.0f} MB") for f in footprints],
            )
        )
    start_up = None
    if not args.no_start_up and importlib.util.find_spec("torch") is not None:
        start_up = speed.train_start_up()
        print(f"\n{start_up.summary()}")
    comparison: list[dict[str, Any]] | dict[str, str] = []
    if metaworld is not None:
        metaworld.close()
        comparison = speed.metaworld_comparison(measurements, metaworld.figures())
        print("\nAgainst Meta-World (measured by --metaworld-python in its own environment, rounds alternated)")
        print(format_table(["comparison", "speed-up"], [(row["what"], f"{row['speedup']:.3g}x") for row in comparison]))
    elif metaworld_error is not None:
        comparison = {"error": metaworld_error}
        print(f"\nthe Meta-World comparison failed: {metaworld_error}", file=sys.stderr)
    if args.json:
        atomic_write_json(
            args.json,
            {
                "tasksuite": tasksuite.__version__,
                "measurements": [m.to_dict() for m in measurements],
                "footprints": [f.to_dict() for f in footprints],
                "train_start_up": start_up.to_dict() if start_up else None,
                "metaworld": comparison,
            },
        )
        print(f"\nwrote {args.json}")
    return 1 if metaworld_error is not None else 0


# ---------------------------------------------------------------------- evaluate / report


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tasksuite.evaluation.harness import BudgetMismatchWarning, evaluate

    # Like `python -m`: factories in modules of the current directory resolve (workers inherit sys.path).
    sys.path.insert(0, os.getcwd())

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BudgetMismatchWarning)  # the summary's notice is printed instead
            summary = evaluate(
                args.out,
                agent=args.agent,
                benchmark=args.benchmark,
                protocols=args.protocol,
                agent_kwargs=args.agent_kwargs,
                trainer=args.trainer,
                trainer_kwargs=args.trainer_kwargs,
                budget=args.budget,
                adapt_episodes=args.adapt_episodes,
                eval_episodes=args.eval_episodes,
                seeds=args.seeds,
                max_tasks=args.max_tasks,
                split_seed=args.split_seed,
                reference_episodes=args.reference_episodes,
                sweep_episodes=args.sweep_episodes,
                sweep_gradient_steps=args.sweep_gradient_steps,
                sweep_ood=args.sweep_ood or (),
                demonstrations=args.demos,
                demo_noise=args.demo_noise,
                workers=args.workers,
                backend=args.backend,
                progress=not args.quiet,
            )
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: finished units are saved in {args.out}; run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    return _print_summary(summary, args.out)


def cmd_report(args: argparse.Namespace) -> int:
    from tasksuite.evaluation.harness import redraw_report

    return _print_summary(redraw_report(args.dir), args.dir)


def _print_summary(summary: dict, out: str) -> int:
    notice = (summary.get("adaptation") or {}).get("notice")
    if notice:
        print(f"notice: {notice}")
    rows = []
    for protocol, section in summary["protocols"].items():
        if protocol == "transfer":
            for variant in ("all", "single"):
                agg = section[variant]
                if agg:
                    rows.append((protocol, f"trained on {variant}", "-", agg["tasks"], agg["runs"], *_cells(agg), "-"))
            continue
        if protocol == "adaptation-sweep":
            for split, points in section["splits"].items():
                for p in points["episodes"]:
                    rows.append((protocol, f"{split}, K={p['k']}", "-", p["tasks"], p["runs"], *_cells(p), "-"))
                for p in points["gradient_steps"]:
                    label = f"{split}, {p['gradient_steps']} gradient steps"
                    rows.append((protocol, label, "-", p["tasks"], p["runs"], *_cells(p), "-"))
            continue
        for split, agg in section["splits"].items():
            if agg is None:
                rows.append((protocol, split, "-", 0, 0, "-", "-", "-"))
            else:
                distance, success = f"{agg['distance']:.2f}", f"{agg['success']:.0%}"
                rows.append((protocol, split, distance, agg["tasks"], agg["runs"], *_cells(agg), success))
    headers = ["protocol", "split", "mean distance", "tasks", "runs", "score IQM", "95% CI", "success"]
    print(format_table(headers, rows))
    if summary["privileged"]:
        print("(privileged reference agent: it saw the task)")
    print(f"\nreport: {Path(out) / 'report.md'}")
    for error in summary["errors"]:
        print(f"FAILED {error['unit']}: {error['error']}", file=sys.stderr)
    return 1 if summary["errors"] else 0


def _cells(agg: dict) -> tuple[str, str]:
    return f"{agg['iqm']:.3f}", f"[{agg['low']:.3f}, {agg['high']:.3f}]"


# ---------------------------------------------------------------------- train


def config_assignment(text: str) -> tuple[str, Any]:
    """``FIELD=VALUE`` of ``--set``: the value as JSON when it parses (numbers, lists, true/false), else a string."""
    field, sep, value = text.partition("=")
    if not sep or not field:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, got {text!r}")
    try:
        return field, json.loads(value)
    except json.JSONDecodeError:
        return field, value


def cmd_train(args: argparse.Namespace) -> int:
    read_progress = import_with_torch("tasksuite.baselines.common").read_progress

    benchmark = tasksuite.make_benchmark(args.benchmark, seed=args.split_seed)
    setting_needed = "multi-task" if args.algorithm == "multitask" else "meta"
    if benchmark.setting != setting_needed:
        raise TasksuiteError(
            f"{args.algorithm} trains on {setting_needed} benchmarks; {args.benchmark!r} is {benchmark.setting}"
        )
    try:
        path = train_baseline(
            args.algorithm,
            benchmark,
            args.out,
            steps=args.steps,
            seed=args.seed,
            resume=args.resume,
            settings=dict(args.set or []),
        )
    except FileExistsError as error:
        raise TasksuiteError(str(error)) from error
    last = read_progress(args.out)[-1]
    summary = ", ".join(f"{name} {value:.4g}" for name, value in last.items())
    print(f"wrote {path}\nlast iteration: {summary}")
    return 0


# ---------------------------------------------------------------------- validate


def cmd_validate(args: argparse.Namespace) -> int:
    validate = import_with_torch("tasksuite.baselines.validate")

    plan = validate.quick_plan(args.seeds or 1) if args.quick else validate.full_plan()
    out = args.out or ("results/validate-quick" if args.quick else "results/validate")
    options = {
        "--quick": args.quick,
        "--out": args.out,
        "--only": args.only,
        "--benchmarks": args.benchmarks,
        "--seeds": args.seeds,
        "--workers": args.workers,
        "--backend": args.backend if args.backend != "local" else None,
    }
    command = " ".join(
        ["tasksuite validate"]
        + [flag if value is True else f"{flag} {value}" for flag, value in options.items() if value]
    )
    try:
        summary = validate.validate(
            plan,
            out,
            workers=args.workers,
            progress=not args.quiet,
            command=command,
            methods=_names(args.only),
            benchmarks=_names(args.benchmarks),
            seeds=None if args.quick else args.seeds,
            backend=args.backend,
        )
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished work is saved in {out}; run the same command again to resume", file=sys.stderr)
        return 130
    rows = []
    for method in summary["methods"]:
        splits = method["splits"]
        main_split = splits.get("train") if method["method"] == "multitask" else splits.get("test")
        cells = [
            method["pre"],
            main_split,
            (method["control"] or {}).get("test"),
            splits.get("near"),
            splits.get("far"),
        ]
        success = "-" if main_split is None else f"{main_split['success']:.0%}"
        ood = [splits.get("near"), splits.get("far")]
        distances = " / ".join("-" if level is None else f"{level['distance']:.2f}" for level in ood)
        seeds = f"{len(method['seeds'])}/{len(method['planned_seeds'])}"
        rows.append((method["label"], method["benchmark"], seeds, *(_iqm(c) for c in cells), success, distances))
    headers = ["method", "benchmark", "seeds", "pre-adaptation", "post-adaptation", "control", "OOD-near", "OOD-far"]
    headers += ["test success", "near / far distance"]
    print(format_table(headers, rows))
    for check in summary["acceptance"]:
        outcome = {True: "pass", False: "FAIL", None: "not run yet"}[check["passed"]]
        print(f"{outcome}  {check['benchmark']}")
        for verdict in check["methods"]:
            print(f"      {verdict['label']}: {verdict['reason']}")
    for name, reason in summary["not_run"].items():
        print(f"NOT RUN {name}: {reason}", file=sys.stderr)
    for error in summary["errors"]:
        print(f"FAILED {error['job']}: {error['error']}", file=sys.stderr)
    print(f"\nreport: {Path(out) / 'report.md'}  (wall-clock {summary['sessions'][-1]['wall_s'] / 60:.1f} min)")
    return 1 if summary["errors"] or summary["not_run"] else 0


def _names(text: str | None) -> list[str] | None:
    """A comma-separated option as a list (``None`` when not given)."""
    return None if text is None else [name.strip() for name in text.split(",") if name.strip()]


def _iqm(agg: dict | None) -> str:
    return "-" if agg is None else f"{agg['iqm']:.3f}"


# ---------------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    """argparse with a "did you mean" for a mistyped choice (a command, a protocol, a baseline, a family)."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # argparse has no public hook for this message (Python 3.14's suggest_on_error is the same idea).
        if action.choices is not None and value not in action.choices:
            allowed = [str(choice) for choice in action.choices]
            raise argparse.ArgumentError(
                action, f"invalid choice {value!r}{did_you_mean(value, allowed)}; choose from {', '.join(allowed)}"
            )


def build_parser() -> argparse.ArgumentParser:
    """The ``tasksuite`` argument parser, every subcommand included."""
    parser = _Parser(
        prog="tasksuite",
        description="Parameterized task families and benchmarks for multi-task and meta-RL.",
        epilog="Run 'tasksuite COMMAND --help' for the options of a command. Errors are one line on stderr "
        "(exit status 2); --debug shows the traceback.",
    )
    parser.add_argument("--version", action="version", version=f"tasksuite {tasksuite.__version__}")
    parser.add_argument("--debug", action="store_true", help="on an error, show the full traceback")
    # The subcommands accept --debug too; SUPPRESS keeps them from resetting the flag given before the command.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[debug], **kwargs)

    sub = command(
        "list",
        help="list registered families and benchmarks",
        description="List every registered task family and benchmark.",
    )
    sub.set_defaults(run=cmd_list)

    sub = command(
        "show",
        help="describe a family or benchmark",
        description="Show a family's parameter space, training distribution, OOD levels and example tasks, "
        "or a benchmark's setting, split sizes and OOD distances.",
    )
    sub.add_argument("name", help="a family name (e.g. navigation) or benchmark name (e.g. navigation-meta)")
    sub.set_defaults(run=cmd_show)

    sub = command(
        "rollout",
        help="roll out the oracle and a random policy on every split of a benchmark",
        description="Sanity-check a benchmark: mean return and success rate of the family's scripted oracle "
        "and of a uniform random policy on the train, test and each OOD split.",
    )
    sub.add_argument(
        "benchmark", nargs="?", default=DEFAULT_BENCHMARK, help=f"benchmark name (default: {DEFAULT_BENCHMARK})"
    )
    sub.add_argument("--episodes", type=_positive_int, default=1, help="episodes per task and policy (default: 1)")
    sub.add_argument("--max-tasks", type=_positive_int, default=None, help="use at most this many tasks per split")
    sub.add_argument("--seed", type=int, default=0, help="seed of the episodes and of the random policy (default: 0)")
    sub.add_argument("--split-seed", type=int, default=0, help="seed of the benchmark's splits (default: 0)")
    sub.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.set_defaults(run=cmd_rollout)

    sub = command(
        "manifest",
        help="write a benchmark's split manifest (JSON)",
        description="Write the split manifest (tasks, seed, family version, content hash) of a benchmark, "
        "so that others can run exactly the same tasks (load it with Benchmark.from_manifest).",
    )
    sub.add_argument("benchmark", help="benchmark name")
    sub.add_argument("--seed", type=int, default=0, help="split seed (default: 0, the published split)")
    sub.add_argument("--out", required=True, type=_file_path, help="path of the manifest file to write")
    sub.add_argument(
        "--generate",
        action="store_true",
        help="generate the split from the seed even where a published manifest exists "
        "(maintainers publish manifests with this)",
    )
    sub.set_defaults(run=cmd_manifest)

    sub = command(
        "bench",
        help="measure speed against references timed in the same run",
        description="Measure single-env steps/s, batched env-steps/s (1, 64 and 1024 sub-envs, each on its own "
        "task, and without tasks=), the cost of a reset to a new or a sampled task, benchmark construction time "
        "and the oracle's evaluation of navigation-meta, each as a time ratio to a reference timed in alternating "
        "rounds in the same process: raw mujoco.mj_step on the same model and frame skip, Gymnasium's "
        "SyncVectorEnv over the same tasks, the same env on a fixed task, a minimal Gymnasium env, or the same "
        "episodes stepped by hand. Also reports the build time and peak memory of a process holding a vector "
        "env (1024 sub-envs for NumPy families, 64 for MuJoCo ones, 10,000 reaching sub-envs) and, with torch "
        "installed, the start-up of tasksuite train.",
    )
    sub.add_argument("--family", choices=tasksuite.list_families(), help="only this family (default: all)")
    sub.add_argument("--only", nargs="+", metavar="TEXT", help="only scenarios whose name contains one of these")
    sub.add_argument(
        "--seconds",
        type=_positive_float,
        default=0.2,
        help="length of each timed loop; 5 loops per side (default: 0.2)",
    )
    sub.add_argument("--json", metavar="FILE", help="also write the results to this JSON file")
    sub.add_argument("--no-memory", action="store_true", help="skip the memory and build-time measurements")
    sub.add_argument(
        "--no-start-up",
        action="store_true",
        help="skip timing tasksuite train's start-up (measured when torch is installed)",
    )
    sub.add_argument(
        "--metaworld-python",
        metavar="PYTHON",
        help="a Python interpreter of a separate virtualenv with metaworld installed: also measure Meta-World's "
        "reach-v3/push-v3 steps and ML10 construction there and compare (never install metaworld beside "
        "tasksuite: it pins mujoco==3.3.0)",
    )
    sub.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.set_defaults(run=cmd_bench)

    sub = command(
        "evaluate",
        help="evaluate an agent on a benchmark: normalized scores, adaptation curves, OOD sweep, transfer",
        description="Evaluate an agent on a benchmark under one or more protocols and write a results folder "
        "(per-episode records, summary.json, report.md, plots). Scores are normalized per task "
        "(0: uniform-random policy, 1: the family's oracle) and aggregated as interquartile means with "
        "95% bootstrap confidence intervals. Re-running the same command resumes: finished units "
        "(task x seed) are skipped, failed ones retried.",
        epilog="Reference returns are cached in $TASKSUITE_CACHE (default ~/.cache/tasksuite). Example: "
        "tasksuite evaluate --agent tasksuite.evaluation.agents:oracle --benchmark navigation-meta "
        "--protocol meta-test --adapt-episodes 2 --out results/oracle",
    )
    sub.add_argument(
        "--agent",
        metavar="MODULE:FACTORY",
        help="import path of the agent factory, called once per task and seed to build a fresh agent; it may "
        "return an Agent (tasksuite.evaluation.agent) or a plain obs -> action callable. Built in: "
        "tasksuite.evaluation.agents:oracle and tasksuite.evaluation.agents:random. Modules in the current "
        "directory are found",
    )
    sub.add_argument(
        "--agent-kwargs", type=_json_object, default=None, metavar="JSON", help="keyword arguments of the factory"
    )
    sub.add_argument(
        "--benchmark",
        default=DEFAULT_BENCHMARK,
        help=f"registered benchmark name or path of a split manifest .json (default: {DEFAULT_BENCHMARK})",
    )
    sub.add_argument(
        "--protocol",
        choices=[*PROTOCOLS, "all"],
        default="meta-test",
        help="multi-task: training tasks, no adaptation; meta-test: test tasks, K adaptation episodes then "
        "evaluation (adaptation curve); ood-sweep: meta-test on the test tasks and every OOD level (score vs "
        "distance, with the area under it and its slope); adaptation-sweep: meta-test once for every K of "
        "--sweep-episodes (and every number of --sweep-gradient-steps for agents that take them); transfer: a "
        "trainer's agent trained on all training tasks vs one trained on each task alone; few-shot-demos: on the "
        "test tasks and every OOD level, D oracle demonstrations of the task (see --demos) shown to the agent's "
        "optional observe_demonstration hook, then E evaluation episodes, no adaptation episodes (an agent "
        "without the hook is evaluated as D = 0, and the report says so); all: multi-task, meta-test and "
        "ood-sweep, plus transfer when --trainer is given (default: meta-test)",
    )
    sub.add_argument(
        "--adapt-episodes",
        type=_non_negative_int,
        default=None,
        metavar="K",
        help="adaptation episodes per trial before evaluation, meta-test and ood-sweep (default: the K the "
        f"agent declares it was trained for, e.g. a baseline checkpoint's; else {DEFAULT_ADAPT_EPISODES}). "
        "Another K than the trained one is evaluated with a notice",
    )
    sub.add_argument(
        "--sweep-episodes",
        type=_counts,
        default=DEFAULT_SWEEP_EPISODES,
        metavar="K,K,..",
        help="adaptation-sweep: the K values, the run's K always added "
        f"(default: {','.join(map(str, DEFAULT_SWEEP_EPISODES))})",
    )
    sub.add_argument(
        "--sweep-gradient-steps",
        type=_counts,
        default=None,
        metavar="G,G,..",
        help="adaptation-sweep: numbers of test-time gradient steps, at the run's K, for agents with "
        f"set_gradient_steps (default: {','.join(map(str, DEFAULT_SWEEP_GRADIENT_STEPS))} for those, none for others)",
    )
    sub.add_argument(
        "--sweep-ood",
        nargs="+",
        metavar="LEVEL",
        help="adaptation-sweep: OOD levels to sweep besides the test tasks (default: the test tasks only)",
    )
    sub.add_argument(
        "--eval-episodes",
        type=_positive_int,
        default=DEFAULT_EVAL_EPISODES,
        metavar="E",
        help="evaluation episodes per trial; their mean return is the trial's score (default: %(default)s)",
    )
    sub.add_argument(
        "--demos",
        type=_counts,
        default=DEFAULT_DEMONSTRATIONS,
        metavar="D,D,...",
        help="few-shot-demos: the numbers of oracle demonstrations swept, comma-separated (default: "
        + ",".join(map(str, DEFAULT_DEMONSTRATIONS))
        + ")",
    )
    sub.add_argument(
        "--demo-noise",
        type=_non_negative_float,
        default=0.0,
        metavar="SIGMA",
        help="few-shot-demos: standard deviation of Gaussian noise added to the demonstrations' oracle actions, in "
        "units of half the action box's width, then clipped to the box (default: 0, the oracle's own actions)",
    )
    sub.add_argument(
        "--seeds",
        type=_positive_int,
        default=DEFAULT_SEEDS,
        help="runs per task, seeds 0 .. SEEDS-1 (default: %(default)s)",
    )
    sub.add_argument(
        "--max-tasks", type=_positive_int, default=None, help="evaluate only the first N tasks of each split"
    )
    sub.add_argument("--split-seed", type=int, default=0, help="seed of the benchmark's splits (default: 0, published)")
    sub.add_argument(
        "--reference-episodes",
        type=_positive_int,
        default=DEFAULT_REFERENCE_EPISODES,
        help="episodes of the oracle and of the random policy measured once per task for normalization "
        "(default: %(default)s)",
    )
    sub.add_argument(
        "--trainer",
        metavar="MODULE:FACTORY",
        help="transfer protocol: import path of a factory returning a Trainer, an object with "
        "train(tasks, budget, seed) -> agent",
    )
    sub.add_argument(
        "--trainer-kwargs",
        type=_json_object,
        default=None,
        metavar="JSON",
        help="keyword arguments of the trainer factory",
    )
    sub.add_argument(
        "--budget",
        type=_positive_int,
        default=DEFAULT_BUDGET,
        help="transfer protocol: training env steps per task; the all-task agent gets BUDGET x tasks "
        "(default: %(default)s)",
    )
    sub.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="local worker processes (default: one per CPU core; 1 runs everything in this process)",
    )
    sub.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local: a process pool on this machine; ray: Ray tasks on the cluster in $RAY_ADDRESS, or on a "
        "local Ray instance (needs Ray: pip install 'ray>=2.9') (default: local)",
    )
    sub.add_argument(
        "--out", required=True, type=_folder, help="results folder; an existing one of the same run is resumed"
    )
    sub.add_argument("--quiet", action="store_true", help="no progress bars")
    sub.set_defaults(run=cmd_evaluate)

    sub = command(
        "report",
        help="redraw the summary, report and plots of a results folder",
        description="Recompute summary.json, report.md and the plots of a results folder written by "
        "'tasksuite evaluate', from its saved episode records (nothing is re-run).",
    )
    sub.add_argument("dir", type=_folder, help="the results folder (the --out of tasksuite evaluate)")
    sub.set_defaults(run=cmd_report)

    sub = command(
        "train",
        help="train a reference baseline (MAML, RL², PEARL, multi-task) on a benchmark",
        description="Train a reference baseline on a benchmark's training tasks. OUT receives checkpoint.pt "
        "(written atomically every few iterations; load it with tasksuite.baselines.load_agent) and "
        f"progress.csv (environment steps and returns per iteration). Needs torch ({INSTALL_TORCH}).",
    )
    sub.add_argument(
        "algorithm",
        choices=ALGORITHMS,
        help="maml, rl2, pearl and incontext train on meta benchmarks, multitask on multi-task ones",
    )
    sub.add_argument("--benchmark", required=True, help="benchmark name, e.g. navigation-meta or navigation-multitask")
    sub.add_argument("--out", required=True, type=_folder, help="run directory for checkpoint.pt and progress.csv")
    sub.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="environment-step budget of the training (default: the algorithm's config default)",
    )
    sub.add_argument("--seed", type=int, default=0, help="training seed; same seed, same checkpoint (default: 0)")
    sub.add_argument("--split-seed", type=int, default=0, help="seed of the benchmark's splits (default: 0)")
    sub.add_argument(
        "--set",
        action="append",
        type=config_assignment,
        metavar="FIELD=VALUE",
        help="override a field of the algorithm's Config (repeatable), the value read as JSON when it parses, "
        "e.g. --set envs_per_task=4 --set hidden=[128,128] --set normalize=false; fields and defaults are "
        "documented in tasksuite.baselines.<algorithm>.Config",
    )
    sub.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in OUT from its last checkpoint (ends as an uninterrupted run would); "
        "without it an existing checkpoint in OUT is an error",
    )
    sub.set_defaults(run=cmd_train)

    sub = command(
        "validate",
        help="train every baseline on its benchmarks, evaluate them with the harness, write one report",
        description="Train the reference baselines and evaluate each trained agent with the evaluation harness, then "
        "write one report (OUT/report.md with plots, OUT/summary.json). Full plan: the table in "
        "tasksuite.baselines.plan: MAML, RL², PEARL and the in-context transformer on every meta benchmark "
        "(navigation-meta, maml-navigation, pearl-sparse-point, reaching-meta, warehouse-meta; 5 training "
        "seeds for MAML and RL², 3 for PEARL and the in-context agent, plus one held-out seed), the MAML "
        "paper's pretrained comparison on maml-navigation, the in-context agent trained on 10 to 10,000 "
        "navigation tasks (task-distribution scaling), and the multi-task agent on the multi-task "
        "benchmarks with the transfer protocol. Each meta-RL agent is evaluated with the K adaptation "
        "episodes it trains with on the test tasks and every OOD level, beside its control (MAML from a "
        "random initialization, RL² with its memory cleared every episode, PEARL on the prior, the in-context "
        "agent without its context), along training (learning curves), at other adaptation budgets, and (RL², "
        "in-context) with D = 0, 1, 3, 10 oracle demonstrations. The report gives two-level bootstrap "
        "intervals over training seeds and tasks, gains over the controls, sample efficiency and the suite's "
        f"acceptance per benchmark. Full plan: {FULL_PLAN_TIME}; run it in parts with --only, --benchmarks and "
        "--seeds into one OUT (each part resumes, the report covers everything finished), or on a Ray cluster "
        "with --backend ray. --quick: MAML and RL² on navigation-meta and the multi-task agent on "
        f"navigation-multitask, one seed ({QUICK_PLAN_TIME}). Running it again on the same OUT resumes: "
        "finished trainings and evaluation units are skipped.",
        epilog=f"Needs torch ({INSTALL_TORCH}). Exit status 1 when a job failed or could not run.",
    )
    sub.add_argument("--quick", action="store_true", help=f"the quick plan ({QUICK_PLAN_TIME})")
    sub.add_argument(
        "--out",
        default=None,
        type=_folder,
        help="validate folder for runs, evaluations and the report (default: results/validate, or "
        "results/validate-quick with --quick); an existing one of the same plan is resumed",
    )
    sub.add_argument(
        "--only",
        default=None,
        metavar="METHOD[,...]",
        help="run only these methods' jobs (maml, rl2, pearl, incontext, multitask; a control trained of its "
        "own, such as MAML's pretrained policy, goes with its method); the report covers everything finished in OUT",
    )
    sub.add_argument(
        "--benchmarks",
        default=None,
        metavar="NAME[,...]",
        help="run only the jobs on these benchmarks (the plan's rows are listed in tasksuite.baselines.plan.TABLE)",
    )
    sub.add_argument(
        "--seeds",
        type=_positive_int,
        default=None,
        help="full plan: run only the first N training seeds of each row (the held-out seed only when all run); "
        "--quick: the quick plan's number of seeds (default 1)",
    )
    sub.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local worker processes (default), or Ray: the cluster in RAY_ADDRESS, else a local Ray instance "
        "(pip install '.[ray]')",
    )
    sub.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="jobs (trainings with their evaluation) run side by side, one per process and core "
        "(default: one per CPU core; 1 runs everything in this process)",
    )
    sub.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.set_defaults(run=cmd_validate)
    return parser


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {text!r}") from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object such as '{{\"lr\": 0.001}}', got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive, finite number, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _counts(text: str) -> tuple[int, ...]:
    items = [item.strip() for item in text.split(",")]
    if not all(item.isdigit() for item in items):
        raise argparse.ArgumentTypeError(f"must be comma-separated integers >= 0 such as 0,1,3,10, got {text!r}")
    return tuple(int(item) for item in items)


def _folder(text: str) -> str:
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is an existing file; give a folder")
    return text


def _file_path(text: str) -> str:
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file path")
    return text


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tasksuite`` command."""
    args = build_parser().parse_args(argv)
    try:
        status = args.run(args)
        sys.stdout.flush()  # a closed pipe fails here, inside the try, not at the interpreter's exit
        return status
    except BrokenPipeError:
        # The reader left (`tasksuite list | head -1`): nothing is wrong. Python's advice: point stdout at
        # devnull, so that the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (TasksuiteError, OSError) as error:
        if args.debug:
            raise
        print(f"tasksuite: error: {_one_line(error)} (--debug shows the traceback)", file=sys.stderr)
        return 2


def _one_line(error: BaseException) -> str:
    """An error as one line: an ``OSError`` as what failed on which file (``No space left on device: out``)."""
    if isinstance(error, OSError) and error.strerror:
        files = [str(f) for f in (error.filename, error.filename2) if f is not None]
        line = ": ".join([error.strerror, *files[:1]]) + (f" -> {files[1]}" if len(files) > 1 else "")
        # Creating a folder (exist_ok) is what fails so: the path is a file.
        return line + (" (a folder was expected there)" if isinstance(error, FileExistsError) else "")
    return " ".join(str(error).split())


if __name__ == "__main__":
    sys.exit(main())
