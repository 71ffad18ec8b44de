"""Fan-out: run the same function over independent jobs, locally or on a Ray cluster.

Workers only compute and return; the calling process writes every file, as
each result arrives. So a worker on another machine (Ray) needs no shared disk,
and an interrupted run leaves only whole files behind.

* ``local`` (default): a :class:`concurrent.futures.ProcessPoolExecutor`
  (``forkserver`` start method: forking a process that runs threads, such as
  a progress bar's, is unsafe); ``workers=1`` runs in the calling process.
  The executor schedules; this module only feeds it and collects results.
  Worker processes re-import the main script, so a pool started by a call
  at a script's top level, outside ``if __name__ == "__main__":``, would run
  the script again in every worker: :func:`main_script_problem` detects it
  at once, and the default worker count then runs in the calling process.
  Workers never outlive the process that started them, however it ends
  (see :func:`die_with_parent`).
* ``ray``: every job is a ``ray.remote`` task of the same function; connects
  to the cluster in ``RAY_ADDRESS`` or to an already initialized Ray, else
  starts a local instance (and shuts it down afterwards).
"""

from __future__ import annotations

import ast
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import spawn
from pathlib import Path
from typing import Any, TypeVar

from tasksuite.core.checks import integer
from tasksuite.core.errors import TasksuiteError

BACKENDS: tuple[str, ...] = ("local", "ray")
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

J = TypeVar("J")
R = TypeVar("R")


def default_workers() -> int:
    """One worker per CPU core available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def main_script_problem() -> str | None:
    """Why worker processes cannot start from the running program, or ``None`` when they can.

    ``spawn`` and ``forkserver`` workers import the main module again (as
    ``__mp_main__``); a script whose top-level code calls the pool, outside
    ``if __name__ == "__main__":``, would run again in each worker, and a
    script read from stdin cannot be imported at all. REPLs, notebooks and
    ``python -c`` have no main module to re-import.
    """
    data = spawn.get_preparation_data("tasksuite")  # what a worker will import: the stdlib's own rule
    if "init_main_from_name" not in data and "init_main_from_path" not in data:
        return None
    main_globals = vars(sys.modules["__main__"])
    frame = sys._getframe()
    while frame is not None and not (frame.f_globals is main_globals and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:  # not called from the main module's top-level code (a thread, an atexit hook)
        return None
    path, line = frame.f_code.co_filename, frame.f_lineno
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except OSError:
        return f"the main script ({path}) is not a file that worker processes can import; save it as a .py file"
    except (UnicodeDecodeError, SyntaxError):  # a script Python ran but this cannot read: do not guess
        return None
    for statement in tree.body:
        if statement.lineno <= line <= (statement.end_lineno or statement.lineno):
            if _is_main_guard(statement):
                return None
            break
    return (
        f"{path}, line {line}, starts worker processes from the script's top level, and each worker would "
        'run the script again; put that code under `if __name__ == "__main__":`'
    )


def _is_main_guard(statement: ast.stmt) -> bool:
    """Whether ``statement`` is ``if __name__ == "__main__":`` (either operand order)."""
    if not isinstance(statement, ast.If) or not isinstance(statement.test, ast.Compare):
        return False
    test = statement.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    operands = {ast.dump(test.left), ast.dump(test.comparators[0])}
    return operands == {ast.dump(ast.Name("__name__", ast.Load())), ast.dump(ast.Constant("__main__"))}


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
        self.backend = backend
        self.workers = default_workers() if workers is None else integer("workers", workers, 1, TasksuiteError)
        problem = main_script_problem() if backend == "local" and self.workers > 1 else None
        if problem and workers is not None:
            raise TasksuiteError(f"workers={workers}: {problem}, or pass workers=1")
        if problem:
            warnings.warn(f"running in this process, not in {self.workers} workers: {problem}", stacklevel=3)
            self.workers = 1
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
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context(method), initializer=die_with_parent
            )
        pending = {self._executor.submit(fn, job): job for job in jobs}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()

    def _map_ray(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[tuple[J, R]]:
        ray = self._ray
        if not ray.is_initialized():
            # ray.init reads RAY_ADDRESS itself and joins that cluster; without it, it starts a local
            # instance, which gets `workers` CPUs like the local backend
            local = not os.environ.get("RAY_ADDRESS")
            ray.init(include_dashboard=False, log_to_driver=False, num_cpus=self.workers if local else None)
            self._started_ray = True
        remote = ray.remote(fn)
        pending = {remote.remote(job): job for job in jobs}
        self._pending_refs = list(pending)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
            self._pending_refs = list(pending)


def die_with_parent() -> None:
    """Worker initializer: end this worker as soon as the process that started the pool ends.

    Without it, a SIGKILLed or SIGTERMed ``evaluate`` leaves its workers running: they wait on a
    queue whose other end they hold themselves, so they never see EOF. Two mechanisms, because
    neither covers every case alone:

    * Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills this worker when its parent
      dies, immediately, even in the middle of a long C call. The parent is the forkserver (with
      the ``spawn`` method, the main process), which exits as soon as the main process is gone.
    * The parent *process* sentinel of :mod:`multiprocessing` (a pipe the main process holds
      open, also through the forkserver): a daemon thread waits on it and exits the worker when
      it closes. This also covers platforms without ``prctl``, and a main process that died
      before ``prctl`` took effect is caught by checking the sentinel once right after it.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    parent = multiprocessing.parent_process()
    if parent is None:  # not started by multiprocessing: nothing to follow
        return
    if not parent.is_alive():
        os._exit(1)
    threading.Thread(target=_exit_when_closed, args=(parent.sentinel,), daemon=True).start()


def _exit_when_closed(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)  # no cleanup: the parent that would collect this worker's results is gone


def import_ray() -> Any:
    """The ``ray`` module, or an error naming the extra that installs it."""
    try:
        import ray
    except ImportError as error:
        raise TasksuiteError(
            "the ray backend needs Ray: pip install 'ray>=2.9' (from a clone: pip install '.[ray]')"
        ) from error
    return ray
