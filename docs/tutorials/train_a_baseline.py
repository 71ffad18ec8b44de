"""Train a reference baseline, then evaluate its checkpoint with the harness.

The multi-task agent (task-conditioned PPO) learns the ten goals of
navigation-multitask in a few seconds. The same from the command line:

    tasksuite train multitask --benchmark navigation-multitask --out runs/multitask --steps 40000
    tasksuite evaluate --agent tasksuite.baselines:load_agent \
        --agent-kwargs '{"checkpoint": "runs/multitask/checkpoint.pt"}' \
        --benchmark navigation-multitask --protocol multi-task --protocol ood-sweep --out results/multitask

MAML, RL² and PEARL train the same way on navigation-meta (`train_baseline("maml",
"navigation-meta", ...)`): about a minute a seed for MAML and RL², 12 minutes for PEARL,
on 2 CPU cores (docs/results.md); `tasksuite validate` trains and evaluates all of them.
"""

from tasksuite.baselines import train_baseline
from tasksuite.baselines.common import read_progress
from tasksuite.evaluation import evaluate


def main() -> None:
    # Checkpoints are written atomically as training goes; resume=True continues an interrupted
    # run from its last checkpoint and ends exactly where an uninterrupted run would have.
    checkpoint = train_baseline("multitask", "navigation-multitask", "runs/multitask", steps=40_000, seed=0)
    again = train_baseline("multitask", "navigation-multitask", "runs/multitask", steps=40_000, seed=0, resume=True)
    assert again == checkpoint  # the budget was spent: resuming trains nothing more

    progress = read_progress("runs/multitask")  # progress.csv: one row per iteration
    print(f"mean return {progress[0]['mean_return']:.1f} -> {progress[-1]['mean_return']:.1f}")

    # The harness loads the agent in each worker from the checkpoint: the agent spec and its kwargs
    # are plain values, so the evaluation can fan out over processes (or Ray) and resume.
    summary = evaluate(
        "results/multitask",
        agent="tasksuite.baselines:load_agent",
        agent_kwargs={"checkpoint": str(checkpoint)},
        benchmark="navigation-multitask",
        protocols=["multi-task", "ood-sweep"],
        eval_episodes=1,
        seeds=1,
    )
    train = summary["protocols"]["multi-task"]["splits"]["train"]
    ood = summary["protocols"]["ood-sweep"]["splits"]
    print(f"train {train['iqm']:.2f} [{train['low']:.2f}, {train['high']:.2f}]")
    print({level: round(split["iqm"], 2) for level, split in ood.items()})
    assert train["iqm"] > 0.5  # random is 0, the oracle 1


if __name__ == "__main__":  # the harness's worker processes import this file
    main()
