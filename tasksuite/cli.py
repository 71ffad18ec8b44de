"""The ``tasksuite`` command line.

Every subcommand explains itself with ``--help``. Heavy imports (simulators,
torch) happen inside the subcommand that needs them, so ``tasksuite --help``
and ``tasksuite list`` stay instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

import tasksuite
from tasksuite.core.errors import TasksuiteError, UnknownNameError
from tasksuite.registry import BENCHMARKS, FAMILIES, benchmark_entry, generate_splits

DEFAULT_BENCHMARK = "navigation-meta"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table (a dozen lines; not worth a dependency such as tabulate)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ---------------------------------------------------------------------- list / show


def cmd_list(args: argparse.Namespace) -> int:
    families = [(e.name, e.env_id, tasksuite.get_family(e.name).horizon) for e in FAMILIES]
    print("Families\n" + format_table(["name", "gymnasium id", "horizon"], families))
    benchmarks = [
        (b.name, b.family, b.setting, b.n_train, b.n_test if b.n_test is not None else "= train", b.n_ood, b.summary)
        for b in BENCHMARKS
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
    used = [b.name for b in BENCHMARKS if b.family == name]
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
    if args.name in tasksuite.list_families():
        _show_family(args.name)
    elif args.name in tasksuite.list_benchmarks():
        _show_benchmark(args.name)
    else:
        raise UnknownNameError(
            f"{args.name!r} is neither a family ({', '.join(tasksuite.list_families())}) "
            f"nor a benchmark ({', '.join(tasksuite.list_benchmarks())})"
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


# ---------------------------------------------------------------------- train

BASELINES = ("maml", "rl2", "pearl", "multitask")


def cmd_train(args: argparse.Namespace) -> int:
    from tasksuite.baselines import train_baseline
    from tasksuite.baselines.common import read_progress

    benchmark = tasksuite.make_benchmark(args.benchmark, seed=args.split_seed)
    setting_needed = "multi-task" if args.algorithm == "multitask" else "meta"
    if benchmark.setting != setting_needed:
        raise TasksuiteError(
            f"{args.algorithm} trains on {setting_needed} benchmarks; {args.benchmark!r} is {benchmark.setting}"
        )
    try:
        path = train_baseline(args.algorithm, benchmark, args.out, steps=args.steps, seed=args.seed, resume=args.resume)
    except FileExistsError as error:
        raise TasksuiteError(str(error)) from error
    last = read_progress(args.out)[-1]
    summary = ", ".join(f"{name} {value:.4g}" for name, value in last.items())
    print(f"wrote {path}\nlast iteration: {summary}")
    return 0


# ---------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tasksuite",
        description="Parameterized task families and benchmarks for multi-task and meta-RL.",
        epilog="Run 'tasksuite COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"tasksuite {tasksuite.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub = commands.add_parser(
        "list",
        help="list registered families and benchmarks",
        description="List every registered task family and benchmark.",
    )
    sub.set_defaults(run=cmd_list)

    sub = commands.add_parser(
        "show",
        help="describe a family or benchmark",
        description="Show a family's parameter space, training distribution, OOD levels and example tasks, "
        "or a benchmark's setting, split sizes and OOD distances.",
    )
    sub.add_argument("name", help="a family name (e.g. navigation) or benchmark name (e.g. navigation-meta)")
    sub.set_defaults(run=cmd_show)

    sub = commands.add_parser(
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

    sub = commands.add_parser(
        "manifest",
        help="write a benchmark's split manifest (JSON)",
        description="Write the split manifest (tasks, seed, family version, content hash) of a benchmark, "
        "so that others can run exactly the same tasks (load it with Benchmark.from_manifest).",
    )
    sub.add_argument("benchmark", help="benchmark name")
    sub.add_argument("--seed", type=int, default=0, help="split seed (default: 0, the published split)")
    sub.add_argument("--out", required=True, help="path of the manifest file to write")
    sub.add_argument(
        "--generate",
        action="store_true",
        help="generate the split from the seed even where a published manifest exists "
        "(maintainers publish manifests with this)",
    )
    sub.set_defaults(run=cmd_manifest)

    sub = commands.add_parser(
        "train",
        help="train a reference baseline (MAML, RL², PEARL, multi-task) on a benchmark",
        description="Train a reference baseline on a benchmark's training tasks. OUT receives checkpoint.pt "
        "(written atomically every few iterations; load it with tasksuite.baselines.load_agent) and "
        "progress.csv (environment steps and returns per iteration). Needs torch (pip install tasksuite[baselines]).",
    )
    sub.add_argument(
        "algorithm",
        choices=BASELINES,
        help="maml and rl2 and pearl train on meta benchmarks, multitask on multi-task ones",
    )
    sub.add_argument("--benchmark", required=True, help="benchmark name, e.g. navigation-meta or navigation-multitask")
    sub.add_argument("--out", required=True, help="run directory for checkpoint.pt and progress.csv")
    sub.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="environment-step budget of the training (default: the algorithm's config default)",
    )
    sub.add_argument("--seed", type=int, default=0, help="training seed; same seed, same checkpoint (default: 0)")
    sub.add_argument("--split-seed", type=int, default=0, help="seed of the benchmark's splits (default: 0)")
    sub.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in OUT from its last checkpoint (ends as an uninterrupted run would); "
        "without it an existing checkpoint in OUT is an error",
    )
    sub.set_defaults(run=cmd_train)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tasksuite`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except TasksuiteError as error:
        print(f"tasksuite: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
