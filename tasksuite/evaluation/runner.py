"""Fan-out: run the same function over independent jobs, locally or on a Ray cluster.

Workers only compute and return; the calling process writes every file, as
each result arrives. So a worker on another machine (Ray) needs no shared disk,
and an interrupted run leaves only whole files behind.

* ``local`` (default): a :class:`concurrent.futures.ProcessPoolExecutor`
  (``forkserver`` start method: forking a process that runs threads, such as
  a progress bar's, is unsafe); ``workers=1`` runs in the calling process.
  The executor schedules; this module only feeds it and collects results.
* ``ray``: every job is a ``ray.remote`` task of the same function; connects
  to the cluster in ``RAY_ADDRESS`` or to an already initialized Ray, else
  starts a local instance (and shuts it down afterwards).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from tasksuite.core.errors import TasksuiteError

BACKENDS: tuple[str, ...] = ("local", "ray")

J = TypeVar("J")
R = TypeVar("R")


def default_workers() -> int:
    """One worker per CPU core available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class Runner:
    """Runs a function over jobs on one backend; a context manager that owns its workers.

    >>> with Runner("local", workers=2) as runner:  # doctest: +SKIP
    ...     for job, result in runner.map(fn, jobs):
    ...         save(job, result)

    The same workers serve every :meth:`map` call; leaving the ``with`` block
    (also by an interruption) cancels the jobs not yet started.
    """

    def __init__(self, backend: str = "local", workers: int | None = None) -> None:
        if backend not in BACKENDS:
            raise TasksuiteError(f"backend={backend!r} is not one of {BACKENDS}")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise TasksuiteError(f"workers must be a positive integer, got {workers!r}")
        self.backend = backend
        self.workers = workers or default_workers()
        self._ray: Any = import_ray() if backend == "ray" else None
        self._started_ray = False
        self._executor: ProcessPoolExecutor | None = None
        self._pending_refs: list[Any] = []

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        if self._ray is not None:
            for ref in self._pending_refs:
                self._ray.cancel(ref)
            if self._started_ray:
                self._ray.shutdown()

    def map(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[tuple[J, R]]:
        """Yield ``(job, fn(job))`` for every job, in completion order.

        ``fn`` must be a module-level function and the jobs picklable.
        """
        if not jobs:
            return
        if self._ray is not None:
            yield from self._map_ray(fn, jobs)
        elif self.workers == 1:
            for job in jobs:
                yield job, fn(job)
        else:
            yield from self._map_pool(fn, jobs)

    def _map_pool(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[tuple[J, R]]:
        if self._executor is None:
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(method))
        pending = {self._executor.submit(fn, job): job for job in jobs}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()

    def _map_ray(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[tuple[J, R]]:
        ray = self._ray
        if not ray.is_initialized():  # ray.init reads RAY_ADDRESS itself; without it, it starts a local instance
            ray.init(include_dashboard=False, log_to_driver=False)
            self._started_ray = True
        remote = ray.remote(fn)
        pending = {remote.remote(job): job for job in jobs}
        self._pending_refs = list(pending)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
            self._pending_refs = list(pending)


def import_ray() -> Any:
    """The ``ray`` module, or an error naming the extra that installs it."""
    try:
        import ray
    except ImportError as error:
        raise TasksuiteError("the ray backend needs Ray: pip install 'tasksuite[ray]'") from error
    return ray
