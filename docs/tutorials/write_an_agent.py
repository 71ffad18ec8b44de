"""Write your own adaptive agent and evaluate it: meta-test adaptation curve and OOD sweep.

The agent explores during adaptation episodes (a seeded random walk), remembers
the position where the reward was best, and in evaluation episodes drives
straight there: crude, but it adapts, so its curve rises after the
adaptation episodes. Run it with `python write_an_agent.py`; the same agent
runs from the command line as
`tasksuite evaluate --agent write_an_agent:make_agent --benchmark navigation-meta --protocol ood-sweep --out results`.
"""

import numpy as np

from tasksuite.evaluation import evaluate
from tasksuite.evaluation.agent import AgentBase, TaskContext, Transition


class BestPositionAgent(AgentBase):
    """Random-walks while adapting; then returns to the best-rewarded position it saw."""

    def begin_task(self, context: TaskContext) -> None:
        self.rng = np.random.default_rng(context.seed)  # the harness seeds every trial
        self.action_space = context.action_space
        self.best_position, self.best_reward = None, -np.inf
        self.heading = self.rng.uniform(-1.0, 1.0, size=2)

    def begin_episode(self, adaptation: bool) -> None:
        self.exploring = adaptation or self.best_position is None

    def act(self, obs: np.ndarray) -> np.ndarray:
        if self.exploring:  # a wandering walk: keep the heading, turn a little each step
            self.heading = np.clip(self.heading + self.rng.normal(0.0, 0.3, size=2), -1.0, 1.0)
            return self.heading.astype(np.float32)
        to_best = (self.best_position - obs[:2]) / 0.1  # navigation moves 0.1 per unit of action
        return np.clip(to_best, self.action_space.low, self.action_space.high).astype(np.float32)

    def observe(self, transition: Transition) -> None:
        if self.exploring and transition.reward > self.best_reward:
            self.best_reward, self.best_position = transition.reward, transition.next_obs[:2].copy()


def make_agent() -> BestPositionAgent:
    """The factory `tasksuite evaluate --agent write_an_agent:make_agent` calls, once per (task, seed)."""
    return BestPositionAgent()


if __name__ == "__main__":
    summary = evaluate(
        "results/best-position",
        agent=make_agent,
        benchmark="navigation-meta",
        protocols="ood-sweep",
        adapt_episodes=3,
        eval_episodes=2,
        max_tasks=6,
        seeds=2,
    )
    splits = summary["protocols"]["ood-sweep"]["splits"]
    curve = summary["protocols"]["ood-sweep"]["curves"]["test"]
    print({name: round(split["iqm"], 3) for name, split in splits.items()})
    print("test adaptation curve:", [round(point["iqm"], 2) for point in curve])
    # Adaptation helps: evaluation episodes beat the first adaptation episode.
    assert curve[-1]["iqm"] > curve[0]["iqm"]
