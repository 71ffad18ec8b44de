"""An in-context learner: a causal transformer over the trial's transitions, trained as a Decision-Pretrained
Transformer (Lee et al. 2023, "Supervised pretraining can learn in-context reinforcement learning").

Each step of a trial is one token: the observation, what led to it (the last unit action, the last reward, a
flag marking an episode's first step: RL²'s input) and a flag marking the steps of a demonstration. A causal
transformer reads the trial's tokens so far (its own earlier episodes and any demonstrations it was shown, up
to a window of ``episodes_per_trial`` episodes) and outputs the action for the current observation. Nothing is
updated at test time: the context *is* the adaptation, as RL²'s hidden state is, but with attention over the
whole window instead of a recurrent state, and with no position encoding, so the context is read as a set of
steps (each step's own observation and flags say where it stands).

Why DPT rather than RL over trials (RL²'s PPO): every family ships an oracle, so the optimal action for any
state of a training task is known. Predicting it is a supervised, low-variance loss at *every* position of every
trial, against PPO's noisy returns: the difference between minutes and hours on 2 CPU cores. The price: the
learner imitates the oracle, so it explores only as much as predicting the oracle's action from an
uninformative context makes it (it heads for where the training goals lie on average, which, with the dense
and distance-based rewards here, is informative); it cannot learn exploration a task would need beyond that.

Training trials. Each trial is one training task: ``d`` demonstrations (the oracle's episodes, with Gaussian
action noise of a standard deviation drawn from ``[0, demo_noise_max]`` half-widths, as the ``few-shot-demos``
protocol's are; ``d`` uniform in ``0 .. episodes_per_trial - 1``) followed by the learner's own episodes, played
by the current network with Gaussian exploration noise ``explore_std`` on its pre-squash action. The loss is the
squared error between the network's (unit) action and the oracle's at every step of the trial. Training on the
learner's own episodes (DAgger-like, as DPT's online variant evaluates) rather than only on a fixed behaviour
policy's keeps the contexts of training those it meets at test time. Each batch serves ``updates_per_batch``
Adam steps (the labels do not depend on the network, so reusing a batch is unbiased). Where a family ends
episodes early, the padding steps of a batch stay in its context (as in RL²: identically in rollout and update);
at test time there is none.

Test time (:class:`InContextAgent`): the agent appends each step it observes, and each demonstration given to
``observe_demonstration``, to its context, and acts with the network's mean action in adaptation and
evaluation episodes alike. ``context`` in :func:`load_agent` is the control: ``"episode"`` forgets at every
episode (and the demonstrations when the first begins), ``"none"`` acts every step as at the first step of a
trial, with no context at all.

Run it with ``tasksuite train incontext --benchmark navigation-meta --out runs/incontext``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tasksuite.baselines.common import (
    Adam,
    Run,
    Squash,
    VectorEnvs,
    config_from_dict,
    load_checkpoint,
    rollout,
    task_batch,
)
from tasksuite.baselines.config import check_config, ranged
from tasksuite.core.benchmark import Benchmark
from tasksuite.core.errors import InvalidConfigError
from tasksuite.evaluation.agent import AdaptationBudget, AgentBase, Demonstration, TaskContext, Transition
from tasksuite.evaluation.rollout import Policy

#: Unit actions of demonstrations are kept this far inside ``[-1, 1]`` so that ``atanh`` stays finite.
_EDGE = 1e-5


@dataclass(frozen=True)
class Config:
    """In-context (DPT) hyperparameters (defaults: navigation-meta, ~10 minutes on one shared CPU thread)."""

    seed: int = ranged(0, low=0)
    total_env_steps: int = ranged(2_000_000, low=1)  # training budget, demonstrations' env steps counted
    parallel_trials: int = ranged(32, low=1)  # trials per batch, one task each (drawn with replacement)
    episodes_per_trial: int = ranged(4, low=1)  # episodes of one task per trial: also the context window
    width: int = ranged(64, low=1)  # transformer width (token embedding size)
    heads: int = ranged(4, low=1)  # attention heads (must divide width)
    layers: int = ranged(2, low=1)  # transformer blocks
    lr: float = ranged(1e-3, above=0.0)  # Adam step size
    updates_per_batch: int = ranged(4, low=1)  # Adam steps on each collected batch
    demo_noise_max: float = ranged(0.3, low=0.0)  # demonstrations' action noise std is uniform in [0, this]
    explore_std: float = ranged(0.3, low=0.0)  # Gaussian noise on the learner's pre-squash actions in training
    reward_scale: float = ranged(1.0, above=0.0)  # rewards are multiplied by this in the tokens
    max_grad_norm: float = ranged(1.0, above=0.0)  # gradient clipping
    checkpoint_every: int = ranged(10, low=1)  # iterations between checkpoints
    threads: int = ranged(1, low=1)  # torch CPU threads (fixed, for reproducibility)

    def __post_init__(self) -> None:
        check_config(self)  # every field against its declared range (tasksuite.baselines.config)
        if self.width % self.heads:
            raise InvalidConfigError(
                f"incontext config field 'heads' = {self.heads}: must divide 'width' = {self.width}"
            )


def token_dim(obs_dim: int, act_dim: int) -> int:
    """Features of one step: observation, last unit action, last reward, first-step flag, demonstration flag."""
    return obs_dim + act_dim + 3


class Block(nn.Module):
    """One pre-norm transformer block: causal self-attention, then a 2-layer MLP, each added to its input."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm_attention, self.norm_mlp = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor, cache: list[torch.Tensor] | None = None) -> torch.Tensor:
        """``x`` ``[B, T, width]``. With ``cache`` (this block's keys and values so far, extended in place),
        ``x`` is one new step, which attends to every cached one: a rollout costs one step per step."""
        batch, steps, width = x.shape
        q, k, v = (
            part.view(batch, steps, self.heads, -1).transpose(1, 2)
            for part in self.qkv(self.norm_attention(x)).split(width, -1)
        )
        if cache is not None:
            if steps != 1:
                raise ValueError(f"a cached forward pass takes one step at a time, got {steps}")
            if cache:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
        attended = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=cache is None)
        x = x + self.out(attended.transpose(1, 2).reshape(batch, steps, width))
        return x + self.mlp(self.norm_mlp(x))


class ContextTransformer(nn.Module):
    """Token embedding, causal transformer blocks without position encoding, and a pre-squash action head."""

    def __init__(self, obs_dim: int, act_dim: int, width: int, heads: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Linear(token_dim(obs_dim, act_dim), width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.action = nn.Linear(width, act_dim)

    def forward(self, tokens: torch.Tensor, caches: list[list[torch.Tensor]] | None = None) -> torch.Tensor:
        """Time-major ``[T, B, token_dim]`` tokens: pre-squash actions ``[T, B, act_dim]``, step ``t`` from
        tokens ``0 .. t`` only. ``caches`` (one list per block, from :meth:`new_caches`) carry a rollout's
        earlier steps: then ``tokens`` are the one new step."""
        x = self.embed(tokens.transpose(0, 1))
        for index, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[index])
        return self.action(self.norm(x)).transpose(0, 1)

    def new_caches(self) -> list[list[torch.Tensor]]:
        """Empty key-value caches for :meth:`forward`, one per block."""
        return [[] for _ in self.blocks]


def reward_scaling(act_dim: int, reward_scale: float) -> torch.Tensor:
    """Multiplies a step's ``previous`` (last unit action, last reward, first flag) to scale its reward."""
    return torch.tensor([1.0] * act_dim + [reward_scale, 1.0])


# ---------------------------------------------------------------------- training


class Trials:
    """One batch of training trials as they are played: which episodes are demonstrations, and, filled in
    step by step, the demonstration flags and the oracle's unit actions (the labels) at every step."""

    def __init__(
        self,
        oracles: list[Policy],
        demo_episodes: np.ndarray,
        demo_noise: np.ndarray,
        steps: int,
        horizon: int,
        act_dim: int,
    ) -> None:
        self.oracles, self.demo_episodes, self.demo_noise, self.horizon = oracles, demo_episodes, demo_noise, horizon
        self.labels = np.zeros((steps, len(oracles), act_dim), np.float32)
        self.flags = np.zeros((steps, len(oracles), 1), np.float32)

    def player(self, net: ContextTransformer, squash: Squash, config: Config, rng: np.random.Generator):
        """A :func:`~tasksuite.baselines.common.rollout` policy: the (noisy) oracle in demonstration
        episodes, the network with exploration noise in the others, one cached step at a time."""
        caches, steps = net.new_caches(), iter(range(len(self.labels)))
        scale = reward_scaling(self.labels.shape[-1], config.reward_scale)

        def act(obs: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
            step = next(steps)
            oracle = squash.to_unit(np.stack([p(o) for p, o in zip(self.oracles, obs.numpy(), strict=True)]))
            self.labels[step] = oracle
            self.flags[step, :, 0] = step // self.horizon < self.demo_episodes
            flag = torch.as_tensor(self.flags[step])
            own = net(torch.cat([obs, previous * scale, flag], -1)[None], caches)[0]
            own = own + config.explore_std * torch.randn_like(own)
            shown = np.clip(oracle + self.demo_noise * rng.standard_normal(oracle.shape), -1 + _EDGE, 1 - _EDGE)
            return torch.where(flag > 0, torch.atanh(torch.as_tensor(shown, dtype=torch.float32)), own)

        return act


def train(config: Config, benchmark: Benchmark, out_dir: str | os.PathLike[str], resume: bool = False) -> Path:
    """Pretrain on ``benchmark``'s training tasks; returns the checkpoint's path.

    With ``resume``, continues from ``out_dir``'s checkpoint and ends exactly where an
    uninterrupted run would.
    """
    run = Run("incontext", config, benchmark, out_dir, resume)
    net = ContextTransformer(run.obs_dim, run.act_dim, config.width, config.heads, config.layers)
    optimizer = Adam(net.parameters(), config.lr)
    run.track(policy=net, optimizer=optimizer)
    n, horizon, episodes = config.parallel_trials, benchmark.family.horizon, config.episodes_per_trial
    vector_envs = VectorEnvs(benchmark)
    oracles: dict[str, Policy] = {}  # built once per task (a MuJoCo family's oracle compiles a model)
    scale = reward_scaling(run.act_dim, config.reward_scale)

    with run.progress_bar() as bar:
        while not run.done:
            seed = run.seed()
            rng = np.random.default_rng(seed)
            tasks = task_batch(benchmark.train_tasks, n, rng)
            trials = Trials(
                oracles=[oracles.setdefault(task.id, benchmark.family.oracle_policy(task)) for task in tasks],
                demo_episodes=rng.integers(episodes, size=n),
                demo_noise=rng.uniform(0.0, config.demo_noise_max, size=(n, 1)),
                steps=episodes * horizon,
                horizon=horizon,
                act_dim=run.act_dim,
            )
            data = rollout(vector_envs.of(tasks), trials.player(net, run.squash, config, rng), run.squash,
                           episodes, horizon, seed=seed)  # fmt: skip
            batch = data.tensors()
            inputs = torch.cat([batch["obs"], batch["previous"] * scale, torch.as_tensor(trials.flags)], -1)
            target, valid = torch.as_tensor(trials.labels), batch["valid"][..., None]
            for _ in range(config.updates_per_batch):
                loss = (((torch.tanh(net(inputs)) - target) ** 2) * valid).sum() / (valid.sum() * run.act_dim)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
                optimizer.step()
            own = torch.as_tensor(np.arange(episodes)[:, None] >= trials.demo_episodes[None])  # [episodes, n]
            returns = torch.as_tensor(data.episode_returns())
            scalars = {"loss": loss.item(), "own_return": float(returns[own].mean()) if own.any() else 0.0}
            run.end_iteration(bar, data.env_steps, **scalars)
    vector_envs.close()
    return run.path


# ---------------------------------------------------------------------- the agent


#: What :class:`InContextAgent` keeps in its context: ``"trial"`` (the method: every step of the trial, and the
#: demonstrations, within the window), ``"episode"`` (a control: cleared at every episode, so nothing seen in one
#: episode, nor any demonstration, reaches the next) or ``"none"`` (the control with the context removed: every
#: step is acted as the first step of a trial).
CONTEXTS = ("trial", "episode", "none")


class InContextAgent(AgentBase):
    """The pretrained transformer acting on its context of the trial (see the module docstring): no gradient
    step at test time. It acts with the mean action in adaptation and evaluation episodes alike."""

    def __init__(self, net: ContextTransformer, config: Config, context: str = "trial") -> None:
        if context not in CONTEXTS:
            raise ValueError(f"context must be one of {CONTEXTS}, got {context!r}")
        self.net, self.episodes, self.context = net, config.episodes_per_trial, context
        self.adaptation_budget = adaptation_budget(config)
        self.window = 0  # steps of context kept: ``episodes`` episodes, as many as a training trial's
        act_dim = net.action.out_features
        self._scale = reward_scaling(act_dim, config.reward_scale)
        self._tokens: list[torch.Tensor] = []
        self._previous = torch.zeros(act_dim + 2)
        self._squash: Squash | None = None

    def begin_task(self, context: TaskContext) -> None:
        self._tokens = []
        self._previous = torch.zeros_like(self._previous)
        self._squash = Squash.from_space(context.action_space)
        self.window = self.episodes * context.horizon

    def begin_episode(self, adaptation: bool) -> None:
        if self.context == "episode":
            self._tokens = []
            self._previous = torch.zeros_like(self._previous)
        self._previous[-1] = 1.0  # first step of an episode; last action and reward carry over

    def act(self, obs: np.ndarray) -> np.ndarray:
        if self._squash is None:
            raise RuntimeError("begin_task must be called before act")
        if self.context == "none":  # as at the first step of a trial: no action, no reward, no history
            self._tokens = [self._token(obs, demonstration=False, previous=torch.eye(len(self._previous))[-1])]
        else:
            self._tokens = [*self._tokens, self._token(obs, demonstration=False)][-self.window :]
        with torch.no_grad():
            u = self.net(torch.stack(self._tokens)[:, None])[-1, 0]
        return self._squash.to_env(u)

    def observe(self, transition: Transition) -> None:
        self._record(transition)

    def observe_demonstration(self, demonstration: Demonstration) -> None:
        """Put the demonstration's steps in the context, flagged as a demonstration, as an earlier episode."""
        if self._squash is None:
            raise RuntimeError("begin_task must be called before observe_demonstration")
        self._previous[-1] = 1.0
        for transition in demonstration.transitions:
            self._tokens = [*self._tokens, self._token(transition.obs, demonstration=True)][-self.window :]
            self._record(transition)

    def _token(self, obs: np.ndarray, demonstration: bool, previous: torch.Tensor | None = None) -> torch.Tensor:
        step = self._previous if previous is None else previous
        flag = torch.tensor([float(demonstration)])
        return torch.cat([torch.as_tensor(obs, dtype=torch.float32), step * self._scale, flag])

    def _record(self, transition: Transition) -> None:
        """What the next token says of this step: its unit action and its reward."""
        assert self._squash is not None
        unit = self._squash.to_unit(transition.action)
        self._previous = torch.cat([torch.as_tensor(unit), torch.tensor([transition.reward, 0.0])])


def adaptation_budget(config: Config) -> AdaptationBudget:
    """What the in-context agent is evaluated with: half its window of own episodes (K = 2 of 4), so the
    evaluation episodes that follow are still in the context it was trained on."""
    return AdaptationBudget(config.episodes_per_trial // 2)


def load_agent(checkpoint: str | os.PathLike[str], context: str = "trial") -> InContextAgent:
    """An :class:`InContextAgent` from a checkpoint (or learning-curve snapshot) written by :func:`train`
    (``tasksuite evaluate --agent tasksuite.baselines.incontext:load_agent``); ``context``: one of
    :data:`CONTEXTS`."""
    state = load_checkpoint(checkpoint)
    config = config_from_dict(Config, state["config"])
    net = ContextTransformer(state["obs_dim"], state["act_dim"], config.width, config.heads, config.layers)
    net.load_state_dict(state["policy"])
    net.eval()
    return InContextAgent(net, config, context)
