"""What the baselines truly share: seeding, networks, the squashed Gaussian, batched rollouts,
checkpoints and progress logging. (They are measured by the evaluation harness:
``tasksuite validate``.)

Every baseline keeps its algorithm in its own module; this file holds only the pieces that
would otherwise be copied into several of them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import pickle
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.optim.adam import adam as adam_update
from tqdm import tqdm

from tasksuite.core.benchmark import Benchmark
from tasksuite.core.errors import InvalidConfigError, TasksuiteError
from tasksuite.core.folder import claim_folder
from tasksuite.core.io import atomic_write, atomic_write_text, temporary_prefix
from tasksuite.core.task import Task

CHECKPOINT = "checkpoint.pt"
PROGRESS = "progress.csv"
SNAPSHOTS = "snapshots"
#: Config fields a resumed run may change: a larger budget continues the same run further.
RESUMABLE_CHANGES = ("total_env_steps",)

# ---------------------------------------------------------------------- seeding


def seed_everything(seed: int, threads: int) -> None:
    """Make torch deterministic on CPU: fixed seed, deterministic kernels, a fixed thread count
    (reductions split across a different number of threads round differently)."""
    torch.manual_seed(seed)
    if "torch._inductor" in sys.modules:
        torch.use_deterministic_algorithms(True)
    else:
        # The public call imports inductor (1.4-3.8 s) to set a torch.compile flag; nothing here compiles.
        torch._C._set_deterministic_algorithms(True, warn_only=False)
    torch.set_num_threads(threads)


def iteration_seed(seed: int, iteration: int) -> int:
    """A seed for one training iteration, so that a resumed run draws exactly what an
    uninterrupted run draws (no random-generator state needs saving)."""
    return int(np.random.default_rng([seed, iteration]).integers(2**31 - 1))


# ---------------------------------------------------------------------- networks


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int], activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    """A fully connected network ``in_dim -> hidden... -> out_dim`` (no output activation)."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), activation()]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class Squash:
    """Maps unbounded pre-activations ``u`` into an env's action box with ``tanh``.

    The envs refuse out-of-range actions (they never clip), so every baseline acts
    through this map. On-policy methods keep their Gaussian over ``u`` (the map does
    not depend on the parameters, so it cancels from their ratios and gradients);
    SAC needs the change of variables, :meth:`log_det`.
    """

    def __init__(self, low: np.ndarray, high: np.ndarray) -> None:
        self.low = np.asarray(low, dtype=np.float32)
        self.high = np.asarray(high, dtype=np.float32)
        self._centre = torch.as_tensor((self.high + self.low) / 2)
        self._half = torch.as_tensor((self.high - self.low) / 2)

    @classmethod
    def from_space(cls, space: gym.spaces.Box) -> Squash:
        return cls(space.low, space.high)

    def unit(self, u: torch.Tensor) -> torch.Tensor:
        """``tanh(u)``: the action in ``[-1, 1]`` coordinates (what networks take as input)."""
        return torch.tanh(u)

    def to_env(self, u: torch.Tensor) -> np.ndarray:
        """The env action for ``u``; clamped only against float rounding at the bounds."""
        action = (self._centre + self._half * torch.tanh(u)).numpy()
        return np.clip(action, self.low, self.high).astype(np.float32)

    def to_unit(self, action: np.ndarray) -> np.ndarray:
        """An env action in the ``[-1, 1]`` coordinates of :meth:`unit` (how agents read actions they did
        not choose themselves, a demonstration's)."""
        centre, half = (self.high + self.low) / 2, (self.high - self.low) / 2
        return ((np.asarray(action, dtype=np.float32) - centre) / half).astype(np.float32)

    def log_det(self, u: torch.Tensor) -> torch.Tensor:
        """``log |d action / d u|`` summed over action dimensions (numerically stable form)."""
        return self.log_det_unit(u) + torch.log(self._half).sum()

    def log_det_unit(self, u: torch.Tensor) -> torch.Tensor:
        """``log |d tanh(u) / d u|`` summed over action dimensions: the change of variables into
        the unit box ``[-1, 1]^d``, whatever the env's action box.

        Entropies measured there have the same range on every box (at most ``d ln 2``), so an
        entropy target such as SAC's ``-d`` is reachable on a ``[-0.1, 0.1]^2`` box too, where
        the largest entropy in env units is ``2 ln 0.2 < -2``.
        """
        return (2.0 * (math.log(2.0) - u - nn.functional.softplus(-2.0 * u))).sum(-1)


class Adam:
    """Adam with torch's defaults over ``params`` (tensors, or param groups that may set their own
    ``lr``), every group updated in one batched step (on CPU torch otherwise loops over the tensors).

    The update is torch's own function (``torch.optim.adam.adam``, the one ``torch.optim.Adam``
    calls) and :meth:`state_dict` is ``torch.optim.Adam``'s format, so checkpoints of either load in
    both and continue bit for bit.
    Why not ``torch.optim.Adam`` itself: building any ``torch.optim`` optimizer imports
    ``torch._dynamo`` (its ``add_param_group`` is wrapped by ``torch._disable_dynamo``), 2.2-2.8 s of
    every ``tasksuite train`` start-up for a compiler the baselines never use.
    """

    _HYPERPARAMETERS: ClassVar[dict[str, Any]] = {
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0,
        "amsgrad": False,
        "maximize": False,
        "foreach": True,
        "capturable": False,
        "differentiable": False,
        "fused": None,
        "decoupled_weight_decay": False,
    }

    def __init__(self, params: Any, lr: float) -> None:
        groups = list(params)
        if not groups or not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups = [{"lr": group.get("lr", lr), "params": list(group["params"])} for group in groups]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def _parameters(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (as ``torch.optim``'s ``set_to_none=True``)."""
        for p in self._parameters():
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of the parameters that have a gradient."""
        hyper = self._HYPERPARAMETERS
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                if p not in self.state:
                    self.state[p] = {
                        "step": torch.tensor(0.0),
                        "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                        "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                    }
            states = [self.state[p] for p in params]
            adam_update(
                params,
                [p.grad for p in params],
                [state["exp_avg"] for state in states],
                [state["exp_avg_sq"] for state in states],
                [],
                [state["step"] for state in states],
                foreach=hyper["foreach"],
                amsgrad=hyper["amsgrad"],
                beta1=hyper["betas"][0],
                beta2=hyper["betas"][1],
                lr=group["lr"],
                weight_decay=hyper["weight_decay"],
                eps=hyper["eps"],
                maximize=hyper["maximize"],
            )

    def state_dict(self) -> dict[str, Any]:
        """The state in ``torch.optim.Adam.state_dict``'s format (parameters numbered across groups)."""
        index = {p: i for i, p in enumerate(self._parameters())}
        groups, start = [], 0
        for group in self.param_groups:
            count = len(group["params"])
            groups.append({"lr": group["lr"], **self._HYPERPARAMETERS, "params": list(range(start, start + count))})
            start += count
        return {"state": {index[p]: dict(state) for p, state in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state of :meth:`state_dict` (or of a ``torch.optim.Adam`` over the same groups)."""
        saved = state_dict["param_groups"]
        if [len(group["params"]) for group in saved] != [len(group["params"]) for group in self.param_groups]:
            raise ValueError("optimizer state_dict: its parameter groups differ from this optimizer's")
        for group, saved_group in zip(self.param_groups, saved, strict=True):
            group["lr"] = saved_group["lr"]
        parameters = self._parameters()
        self.state = {}
        for i, state in state_dict["state"].items():
            p = parameters[int(i)]
            # As torch.optim: moments take the parameter's dtype, the step count stays as saved.
            self.state[p] = {key: value if key == "step" else value.to(p.dtype) for key, value in state.items()}


def gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Log-density of ``u`` under a diagonal Gaussian, summed over the last dimension."""
    return (-0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


class GaussianPolicy(nn.Module):
    """An MLP mean and a state-independent log standard deviation over pre-squash actions."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int], init_log_std: float) -> None:
        super().__init__()
        self.mean = mlp(obs_dim, act_dim, hidden)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean(obs), self.log_std.expand(*obs.shape[:-1], -1)

    def explore(self, obs: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
        """Sampled pre-squash actions (a :func:`rollout` policy; ``previous`` is ignored)."""
        mean, log_std = self(obs)
        return mean + log_std.exp() * torch.randn_like(mean)


# ---------------------------------------------------------------------- on-policy estimators


def discounted_advantages(
    rewards: torch.Tensor, values: torch.Tensor, last_value: torch.Tensor, gamma: float, lam: float
) -> torch.Tensor:
    """Generalized advantage estimates over time-major ``[T, ...]`` tensors.

    ``values[t]`` estimates the return from step ``t``; ``last_value`` bootstraps after the
    last step (zero where the sequence really ended). Steps past an episode's end must carry
    zero reward and zero value (see :attr:`Rollout.valid`).
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    next_value = last_value
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + gamma * lam * running
        advantages[t] = running
        next_value = values[t]
    return advantages


def clipped_surrogate(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, clip: float, weight: torch.Tensor
) -> torch.Tensor:
    """PPO's clipped policy loss (to minimize), a ``weight``-ed mean (weight 0 on padding)."""
    ratio = torch.exp(log_prob - old_log_prob)
    surrogate = torch.minimum(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    return -(surrogate * weight).sum() / weight.sum()


# ---------------------------------------------------------------------- batched rollouts


@dataclass
class Rollout:
    """Consecutive episodes in every sub-env of a vector env, time-major.

    Arrays are ``[episodes * horizon, n_envs, ...]``: episode ``e`` occupies steps
    ``e * horizon`` to ``(e + 1) * horizon - 1``. Steps after an episode terminated early
    are padding, marked ``valid == 0`` with zero reward.
    """

    obs: np.ndarray
    raw_actions: np.ndarray  # pre-squash u
    rewards: np.ndarray
    dense_rewards: np.ndarray  # info["dense_reward"] where the env reports one (sparse families), else rewards
    next_obs: np.ndarray
    terminated: np.ndarray  # the env ended the episode (no bootstrapping)
    valid: np.ndarray
    previous: np.ndarray  # what the policy was given besides obs: last unit action, last reward, first flag
    episodes: int
    horizon: int

    @property
    def env_steps(self) -> int:
        """Environment steps the rollout really took (padding after episode ends excluded)."""
        return int(self.valid.sum())

    def episode_returns(self) -> np.ndarray:
        """``[episodes, n_envs]`` undiscounted returns."""
        return self.rewards.reshape(self.episodes, self.horizon, -1).sum(1)

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every array as a float32 tensor."""
        arrays = {f.name: getattr(self, f.name) for f in fields(self)}
        return {
            name: torch.as_tensor(a, dtype=torch.float32) for name, a in arrays.items() if isinstance(a, np.ndarray)
        }


def rollout(
    envs: gym.vector.VectorEnv,
    policy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    squash: Squash,
    episodes: int,
    horizon: int,
    seed: int | None,
) -> Rollout:
    """Run ``episodes`` consecutive episodes in every sub-env, one batched forward pass per step.

    ``policy(obs, previous)`` gets ``[n_envs, obs_dim]`` observations and ``previous``
    ``[n_envs, act_dim + 2]`` (last unit action, last reward, first-step flag) and returns
    pre-squash actions. ``seed`` seeds the first reset (sub-env ``i`` gets ``seed + i``);
    later episodes continue each sub-env's random stream. Only the Gymnasium VectorEnv API
    is used, so a native batched env plugs in unchanged.
    """
    n, act_dim = envs.num_envs, squash.low.shape[0]
    obs_dim = envs.single_observation_space.shape[0]
    shape = (episodes * horizon, n)
    out = Rollout(
        obs=np.zeros((*shape, obs_dim), np.float32),
        raw_actions=np.zeros((*shape, act_dim), np.float32),
        rewards=np.zeros(shape, np.float32),
        dense_rewards=np.zeros(shape, np.float32),
        next_obs=np.zeros((*shape, obs_dim), np.float32),
        terminated=np.zeros(shape, np.float32),
        valid=np.zeros(shape, np.float32),
        previous=np.zeros((*shape, act_dim + 2), np.float32),
        episodes=episodes,
        horizon=horizon,
    )
    previous = np.zeros((n, act_dim + 2), np.float32)
    with torch.no_grad():
        for episode in range(episodes):
            obs, _ = envs.reset(seed=seed if episode == 0 else None)
            active = np.ones(n, dtype=bool)
            previous[:, -1] = 1.0
            for t in range(horizon):
                row = episode * horizon + t
                u = policy(torch.as_tensor(obs), torch.as_tensor(previous))
                action = squash.to_env(u)
                next_obs, reward, terminated, truncated, info = envs.step(action)
                out.obs[row], out.raw_actions[row], out.next_obs[row] = obs, u.numpy(), next_obs
                out.previous[row] = previous
                out.rewards[row] = np.where(active, reward, 0.0)
                out.dense_rewards[row] = np.where(active, info.get("dense_reward", reward), 0.0)
                out.terminated[row] = active & terminated
                out.valid[row] = active
                previous = np.concatenate([np.tanh(u.numpy()), reward[:, None], np.zeros((n, 1))], 1).astype(np.float32)
                active &= ~(terminated | truncated)
                obs = next_obs
                if not active.any():
                    break
    return out


class VectorEnvs:
    """The vector envs of a training loop: one per sub-env count, built once and switched to each
    iteration's tasks in place (``set_tasks``). Building one costs far more than switching its
    tasks (a MuJoCo family compiles a model per sub-env), and a reset with a seed after
    ``set_tasks`` plays exactly what a new vector env of those tasks would."""

    def __init__(self, benchmark: Benchmark) -> None:
        self.benchmark = benchmark
        self._envs: dict[int, gym.vector.VectorEnv] = {}

    def of(self, tasks: Sequence[Task]) -> gym.vector.VectorEnv:
        """A vector env with one sub-env per task of ``tasks`` (reset it before stepping)."""
        envs = self._envs.get(len(tasks))
        if envs is None:
            envs = self._envs[len(tasks)] = self.benchmark.make_vec_env(list(tasks))
        else:
            envs.unwrapped.set_tasks(list(tasks))
        return envs

    def close(self) -> None:
        """Close every env built so far."""
        for envs in self._envs.values():
            envs.close()
        self._envs.clear()


def task_batch(tasks: Sequence[Task], count: int, rng: np.random.Generator) -> list[Task]:
    """``count`` tasks drawn uniformly with replacement."""
    return [tasks[i] for i in rng.integers(len(tasks), size=count)]


# ---------------------------------------------------------------------- checkpoints and logs


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON values (what a weights-only checkpoint may hold)."""
    return json.loads(json.dumps(asdict(config)))


def config_from_dict(cls: type, values: Mapping[str, Any]) -> Any:
    """Rebuild a config dataclass, turning JSON lists back into tuples."""
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> None:
    """Write ``state`` (tensors, state dicts and JSON-able values only) atomically; its dicts' keys
    are interned (in place) so that equal states give equal bytes (:func:`_intern_keys`)."""
    buffer = io.BytesIO()
    torch.save(_intern_keys(dict(state)), buffer)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))


def load_checkpoint(path: str | os.PathLike[str], mmap: bool = False) -> dict[str, Any]:
    """Load a checkpoint safely: ``weights_only=True`` refuses anything but tensors and plain data.

    Raises :class:`TasksuiteError` naming the file when it is no such checkpoint (garbage, truncated,
    or carrying code); ``mmap`` maps the tensors instead of reading them (to read a field cheaply).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except (RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TasksuiteError(f"{path} is not a tasksuite.baselines checkpoint ({first})") from error
    if not isinstance(state, dict):
        raise TasksuiteError(f"{path} is not a tasksuite.baselines checkpoint (it holds no dict)")
    return state


def _intern_keys(value: Any) -> Any:
    """``value`` with every (nested) dict's string keys interned, in place (order kept).

    Pickle writes a string once per *object* and refers back to it after: whether two equal keys
    are one object (a literal of the code) or two (built at run time, or unpickled from the
    checkpoint a run resumed from) changes the bytes. With every key interned, a resumed run saves
    exactly the bytes of an uninterrupted one.
    """
    if isinstance(value, dict):
        for key in list(value):
            item = value.pop(key)
            value[sys.intern(key) if isinstance(key, str) else key] = _intern_keys(item)
    elif isinstance(value, list):
        value[:] = [_intern_keys(item) for item in value]
    return value


class ProgressLog:
    """Scalars per training iteration, rewritten atomically to ``progress.csv`` at each checkpoint.

    The rows travel in the checkpoint, so a resumed run's log is the uninterrupted run's log.
    """

    def __init__(self, out_dir: Path, rows: list[dict[str, float]] | None = None) -> None:
        self.path = out_dir / PROGRESS
        self.rows = list(rows or [])

    def add(self, **scalars: float) -> None:
        """Append one row of named scalars."""
        self.rows.append({k: float(v) for k, v in scalars.items()})

    def flush(self) -> None:
        """Rewrite the CSV file (atomically) with every row so far."""
        if not self.rows:
            return
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(self.rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, text.getvalue())


def read_progress(out_dir: str | os.PathLike[str]) -> list[dict[str, float]]:
    """The rows of a run's ``progress.csv``."""
    with open(Path(out_dir) / PROGRESS, encoding="utf-8") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


class Run:
    """The bookkeeping every training loop shares: the run directory, seeding, the env's spaces,
    the iteration and env-step counters, the progress log, checkpoints and resuming.

    A fresh run refuses to overwrite an existing checkpoint, so that a forgotten ``--resume``
    never silently throws training away. Checkpoints are written atomically every
    ``config.checkpoint_every`` iterations and at the end of the budget.

    Snapshots for learning curves: each time the env steps pass another ``1 / SNAPSHOTS`` of the
    budget, ``snapshots/<env steps>.pt`` receives what the agent needs (the tracked objects named
    in ``agent_keys``; no optimizer or replay buffer), loadable by the baseline's ``load_agent``.

    The run directory is a training folder (:mod:`tasksuite.core.folder`): a user's non-empty
    folder is refused, and one process trains into it at a time; the run holds it from
    construction until its :meth:`progress_bar` block ends. A resumed run must be the same run:
    the checkpoint's baseline, benchmark (its splits' hash) and config (but the budget,
    :data:`RESUMABLE_CHANGES`) must match, or :class:`InvalidConfigError` names what differs.
    """

    SNAPSHOTS = 5

    def __init__(
        self,
        algorithm: str,
        config: Any,
        benchmark: Benchmark,
        out_dir: str | os.PathLike[str],
        resume: bool,
        agent_keys: Sequence[str] = ("policy",),
    ) -> None:
        self.algorithm, self.config, self.agent_keys = algorithm, config, tuple(agent_keys)
        self.benchmark = {"name": benchmark.name, "splits_hash": benchmark.splits.to_manifest(benchmark.name)["hash"]}
        self.folder = claim_folder(out_dir, "training", parameter="out_dir")
        try:
            self._start(out_dir, benchmark, resume)
        except BaseException:
            self.folder.release()
            raise

    def _start(self, out_dir: str | os.PathLike[str], benchmark: Benchmark, resume: bool) -> None:
        """The set-up after the folder is claimed (which releases it if this raises)."""
        self.out = Path(out_dir)
        self.path = self.out / CHECKPOINT
        if self.path.exists() and not resume:
            raise FileExistsError(f"{self.path} exists: pass resume=True (--resume) to continue it, or another out_dir")
        for name in (CHECKPOINT, PROGRESS):  # leftovers of a write the last run was killed in
            for stale in self.out.glob(f"{temporary_prefix(name)}*.tmp"):
                stale.unlink()
        self.resumed = load_checkpoint(self.path) if resume and self.path.exists() else None
        if self.resumed is not None:
            self._check_same_run(self.resumed)
        seed_everything(self.config.seed, self.config.threads)
        probe = benchmark.make_env(benchmark.train_tasks[0])
        self.squash = Squash.from_space(probe.action_space)
        self.obs_dim, self.act_dim = probe.observation_space.shape[0], probe.action_space.shape[0]
        probe.close()
        state = self.resumed or {"iteration": 0, "env_steps": 0, "progress": []}
        self.iteration, self.env_steps = state["iteration"], state["env_steps"]
        self.log = ProgressLog(self.out, state["progress"])
        self._saved: dict[str, Any] = {}

    def _check_same_run(self, saved: Mapping[str, Any]) -> None:
        """Refuse to resume a checkpoint of another baseline, benchmark, seed or config."""
        now = {"algorithm": self.algorithm, "benchmark": self.benchmark, **config_to_dict(self.config)}
        then = {"algorithm": saved.get("algorithm"), "benchmark": saved.get("benchmark"), **saved.get("config", {})}
        differing = [key for key in now if key not in RESUMABLE_CHANGES and then.get(key) != now[key]]
        if differing:
            details = "; ".join(f"{key}: checkpoint {then.get(key)!r}, now {now[key]!r}" for key in differing)
            raise InvalidConfigError(
                f"cannot resume {self.path}: it is another run ({details}); resume with its settings, "
                "or train into another out_dir"
            )

    @property
    def done(self) -> bool:
        """Whether the environment-step budget is spent."""
        return self.env_steps >= self.config.total_env_steps

    def track(self, **objects: Any) -> None:
        """Name what checkpoints hold (modules and optimizers by state dict, tensors as they are)
        and, when resuming, load it back from the checkpoint."""
        self._saved.update(objects)
        if self.resumed is not None:
            for name, value in objects.items():
                if hasattr(value, "load_state_dict"):
                    value.load_state_dict(self.resumed[name])
                else:
                    value.copy_(self.resumed[name])

    @contextlib.contextmanager
    def progress_bar(self) -> Iterator[tqdm]:
        """A tqdm bar over the step budget, starting where a resumed run left off, for the
        training loop's block; leaving the block (also by an error) releases the run directory."""
        bar = tqdm(total=self.config.total_env_steps, initial=self.env_steps, unit="step", desc=self.algorithm)
        try:
            with bar:
                yield bar
        finally:
            self.folder.release()

    def seed(self) -> int:
        """This iteration's seed; also reseeds torch, so a resumed run draws what the original drew."""
        seed = iteration_seed(self.config.seed, self.iteration)
        torch.manual_seed(seed)
        return seed

    def end_iteration(self, bar: tqdm, env_steps: int, **scalars: float) -> None:
        """Count the iteration's env steps, log its scalars, snapshot and checkpoint when due."""
        for name, value in scalars.items():
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"{self.algorithm} training diverged at iteration {self.iteration + 1}: {name} = {value}"
                )
        self.iteration += 1
        every = self.config.total_env_steps / self.SNAPSHOTS
        due_snapshot = int(self.env_steps // every) < int((self.env_steps + env_steps) // every)
        self.env_steps += env_steps
        if due_snapshot or self.done:
            self.snapshot()
        self.log.add(iteration=self.iteration, env_steps=self.env_steps, **scalars)
        bar.update(env_steps)
        bar.set_postfix({name: f"{value:.3g}" for name, value in scalars.items()})
        if self.done and self.env_steps > self.config.total_env_steps:
            bar.total = self.env_steps  # iterations run whole: the bar ends at the steps really taken
            bar.refresh()
            if self.env_steps == env_steps:  # the budget was smaller than the one iteration it ran
                warnings.warn(
                    f"{self.algorithm}: total_env_steps={self.config.total_env_steps} is less than one "
                    f"iteration: the run trained one whole iteration, {self.env_steps} env steps",
                    stacklevel=2,
                )
        if self.iteration % self.config.checkpoint_every == 0 or self.done:
            self.save()

    def _state(self, names: Sequence[str]) -> dict[str, Any]:
        objects = {name: self._saved[name] for name in names}
        return {
            "algorithm": self.algorithm,
            "benchmark": self.benchmark,
            "config": config_to_dict(self.config),
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            **{name: getattr(value, "state_dict", lambda v=value: v)() for name, value in objects.items()},
        }

    def save(self) -> None:
        """Write the checkpoint (atomically) with every tracked object and the progress rows."""
        save_checkpoint(self.path, {**self._state(list(self._saved)), "progress": self.log.rows})
        self.log.flush()

    def snapshot(self) -> Path:
        """Write the agent's state now to ``snapshots/<env steps>.pt`` (a learning-curve point)."""
        path = self.out / SNAPSHOTS / f"{self.env_steps}.pt"
        path.parent.mkdir(exist_ok=True)
        save_checkpoint(path, self._state(self.agent_keys))
        return path


def snapshots(out_dir: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """A run's learning-curve snapshots as ``(env steps, path)``, in training order."""
    folder = Path(out_dir) / SNAPSHOTS
    return sorted((int(path.stem), path) for path in folder.glob("*.pt") if path.stem.isdigit())
