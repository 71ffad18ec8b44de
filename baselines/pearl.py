"""PEARL: probabilistic embeddings for actor-critic RL (Rakelly et al. 2019), Bayesian adaptation.

A context encoder maps each transition ``(s, a, r, s')`` to a Gaussian factor over a latent task
variable ``z``; the posterior is their product (closed form for Gaussians), regularized towards a
unit Gaussian prior by a KL term. A soft actor-critic conditioned on ``z`` learns off-policy from
per-task replay buffers; the critic's loss trains the encoder. Exploration at test time is
posterior sampling: act on a ``z`` drawn from the prior, then from the posterior given the
transitions seen so far.

As with the paper's encoder buffer (cleared at each collection), the encoder's context for a
training task is its latest collected trial: an episode with ``z`` from the prior, then one with
``z`` from the posterior, i.e. what the agent has seen after two adaptation episodes at test time;
the actor and critic learn from every transition of the task. Contexts unlike those it trained
on (many more episodes, say) make the product of Gaussians overconfident: meta-test it with the
two adaptation episodes it trained for.

Differences from the paper, for a small CPU budget: SAC with twin Q-functions, target critics and
a learned temperature (Haarnoja et al. 2018b) replaces the paper's SAC with a value network;
networks are 2x64 (paper: 3x300); rewards are scaled by ``reward_scale`` in the critic's targets.
And one for accuracy: the encoder's Gaussian factors have a diagonal-plus-rank-one precision
instead of a diagonal one (:class:`ContextEncoder`; ``encoder_factors="diagonal"`` restores the
paper's).

Demonstrations (the ``few-shot-demos`` protocol): :meth:`PEARLAgent.observe_demonstration` adds each
one's transitions to the context, exactly as an adaptation episode's (the unit action being the
demonstrated one), and draws ``z`` from the updated posterior. A demonstration is an oracle's episode,
not one played on a posterior sample: the encoder never saw such context in training.

Run it with ``tasksuite train pearl --benchmark navigation-meta --out runs/pearl``.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tasksuite.baselines.common import (
    Adam,
    Rollout,
    Run,
    Squash,
    VectorEnvs,
    config_from_dict,
    gaussian_log_prob,
    load_checkpoint,
    mlp,
    rollout,
)
from tasksuite.baselines.config import check_config, ranged
from tasksuite.core.benchmark import Benchmark
from tasksuite.evaluation.agent import AdaptationBudget, AgentBase, Demonstration, TaskContext, Transition


@dataclass(frozen=True)
class Config:
    """PEARL hyperparameters (defaults: navigation-meta)."""

    seed: int = ranged(0, low=0)
    total_env_steps: int = ranged(300_000, low=1)  # meta-training budget (initial collection included)
    latent_dim: int = ranged(5, low=1)  # size of z (paper: 5)
    hidden: tuple[int, ...] = ranged((64, 64), low=1)  # actor, critic and encoder widths
    initial_episodes: int = ranged(1, low=1)  # prior-z episodes collected on every training task before training
    tasks_per_iteration: int = ranged(5, low=1)  # tasks collected from per iteration (paper: 5)
    gradient_steps: int = ranged(100, low=1)  # gradient steps per iteration
    meta_batch: int = ranged(16, low=1)  # tasks per gradient step (paper: 16)
    batch_size: int = ranged(64, low=1)  # RL transitions per task and gradient step
    context_size: int = ranged(64, low=1)  # context transitions per task and gradient step
    context_episodes: int = ranged(2, low=1)  # the encoder trains on this many first episodes of each task's latest
    # collection: 1 = the prior-z episode only (the paper's setting), 2 = also the first posterior
    # episode, as the context after two adaptation episodes at test time
    capacity: int = ranged(5_000, low=1)  # replay transitions kept per task
    reward_scale: float = ranged(10.0, above=0.0)  # rewards are multiplied by this in the critic's targets:
    # the critic's loss, which trains the encoder, must outweigh the KL term or z carries no task information
    init_alpha: float = ranged(0.5, above=0.0)  # initial entropy temperature (then tuned towards entropy -act_dim,
    # measured in unit action coordinates [-1, 1]^act_dim: reachable on any action box, so it stays bounded)
    kl_weight: float = ranged(0.1, low=0.0)  # weight of KL(posterior || prior) (paper: 0.1)
    encoder_factors: str = ranged("full", choices=("full", "diagonal"))  # "full" (diagonal + rank-one
    # precision) or "diagonal" (paper): ContextEncoder
    critic_reward: str = ranged("env", choices=("env", "dense"))  # what the critic learns from: "env" (the
    # reward the agent is scored on) or "dense" (info["dense_reward"] of sparse families; the encoder's context
    # keeps the env's sparse reward), as the PEARL code does on the sparse point robot
    lr: float = ranged(1e-3, above=0.0)  # Adam step size of the actor, critics and temperature
    encoder_lr: float = ranged(3e-4, above=0.0)  # Adam step size of the context encoder: slower than the actor's, so
    # that the actor can follow the meaning of z as it forms
    gamma: float = ranged(0.99, above=0.0, high=1.0)  # discount
    tau: float = ranged(0.005, above=0.0, high=1.0)  # target-critic averaging rate
    checkpoint_every: int = ranged(20, low=1)  # iterations between checkpoints
    threads: int = ranged(1, low=1)  # torch CPU threads (fixed, for reproducibility)

    def __post_init__(self) -> None:
        check_config(self)  # every field against its declared range (tasksuite.baselines.config)


# ---------------------------------------------------------------------- networks


class ContextEncoder(nn.Module):
    """Per-transition Gaussian factors, multiplied into a posterior over ``z``.

    ``factors="diagonal"`` is the paper's encoder: each transition gives a diagonal Gaussian and
    the posterior is their product. ``factors="full"`` (the default) lets each transition's factor
    constrain ``z`` along any direction: its precision is ``diag(d) + u u^T`` (diagonal plus rank
    one) and it carries an information vector ``h``; the posterior multiplies the factors with the
    unit Gaussian prior, so precision ``I + sum(diag(d) + u u^T)`` and mean ``precision^-1 sum(h)``,
    a proper Gaussian for any context, exactly the prior for an empty one. Why: a dense distance
    reward tells that the goal lies on a circle around the agent, a constraint whose direction
    changes with the agent's position; diagonal factors can only constrain along the latent axes,
    and their product located navigation goals only roughly (docs/results.md: post-adaptation
    score 0.61 with diagonal factors, 0.77 with full ones on navigation-meta, same seed and budget).
    """

    #: Bounds of a factor's raw outputs: a diverging encoder cannot make a product that is not a
    #: proper Gaussian in float32 (the posterior is then computed in float64, where precisions
    #: bounded so are always positive definite).
    MAX_PRECISION, MAX_DIRECTION = 1e4, 1e2

    def __init__(self, transition_dim: int, latent_dim: int, hidden: tuple[int, ...], factors: str = "full") -> None:
        super().__init__()
        if factors not in ("diagonal", "full"):
            raise ValueError(f"encoder factors must be 'diagonal' or 'full', got {factors!r}")
        self.latent_dim, self.factors = latent_dim, factors
        self.net = mlp(transition_dim, (2 if factors == "diagonal" else 3) * latent_dim, hidden, nn.ReLU)

    def forward(self, context: torch.Tensor) -> torch.distributions.MultivariateNormal:
        """``[B, N, transition_dim]`` context (``N >= 1``) to the posterior over ``z`` (batch ``[B]``)."""
        if self.factors == "diagonal":
            # Precision = sum of the factors' precisions; mean = their precision-weighted mean.
            mean, raw_var = self.net(context).chunk(2, -1)
            precision = 1.0 / nn.functional.softplus(raw_var).clamp(min=1.0 / self.MAX_PRECISION)
            total = precision.sum(1)
            return torch.distributions.MultivariateNormal(
                (precision * mean).sum(1) / total, scale_tril=torch.diag_embed(total.rsqrt())
            )
        information, raw_diag, u = self.net(context).double().chunk(3, -1)
        u = u.clamp(-self.MAX_DIRECTION, self.MAX_DIRECTION)
        outer = u.mT @ u  # sum over transitions of u u^T
        diagonal = 1.0 + nn.functional.softplus(raw_diag).clamp(max=self.MAX_PRECISION).sum(1)
        precision = torch.diag_embed(diagonal) + 0.5 * (outer + outer.mT)  # symmetric to the last bit
        mean = torch.cholesky_solve(information.sum(1)[..., None], torch.linalg.cholesky(precision))[..., 0]
        # validate_args=False: the positive-definiteness check is the Cholesky factorization just done.
        exact = torch.distributions.MultivariateNormal(mean, precision_matrix=precision, validate_args=False)
        return torch.distributions.MultivariateNormal(
            exact.loc.float(), scale_tril=exact.scale_tril.float(), validate_args=False
        )

    def prior(self) -> torch.distributions.MultivariateNormal:
        """The unit Gaussian prior over ``z``."""
        return torch.distributions.MultivariateNormal(
            torch.zeros(self.latent_dim), scale_tril=torch.eye(self.latent_dim)
        )


def transitions_dim(obs_dim: int, act_dim: int) -> int:
    """Width of a stored transition: obs, unit action, reward, next obs, terminated, the critic's reward."""
    return 2 * obs_dim + act_dim + 3


class SAC(nn.Module):
    """The latent-conditioned actor, twin critics and their targets, the temperature, the encoder."""

    def __init__(self, obs_dim: int, act_dim: int, config: Config) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.encoder = ContextEncoder(
            2 * obs_dim + act_dim + 1, config.latent_dim, config.hidden, config.encoder_factors
        )
        self.actor = mlp(obs_dim + config.latent_dim, 2 * act_dim, config.hidden, nn.ReLU)
        self.critics = nn.ModuleList(
            [mlp(obs_dim + act_dim + config.latent_dim, 1, config.hidden, nn.ReLU) for _ in range(2)]
        )
        self.targets = copy.deepcopy(self.critics).requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(float(np.log(config.init_alpha))))

    def context(self, transitions: torch.Tensor) -> torch.Tensor:
        """What the encoder reads of stored transitions: ``(s, a, r, s')`` with the env's reward."""
        return transitions[..., :-2]

    def posterior(self, transitions: torch.Tensor) -> torch.distributions.MultivariateNormal:
        """The task latent's distribution given context transitions (product of Gaussians)."""
        return self.encoder(self.context(transitions))

    def policy(self, obs: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-std of the actor's Gaussian for ``obs`` under task latent ``z``."""
        mean, log_std = self.actor(torch.cat([obs, z], -1)).chunk(2, -1)
        return mean, log_std.clamp(-5.0, 2.0)

    def q(self, critics: nn.ModuleList, obs: torch.Tensor, action: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The smaller of the twin critics' values (clipped double Q)."""
        x = torch.cat([obs, action, z], -1)
        return torch.minimum(critics[0](x), critics[1](x))[..., 0]

    def sample(self, obs: torch.Tensor, z: torch.Tensor, squash: Squash) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterized pre-squash action and the log-density of its squashed action in unit
        coordinates (see :meth:`Squash.log_det_unit`: the entropy target must be reachable)."""
        mean, log_std = self.policy(obs, z)
        u = mean + log_std.exp() * torch.randn_like(mean)
        return u, gaussian_log_prob(mean, log_std, u) - squash.log_det_unit(u)


def sample_z(
    posterior: torch.distributions.MultivariateNormal, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A task latent drawn from ``posterior`` (posterior sampling), reparameterized."""
    noise = torch.randn(posterior.loc.shape, generator=generator)
    return posterior.loc + (posterior.scale_tril @ noise[..., None])[..., 0]


# ---------------------------------------------------------------------- replay


class Replay:
    """One ring buffer of transitions per training task, as tensors (so a checkpoint can hold it)."""

    def __init__(self, n_tasks: int, capacity: int, width: int) -> None:
        self.data = torch.zeros(n_tasks, capacity, width)
        self.count = torch.zeros(n_tasks, dtype=torch.long)  # transitions ever added

    def add(self, task: int, transitions: torch.Tensor) -> None:
        """Store transitions of ``task``, overwriting its oldest once full."""
        capacity = self.data.shape[1]
        slots = (self.count[task] + torch.arange(len(transitions))) % capacity
        self.data[task, slots] = transitions
        self.count[task] += len(transitions)

    def add_rollout(self, tasks: list[int], data: Rollout, critic_reward: str) -> None:
        """Every valid step of a rollout whose sub-env ``j`` ran training task ``tasks[j]``."""
        rows, valid = transition_rows(data, critic_reward), data.tensors()["valid"]
        for j, task in enumerate(tasks):
            self.add(task, rows[valid[:, j] > 0, j])

    def clear(self, tasks: list[int]) -> None:
        """Forget the stored transitions of ``tasks``."""
        self.count[tasks] = 0

    def sample(self, tasks: torch.Tensor, size: int) -> torch.Tensor:
        """``[len(tasks), size, width]`` transitions drawn uniformly (with replacement) per task."""
        filled = self.count[tasks].clamp(max=self.data.shape[1])
        index = (torch.rand(len(tasks), size) * filled[:, None]).long()
        return self.data[tasks[:, None], index]


def transition_rows(data: Rollout, critic_reward: str) -> torch.Tensor:
    """A rollout's steps as stored transitions ``[T, n_envs, width]``: obs, unit action, reward,
    next obs, terminated, and the critic's reward (``critic_reward``: ``"env"`` or ``"dense"``)."""
    if critic_reward not in ("env", "dense"):
        raise ValueError(f"critic_reward must be 'env' or 'dense', got {critic_reward!r}")
    t = data.tensors()
    action, reward, terminated = torch.tanh(t["raw_actions"]), t["rewards"][..., None], t["terminated"][..., None]
    critic = t["dense_rewards" if critic_reward == "dense" else "rewards"][..., None]
    return torch.cat([t["obs"], action, reward, t["next_obs"], terminated, critic], -1)


def split(transitions: torch.Tensor, obs_dim: int, act_dim: int) -> tuple[torch.Tensor, ...]:
    """Stored transitions into obs, unit action, next obs, terminated and the critic's reward."""
    sizes = [obs_dim, act_dim, 1, obs_dim, 1, 1]
    obs, action, _reward, next_obs, terminated, critic_reward = transitions.split(sizes, -1)
    return obs, action, next_obs, terminated[..., 0], critic_reward[..., 0]


# ---------------------------------------------------------------------- training


def train(config: Config, benchmark: Benchmark, out_dir: str | os.PathLike[str], resume: bool = False) -> Path:
    """Meta-train on ``benchmark``'s training tasks; returns the checkpoint's path.

    With ``resume``, continues from ``out_dir``'s checkpoint (replay buffers included) and ends
    exactly where an uninterrupted run would.
    """
    run = Run("pearl", config, benchmark, out_dir, resume, agent_keys=("sac",))
    obs_dim, act_dim, squash = run.obs_dim, run.act_dim, run.squash
    sac = SAC(obs_dim, act_dim, config)
    critic_optimizer = Adam(
        [{"params": sac.critics.parameters()}, {"params": sac.encoder.parameters(), "lr": config.encoder_lr}],
        config.lr,
    )
    actor_optimizer = Adam(sac.actor.parameters(), config.lr)
    alpha_optimizer = Adam([sac.log_alpha], config.lr)
    n_tasks, horizon = len(benchmark.train_tasks), benchmark.family.horizon
    replay = Replay(n_tasks, config.capacity, transitions_dim(obs_dim, act_dim))
    # As in the paper's encoder buffer: the context the encoder trains on is each task's latest
    # prior-z episode, the data it sees at test time after the first adaptation episode.
    contexts = Replay(n_tasks, horizon * config.context_episodes, transitions_dim(obs_dim, act_dim))
    run.track(
        sac=sac,
        critic_optimizer=critic_optimizer,
        actor_optimizer=actor_optimizer,
        alpha_optimizer=alpha_optimizer,
        replay_data=replay.data,
        replay_count=replay.count,
        context_data=contexts.data,
        context_count=contexts.count,
    )
    target_entropy = -float(act_dim)  # in unit action coordinates (SAC.sample)
    vector_envs = VectorEnvs(benchmark)

    def collect(tasks: list[int], seed: int, posterior_episodes: int) -> tuple[int, float]:
        """One prior-z episode per task (it becomes the task's context), then ``posterior_episodes``
        on z from the posterior of the trial's transitions so far; everything goes to the replay.
        Env steps and the last episode's mean return."""
        envs = vector_envs.of([benchmark.train_tasks[i] for i in tasks])
        z = torch.randn(len(tasks), config.latent_dim)
        trial = []
        steps, returns = 0, []
        for episode in range(1 + posterior_episodes):

            def act(obs: torch.Tensor, previous: torch.Tensor, z: torch.Tensor = z) -> torch.Tensor:
                return sac.sample(obs, z, squash)[0]

            data = rollout(envs, act, squash, 1, horizon, seed=seed if episode == 0 else None)
            replay.add_rollout(tasks, data, config.critic_reward)
            if episode == 0:
                contexts.clear(tasks)
            if episode < config.context_episodes:
                contexts.add_rollout(tasks, data, config.critic_reward)
            steps, returns = steps + data.env_steps, [*returns, float(data.episode_returns().mean())]
            trial.append(transition_rows(data, config.critic_reward))
            with torch.no_grad():
                z = sample_z(sac.posterior(torch.cat(trial).transpose(0, 1)))
        return steps, returns[-1]

    def gradient_step() -> dict[str, float]:
        tasks = torch.randint(n_tasks, (config.meta_batch,))
        tasks = tasks[contexts.count[tasks] > 0]
        posterior = sac.posterior(contexts.sample(tasks, config.context_size))
        z = sample_z(posterior)
        kl = torch.distributions.kl_divergence(posterior, sac.encoder.prior()).mean()
        obs, action, next_obs, terminated, reward = split(replay.sample(tasks, config.batch_size), obs_dim, act_dim)
        z_rows = z[:, None].expand(-1, config.batch_size, -1)
        alpha = sac.log_alpha.exp().detach()
        with torch.no_grad():
            next_u, next_log_prob = sac.sample(next_obs, z_rows, squash)
            next_q = sac.q(sac.targets, next_obs, torch.tanh(next_u), z_rows) - alpha * next_log_prob
            target = config.reward_scale * reward + config.gamma * (1.0 - terminated) * next_q
        x = torch.cat([obs, action, z_rows], -1)  # z not detached: the critic's loss trains the encoder
        critic_loss = sum(((critic(x)[..., 0] - target) ** 2).mean() for critic in sac.critics)
        critic_optimizer.zero_grad()
        (critic_loss + config.kl_weight * kl).backward()
        critic_optimizer.step()

        z_rows = z_rows.detach()
        u, log_prob = sac.sample(obs, z_rows, squash)
        sac.critics.requires_grad_(False)  # the actor's loss trains the actor only: no critic gradients computed
        actor_loss = (alpha * log_prob - sac.q(sac.critics, obs, torch.tanh(u), z_rows)).mean()
        sac.critics.requires_grad_(True)
        actor_optimizer.zero_grad()
        actor_loss.backward()
        actor_optimizer.step()
        alpha_loss = -(sac.log_alpha * (log_prob.detach() + target_entropy)).mean()
        alpha_optimizer.zero_grad()
        alpha_loss.backward()
        alpha_optimizer.step()
        with torch.no_grad():
            for target_param, param in zip(sac.targets.parameters(), sac.critics.parameters(), strict=True):
                target_param.lerp_(param, config.tau)
        return {"critic_loss": float(critic_loss.detach()), "kl": float(kl.detach()), "alpha": float(alpha)}

    with run.progress_bar() as bar:
        while not run.done:
            seed = run.seed()
            if run.iteration == 0:
                tasks = [i for i in range(n_tasks) for _ in range(config.initial_episodes)]
                steps, ret = collect(tasks, seed, posterior_episodes=0)
            else:
                tasks = np.random.default_rng(seed).choice(n_tasks, config.tasks_per_iteration).tolist()
                steps, ret = collect(tasks, seed, posterior_episodes=1)
            losses = [gradient_step() for _ in range(config.gradient_steps)]
            scalars = {name: float(np.mean([loss[name] for loss in losses])) for name in losses[0]}
            run.end_iteration(bar, steps, posterior_return=ret, **scalars)
    vector_envs.close()
    return run.path


# ---------------------------------------------------------------------- the agent


#: What :class:`PEARLAgent` infers ``z`` from: ``"updated"`` (the method) or ``"prior"`` (its control:
#: the posterior is never updated, each episode acts on a fresh ``z`` from the prior).
POSTERIORS = ("updated", "prior")


class PEARLAgent(AgentBase):
    """Posterior sampling: ``z`` from the prior until context exists, then from the posterior
    given every adaptation transition of the trial, updated in ``end_episode(adaptation=True)``.
    Adaptation episodes sample actions; evaluation episodes act with the mean action (on the ``z``
    last sampled from the posterior). With ``posterior="prior"`` (the control that measures what
    inference adds) the context is ignored and every episode draws ``z`` from the prior."""

    def __init__(self, sac: SAC, budget: AdaptationBudget, posterior: str = "updated") -> None:
        if posterior not in POSTERIORS:
            raise ValueError(f"posterior must be one of {POSTERIORS}, got {posterior!r}")
        self.sac = sac
        self.adaptation_budget = budget
        self.infers = posterior == "updated"
        self.posterior = sac.encoder.prior()
        self._generator = torch.Generator()
        self._context: list[torch.Tensor] = []
        self._z = self.posterior.loc
        self._squash: Squash | None = None
        self._adaptation = True
        self._last_unit_action = np.zeros(sac.act_dim, dtype=np.float32)

    def begin_task(self, context: TaskContext) -> None:
        self._generator.manual_seed(context.seed)
        self._context = []
        self.posterior = self.sac.encoder.prior()
        self._z = sample_z(self.posterior, generator=self._generator)
        self._squash = Squash.from_space(context.action_space)

    def begin_episode(self, adaptation: bool) -> None:
        self._adaptation = adaptation

    def act(self, obs: np.ndarray) -> np.ndarray:
        if self._squash is None:
            raise RuntimeError("begin_task must be called before act")
        with torch.no_grad():
            mean, log_std = self.sac.policy(torch.as_tensor(obs, dtype=torch.float32), self._z)
            u = mean
            if self._adaptation:
                u = mean + log_std.exp() * torch.randn(mean.shape, generator=self._generator)
        self._last_unit_action = torch.tanh(u).numpy()
        return self._squash.to_env(u)

    def observe(self, transition: Transition) -> None:
        if self._adaptation:
            self._add_context(transition, self._last_unit_action)

    def end_episode(self, adaptation: bool) -> None:
        if not self.infers:
            self._z = sample_z(self.posterior, generator=self._generator)
        elif adaptation and self._context:
            self._infer()

    def observe_demonstration(self, demonstration: Demonstration) -> None:
        """Add the demonstration's transitions to the context and update the posterior from it (as after an
        adaptation episode; the ``prior`` control ignores it)."""
        if self._squash is None:
            raise RuntimeError("begin_task must be called before observe_demonstration")
        for transition in demonstration.transitions:
            self._add_context(transition, self._squash.to_unit(transition.action))
        if self.infers and self._context:
            self._infer()

    def _add_context(self, transition: Transition, unit_action: np.ndarray) -> None:
        row = np.concatenate([transition.obs, unit_action, [transition.reward], transition.next_obs])
        self._context.append(torch.as_tensor(row, dtype=torch.float32))

    def _infer(self) -> None:
        """The posterior given every context transition so far, and a ``z`` drawn from it."""
        with torch.no_grad():
            posterior = self.sac.encoder(torch.stack(self._context)[None])
        self.posterior = torch.distributions.MultivariateNormal(posterior.loc[0], scale_tril=posterior.scale_tril[0])
        self._z = sample_z(self.posterior, generator=self._generator)


def load_agent(checkpoint: str | os.PathLike[str], posterior: str = "updated") -> PEARLAgent:
    """A :class:`PEARLAgent` from a checkpoint (or learning-curve snapshot) written by :func:`train`
    (``tasksuite evaluate --agent tasksuite.baselines.pearl:load_agent``); ``posterior``: one of
    :data:`POSTERIORS`."""
    state = load_checkpoint(checkpoint)
    config = config_from_dict(Config, state["config"])
    sac = SAC(state["obs_dim"], state["act_dim"], config)
    sac.load_state_dict(state["sac"])
    return PEARLAgent(sac, adaptation_budget(config), posterior)


def adaptation_budget(config: Config) -> AdaptationBudget:
    """What PEARL meta-trains for: the ``context_episodes`` its encoder's context is collected from."""
    return AdaptationBudget(config.context_episodes)
