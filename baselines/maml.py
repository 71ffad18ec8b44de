"""MAML: model-agnostic meta-learning for RL (Finn, Abbeel, Levine 2017), gradient-based adaptation.

The policy's initial parameters are meta-learned so that one (or a few) policy-gradient steps
on K episodes of a new task yield a good policy for it.

* Inner loop: vanilla policy gradient on each task's K episodes, advantages from rllab's linear
  feature baseline (fitted per task) and standardized, step size ``inner_lr``, written
  functionally with ``torch.func`` (``functional_call`` + ``grad``, ``vmap`` over the tasks of a
  meta-batch) so that the meta-gradient differentiates through the adaptation step.
* Outer loop: a PPO-clipped surrogate on the post-adaptation episodes, as in ProMP (Rothfuss et
  al. 2019) rather than the original TRPO. Why: TRPO's conjugate-gradient step needs
  Hessian-vector products through the inner step (third-order terms) and a line search: several
  times the code and compute for a CPU-bound baseline; the clipped surrogate reuses each batch for
  ``outer_epochs`` Adam steps, and ProMP reports it at least as sample-efficient on these tasks.
  As in the original MAML, the dependence of the pre-update sampling distribution on the
  parameters is ignored (no E-MAML / DiCE term).
* Test time (:class:`MAMLAgent`): the agent keeps the adaptation episodes it observes and takes
  ``inner_steps`` gradient steps on them (configurable in :func:`load_agent`) at the first
  evaluation episode of a trial.
* Demonstrations (the ``few-shot-demos`` protocol): :meth:`MAMLAgent.observe_demonstration` keeps each
  one as an adaptation episode, its pre-squash actions those that give the demonstrated ones, so the
  test-time step is the same policy-gradient step on the demonstrations and their returns (with K = 0:
  on them alone). Why this objective and not behaviour cloning: it is the one update the initialization
  was meta-trained to make useful, with its meta-trained step size; a behaviour-cloning step would need
  a step size of its own that nothing here tunes. The price: the step treats off-policy episodes as its
  own (no importance weights), and it learns from their returns' variation, not from imitation.

Run it with ``tasksuite train maml --benchmark navigation-meta --out runs/maml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.func import functional_call, grad, vmap

from tasksuite.baselines.common import (
    Adam,
    GaussianPolicy,
    Run,
    Squash,
    VectorEnvs,
    clipped_surrogate,
    config_from_dict,
    discounted_advantages,
    gaussian_log_prob,
    load_checkpoint,
    rollout,
    task_batch,
)
from tasksuite.baselines.config import check_config, ranged
from tasksuite.core.benchmark import Benchmark
from tasksuite.evaluation.agent import AdaptationBudget, AgentBase, Demonstration, TaskContext, Transition


@dataclass(frozen=True)
class Config:
    """MAML hyperparameters (defaults: navigation-meta)."""

    seed: int = ranged(0, low=0)
    total_env_steps: int = ranged(2_000_000, low=1)  # meta-training budget, pre- and post-adaptation episodes counted
    tasks_per_batch: int = ranged(20, low=1)  # tasks per meta-batch (original: 20)
    episodes_per_task: int = ranged(10, low=1)  # K: episodes per task for the inner step, in training and at test time
    inner_steps: int = ranged(1, low=0)  # gradient steps of the adaptation (original: 1); 0 trains the paper's
    # "pretrained" comparison instead: one policy on all training tasks, no adaptation in training
    inner_lr: float = ranged(0.1, above=0.0)  # adaptation step size (original: 0.1)
    outer_lr: float = ranged(1e-3, above=0.0)  # Adam step size of the meta-update
    outer_epochs: int = ranged(5, low=1)  # clipped-surrogate Adam steps per meta-batch
    clip: float = ranged(0.2, above=0.0)  # PPO clip range of the outer objective
    gamma: float = ranged(0.99, above=0.0, high=1.0)  # discount
    hidden: tuple[int, ...] = ranged((64, 64), low=1)  # policy MLP widths
    init_log_std: float = ranged(0.0)  # initial log std of the pre-squash Gaussian
    checkpoint_every: int = ranged(10, low=1)  # iterations between checkpoints
    threads: int = ranged(1, low=1)  # torch CPU threads (fixed, for reproducibility)

    def __post_init__(self) -> None:
        check_config(self)  # every field against its declared range (tasksuite.baselines.config)


# ---------------------------------------------------------------------- advantages (linear feature baseline)


def advantages(obs: torch.Tensor, rewards: torch.Tensor, valid: torch.Tensor, gamma: float) -> torch.Tensor:
    """Standardized advantages for ``[H, tasks, K]`` episodes, one linear feature baseline per task.

    The baseline (rllab's ``LinearFeatureBaseline``, as in the original MAML code) regresses
    discounted returns-to-go on ``(obs, obs², t, t², t³, 1)`` by ridge regression.
    """
    horizon, n_tasks, k = rewards.shape
    returns = discounted_advantages(rewards, torch.zeros_like(rewards), torch.zeros_like(rewards[0]), gamma, 1.0)
    time = (torch.arange(horizon, dtype=torch.float32) / horizon).view(horizon, 1, 1, 1).expand(-1, n_tasks, k, 1)
    clipped = obs.clamp(-10, 10)
    features = torch.cat([clipped, clipped**2, time, time**2, time**3, torch.ones_like(time)], -1) * valid[..., None]
    x = features.permute(1, 0, 2, 3).reshape(n_tasks, horizon * k, -1)
    y = (returns * valid).permute(1, 0, 2).reshape(n_tasks, horizon * k, 1)
    gram = x.transpose(1, 2) @ x + 1e-5 * torch.eye(x.shape[-1])
    weights = torch.linalg.solve(gram, x.transpose(1, 2) @ y)
    adv = (returns - torch.einsum("htkf,tf->htk", features, weights[..., 0])) * valid
    count = valid.sum((0, 2))
    mean = adv.sum((0, 2)) / count
    std = (((adv - mean.view(1, -1, 1)) ** 2 * valid).sum((0, 2)) / count).sqrt()
    return (adv - mean.view(1, -1, 1)) / (std.view(1, -1, 1) + 1e-8) * valid


def by_task(x: torch.Tensor) -> torch.Tensor:
    """``[H, tasks, K, ...]`` to ``[tasks, H * K, ...]``: one row of steps per task, for ``vmap``."""
    return x.transpose(0, 1).reshape(x.shape[1], x.shape[0] * x.shape[2], *x.shape[3:])


# ---------------------------------------------------------------------- the functional inner and outer losses


class MAML:
    """The policy and its functional adaptation, shared by training and :class:`MAMLAgent`."""

    def __init__(self, policy: GaussianPolicy, config: Config) -> None:
        self.policy = policy
        self.config = config

    def log_prob(self, params: dict[str, torch.Tensor], obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Log-probability of unsquashed actions ``u`` under the policy with parameters ``params``."""
        mean, log_std = functional_call(self.policy, params, (obs,))
        return gaussian_log_prob(mean, log_std, u)

    def inner_loss(self, params: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Policy-gradient loss of one task; importance-weighted, so its gradient at the
        collecting parameters is the vanilla policy gradient."""
        ratio = torch.exp(self.log_prob(params, batch["obs"], batch["u"]) - batch["old_log_prob"])
        return -(ratio * batch["adv"] * batch["valid"]).sum() / batch["valid"].sum()

    def adapt(
        self, params: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], steps: int | None = None
    ) -> dict[str, torch.Tensor]:
        """``steps`` (default ``inner_steps``) gradient steps from ``params`` on one task's batch
        (differentiable)."""
        for _ in range(self.config.inner_steps if steps is None else steps):
            step = grad(self.inner_loss)(params, batch)
            params = {name: value - self.config.inner_lr * step[name] for name, value in params.items()}
        return params

    def outer_loss(
        self, params: dict[str, torch.Tensor], pre: dict[str, torch.Tensor], post: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Clipped surrogate of the adapted policy on one task's post-adaptation episodes."""
        adapted = self.adapt(params, pre)
        log_prob = self.log_prob(adapted, post["obs"], post["u"])
        return clipped_surrogate(log_prob, post["old_log_prob"], post["adv"], self.config.clip, post["valid"])

    def params(self) -> dict[str, torch.Tensor]:
        """The meta-learned initialization, by parameter name."""
        return dict(self.policy.named_parameters())

    def task_batch(self, params: dict[str, torch.Tensor] | None, episodes: dict[str, torch.Tensor]) -> dict:
        """Per-task batch (``[tasks, H * K, ...]``) from ``[H, tasks, K, ...]`` episodes; ``old_log_prob``
        under ``params`` (per task, leading dim tasks) or the initial parameters (``None``)."""
        batch = {
            "obs": by_task(episodes["obs"]),
            "u": by_task(episodes["u"]),
            "valid": by_task(episodes["valid"]),
            "adv": by_task(advantages(episodes["obs"], episodes["rewards"], episodes["valid"], self.config.gamma)),
        }
        with torch.no_grad():
            if params is None:
                batch["old_log_prob"] = gaussian_log_prob(*self.policy(batch["obs"]), batch["u"])
            else:
                batch["old_log_prob"] = vmap(self.log_prob)(params, batch["obs"], batch["u"])
        return batch


def episodes_of(data: dict[str, torch.Tensor], n_tasks: int) -> dict[str, torch.Tensor]:
    """A rollout over ``tasks * K`` sub-envs (task-major) as ``[H, tasks, K, ...]`` episodes."""
    return {
        "obs": data["obs"].view(data["obs"].shape[0], n_tasks, -1, data["obs"].shape[-1]),
        "u": data["raw_actions"].view(data["raw_actions"].shape[0], n_tasks, -1, data["raw_actions"].shape[-1]),
        "rewards": data["rewards"].view(data["rewards"].shape[0], n_tasks, -1),
        "valid": data["valid"].view(data["valid"].shape[0], n_tasks, -1),
    }


# ---------------------------------------------------------------------- training


def train(config: Config, benchmark: Benchmark, out_dir: str | os.PathLike[str], resume: bool = False) -> Path:
    """Meta-train on ``benchmark``'s training tasks; returns the checkpoint's path.

    With ``resume``, continues from ``out_dir``'s checkpoint and ends exactly where an
    uninterrupted run would.
    """
    run = Run("maml", config, benchmark, out_dir, resume)
    policy = GaussianPolicy(run.obs_dim, run.act_dim, config.hidden, config.init_log_std)
    maml = MAML(policy, config)
    optimizer = Adam(policy.parameters(), config.outer_lr)
    run.track(policy=policy, optimizer=optimizer)
    horizon, n_tasks, k = benchmark.family.horizon, config.tasks_per_batch, config.episodes_per_task
    vector_envs = VectorEnvs(benchmark)

    with run.progress_bar() as bar:
        while not run.done:
            seed = run.seed()
            tasks = task_batch(benchmark.train_tasks, n_tasks, np.random.default_rng(seed))
            envs = vector_envs.of([task for task in tasks for _ in range(k)])
            if config.inner_steps:
                pre_data = rollout(envs, policy.explore, run.squash, 1, horizon, seed=seed)
                pre = maml.task_batch(None, episodes_of(pre_data.tensors(), n_tasks))
                with torch.no_grad():
                    adapted = vmap(maml.adapt, in_dims=(None, 0))(maml.params(), pre)
            else:  # pretraining: no pre-adaptation episodes to spend the budget on
                pre_data, adapted = (
                    None,
                    {name: v.detach().expand(n_tasks, *v.shape) for name, v in maml.params().items()},
                )

            def exploit(obs: torch.Tensor, previous: torch.Tensor, adapted: dict = adapted) -> torch.Tensor:
                mean, log_std = vmap(functional_call, in_dims=(None, 0, 0))(policy, adapted, obs.view(n_tasks, k, -1))
                return (mean + log_std.exp() * torch.randn_like(mean)).view(n_tasks * k, -1)

            post_data = rollout(envs, exploit, run.squash, 1, horizon, seed=None if pre_data else seed)
            post = maml.task_batch(adapted, episodes_of(post_data.tensors(), n_tasks))
            if not pre_data:
                pre = post  # with no inner step the outer loss never reads it
            for _ in range(config.outer_epochs):
                loss = vmap(maml.outer_loss, in_dims=(None, 0, 0))(maml.params(), pre, post).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            collected = [pre_data, post_data] if pre_data else [post_data]
            run.end_iteration(
                bar,
                sum(data.env_steps for data in collected),
                pre_return=collected[0].episode_returns().mean(),
                post_return=post_data.episode_returns().mean(),
            )
    vector_envs.close()
    return run.path


# ---------------------------------------------------------------------- the agent


class MAMLAgent(AgentBase):
    """The meta-learned initialization, adapted at test time by gradient steps.

    Adaptation episodes act stochastically (the exploration the inner step learns from);
    at the first evaluation episode of a trial the agent takes ``inner_steps`` policy-gradient
    steps on the adaptation episodes it observed; evaluation episodes act with the adapted mean.
    """

    def __init__(self, maml: MAML, inner_steps: int | None = None) -> None:
        self.maml = maml
        self.adaptation_budget = adaptation_budget(maml.config)
        self.inner_steps = maml.config.inner_steps
        if inner_steps is not None:
            self.set_gradient_steps(inner_steps)
        self.params: dict[str, torch.Tensor] = {}
        self._generator = torch.Generator()
        self._squash: Squash | None = None
        self._horizon = 0
        self._episodes: list[dict[str, list]] = []
        self._adaptation = True
        self._adapted = False
        self._last_u: torch.Tensor | None = None

    def set_gradient_steps(self, steps: int) -> None:
        """Take ``steps`` test-time gradient steps (0: evaluate the initialization itself)."""
        if type(steps) is not int or steps < 0:
            raise ValueError(f"inner_steps must be a non-negative integer, got {steps!r}")
        self.inner_steps = steps

    def begin_task(self, context: TaskContext) -> None:
        self.params = {name: value.detach().clone() for name, value in self.maml.params().items()}
        self._generator.manual_seed(context.seed)
        self._squash = Squash.from_space(context.action_space)
        self._horizon = context.horizon
        self._episodes = []
        self._adapted = False

    def begin_episode(self, adaptation: bool) -> None:
        self._adaptation = adaptation
        if adaptation:
            self._episodes.append({"obs": [], "u": [], "rewards": []})
        elif not self._adapted and self._episodes:
            self._adapt()

    def act(self, obs: np.ndarray) -> np.ndarray:
        if self._squash is None:
            raise RuntimeError("begin_task must be called before act")
        with torch.no_grad():
            mean, log_std = functional_call(self.maml.policy, self.params, (torch.as_tensor(obs, dtype=torch.float32),))
            u = mean
            if self._adaptation:
                u = mean + log_std.exp() * torch.randn(mean.shape, generator=self._generator)
        self._last_u = u
        return self._squash.to_env(u)

    def observe(self, transition: Transition) -> None:
        if self._adaptation and self._episodes:
            episode = self._episodes[-1]
            episode["obs"].append(np.asarray(transition.obs, dtype=np.float32))
            episode["u"].append(self._last_u.numpy())
            episode["rewards"].append(transition.reward)

    def observe_demonstration(self, demonstration: Demonstration) -> None:
        """Keep the demonstration as an adaptation episode (see the module docstring)."""
        if self._squash is None:
            raise RuntimeError("begin_task must be called before observe_demonstration")
        edge = 1.0 - 1e-6  # a demonstrated action on the box's boundary has an infinite pre-squash action
        self._episodes.append({"obs": [], "u": [], "rewards": []})
        for transition in demonstration.transitions:
            unit = np.clip(self._squash.to_unit(transition.action), -edge, edge)
            self._episodes[-1]["obs"].append(np.asarray(transition.obs, dtype=np.float32))
            self._episodes[-1]["u"].append(np.arctanh(unit).astype(np.float32))
            self._episodes[-1]["rewards"].append(transition.reward)

    def _adapt(self) -> None:
        """Gradient steps on the observed adaptation episodes (padded to the horizon)."""
        h, k = self._horizon, len(self._episodes)
        obs_dim, act_dim = len(self._episodes[0]["obs"][0]), len(self._episodes[0]["u"][0])
        episodes = {
            "obs": torch.zeros(h, 1, k, obs_dim),
            "u": torch.zeros(h, 1, k, act_dim),
            "rewards": torch.zeros(h, 1, k),
            "valid": torch.zeros(h, 1, k),
        }
        for j, episode in enumerate(self._episodes):
            n = len(episode["rewards"])
            episodes["obs"][:n, 0, j] = torch.as_tensor(np.stack(episode["obs"]))
            episodes["u"][:n, 0, j] = torch.as_tensor(np.stack(episode["u"]))
            episodes["rewards"][:n, 0, j] = torch.as_tensor(episode["rewards"], dtype=torch.float32)
            episodes["valid"][:n, 0, j] = 1.0
        batch = self.maml.task_batch(None, episodes)
        single = {name: value[0] for name, value in batch.items()}
        with torch.no_grad():
            self.params = self.maml.adapt(self.params, single, self.inner_steps)
        self._adapted = True


def adaptation_budget(config: Config) -> AdaptationBudget:
    """What MAML meta-trains for: K = ``episodes_per_task`` episodes, ``inner_steps`` steps of ``inner_lr``."""
    return AdaptationBudget(config.episodes_per_task, config.inner_steps, config.inner_lr)


#: Where :class:`MAMLAgent`'s adaptation starts: ``"meta-trained"`` (the method) or ``"random"`` (its
#: control: a freshly initialized policy of the same architecture, seeded by the training seed, with the
#: same test-time gradient steps; what the meta-trained initialization adds is the difference).
INITIALIZATIONS = ("meta-trained", "random")


def load_agent(
    checkpoint: str | os.PathLike[str], inner_steps: int | None = None, initialization: str = "meta-trained"
) -> MAMLAgent:
    """A :class:`MAMLAgent` from a checkpoint (or learning-curve snapshot) written by :func:`train`
    (``tasksuite evaluate --agent tasksuite.baselines.maml:load_agent``).

    ``inner_steps``: test-time gradient steps on the adaptation episodes (default: as many as
    meta-trained; further steps re-use the same episodes, so they can overshoot). ``initialization``:
    one of :data:`INITIALIZATIONS`.
    """
    if initialization not in INITIALIZATIONS:
        raise ValueError(f"initialization must be one of {INITIALIZATIONS}, got {initialization!r}")
    state = load_checkpoint(checkpoint)
    config = config_from_dict(Config, state["config"])
    with torch.random.fork_rng():  # the caller's random stream stays untouched
        torch.manual_seed(config.seed)
        policy = GaussianPolicy(state["obs_dim"], state["act_dim"], config.hidden, config.init_log_std)
    if initialization == "meta-trained":
        policy.load_state_dict(state["policy"])
    return MAMLAgent(MAML(policy, config), inner_steps)
