"""Measure the baselines' navigation acceptance numbers (round-one stand-in for ``tasksuite validate``).

Trains (or resumes) each requested baseline for each seed into ``RUNS/<algo>-seed<S>``, then
meta-tests it on navigation-meta's test tasks and both OOD levels with
``tasksuite.baselines.common.meta_test`` (normalized score per episode of a trial, averaged over
tasks), and prints one JSON line per run plus a summary table.

    python scripts/measure_navigation.py --runs runs --algorithms maml rl2 pearl --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import tasksuite
from tasksuite.baselines import ALGORITHMS, algorithm, load_agent, train_baseline
from tasksuite.baselines.common import load_checkpoint, meta_test

# Adaptation episodes per trial: MAML adapts on the K episodes it meta-trained with; RL²'s
# trials are 3 episodes (2 adaptation + 1 evaluation); PEARL needs one episode of context.
ADAPTATION_EPISODES = {"maml": 10, "rl2": 2, "pearl": 2, "multitask": 0}
BENCHMARK = {"maml": "navigation-meta", "rl2": "navigation-meta", "pearl": "navigation-meta"}
BENCHMARK["multitask"] = "navigation-multitask"


def measure(algo: str, seed: int, runs: Path) -> dict:
    benchmark = tasksuite.make_benchmark(BENCHMARK[algo])
    out = runs / f"{algo}-seed{seed}"
    start = time.perf_counter()
    if not (out / "checkpoint.pt").exists():
        train_baseline(algo, benchmark, out, seed=seed)
    train_s = time.perf_counter() - start
    agent = load_agent(out / "checkpoint.pt")
    torch.set_num_threads(1)
    result = {
        "algorithm": algo,
        "seed": seed,
        "train_s": round(train_s),
        "env_steps": load_checkpoint(out / "checkpoint.pt")["env_steps"],
    }
    splits = ["train" if algo == "multitask" else "test", *benchmark.splits.ood_levels]
    for split in splits:
        scores = meta_test(agent, benchmark, split, ADAPTATION_EPISODES[algo], 1, seed=0)
        result[split] = [round(float(s), 3) for s in scores.mean(0)]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="directory of the training runs")
    parser.add_argument("--algorithms", nargs="+", default=["maml", "rl2", "pearl", "multitask"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args()
    for name in ALGORITHMS:  # import now: editing the sources during a long run must not mix versions
        algorithm(name)
    results = []
    for algo in args.algorithms:
        for seed in args.seeds:
            results.append(measure(algo, seed, args.runs))
            print(json.dumps(results[-1]), flush=True)
    print("\nalgorithm  split  first episode  last adaptation  evaluation (mean ± std over seeds)")
    for algo in args.algorithms:
        rows = [r for r in results if r["algorithm"] == algo]
        for split in [k for k in rows[0] if isinstance(rows[0][k], list)]:
            curves = np.array([r[split] for r in rows])
            cells = [curves[:, 0], curves[:, -2] if curves.shape[1] > 1 else curves[:, 0], curves[:, -1]]
            print(f"{algo:10} {split:6} " + "  ".join(f"{c.mean():6.3f} ± {c.std():.3f}" for c in cells))


if __name__ == "__main__":
    main()
