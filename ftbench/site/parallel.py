"""Forked workers that each own one shard of a job across several steps (map, reduce, map).

The site build is CPU-bound Python (parsing, validating, rendering), so threads do not help.
Each worker reads its shard of the board and keeps what it read; only a small summary goes
back to the parent, which ranks the whole board and sends the rankings back; the worker
then renders its shard's pages from the state it kept, and writes them once every process
has rendered without error. Nothing large ever crosses a process boundary: an earlier
design that pickled parsed records to the parent and pages back spent as much time
pickling as it saved by parallelism.

Where ``fork`` is unavailable or unsafe (Windows, macOS) or there is one shard, everything
runs in this process, with the same results in the same order.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import traceback
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from ftbench.errors import FtbenchError

S = TypeVar("S")  # a shard
A = TypeVar("A")  # what the first step sends back


def usable_cpus() -> int:
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    """True where worker processes can safely inherit this one's memory: not on macOS, whose
    system libraries are not fork-safe (the reason CPython's default there is ``spawn``)."""
    return sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()


def split_evenly(items: Sequence[S], weights: Sequence[int], parts: int) -> list[list[S]]:
    """``items`` in order, cut into at most ``parts`` runs of about equal total weight.

    >>> split_evenly("abcdef", [1, 1, 1, 1, 1, 5], 2)
    [['a', 'b', 'c', 'd', 'e'], ['f']]
    """
    total = sum(weights) or 1
    runs: list[list[S]] = [[]]
    done = 0
    for item, weight in zip(items, weights, strict=True):
        if runs[-1] and len(runs) < parts and done + weight / 2 > total * len(runs) / parts:
            runs.append([])
        runs[-1].append(item)
        done += weight
    return [run for run in runs if run]


class Shards(Generic[S, A]):
    """One worker per shard: ``read(shard) -> (state, summary)``, then any number of steps
    ``step(state, message) -> result``, each run in every worker on the state it kept.

    >>> with Shards(lambda s: ([s], s), [1, 2], parallel=False) as pool:
    ...     pool.summaries(), pool.run(lambda state, m: state.append(m) or sum(state), 5)
    ([1, 2], [6, 7])
    """

    def __init__(
        self, read: Callable[[S], tuple[Any, A]], shards: Sequence[S], parallel: bool = True, beside: bool = False
    ):
        """``beside``: fork even for one shard (it runs beside this process, which goes on)."""
        self._read = read
        self._shards = list(shards)
        self._parallel = parallel and (len(self._shards) > 1 or beside) and can_fork()
        self._local: list[tuple[Any, A]] = []
        self._pipes: list[Any] = []
        self._procs: list[Any] = []
        self._step: tuple[Callable[[Any, Any], Any], Any] | None = None

    def __enter__(self) -> Shards[S, A]:
        if not self._parallel:
            self._local = [self._read(shard) for shard in self._shards]
            return self
        context = multiprocessing.get_context("fork")
        try:
            for shard in self._shards:
                parent_end, child_end = context.Pipe()
                # The child closes every parent end it inherits (its own, and every other worker's
                # of this process, of any pool), so that it, and every other worker, sees
                # end-of-file when the parent closes its end or dies, however it dies.
                inherited = [*_PARENT_ENDS, parent_end]
                proc = context.Process(target=_serve, args=(child_end, inherited, self._read, shard), daemon=True)
                proc.start()  # fork: the function, the shard and the pipes are inherited, not pickled
                child_end.close()
                self._pipes.append(parent_end)
                _PARENT_ENDS.add(parent_end)
                self._procs.append(proc)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def summaries(self) -> list[A]:
        """Every shard's summary, in shard order (waits for the reading)."""
        if not self._parallel:
            return [summary for _, summary in self._local]
        return [_receive(pipe) for pipe in self._pipes]

    def send(self, step: Callable[[Any, Any], Any], message: Any) -> None:
        """Start ``step`` in every worker (returns at once; collect with :meth:`results`)."""
        self._step = (step, message)
        for pipe in self._pipes:
            try:
                pipe.send(self._step)
            except OSError:  # the worker is gone: say so, as _receive does
                raise FtbenchError(_DIED) from None

    def results(self) -> list[Any]:
        """Every shard's result of the step last sent, in shard order."""
        if self._step is None:
            raise RuntimeError("results() before send()")
        if not self._parallel:
            step, message = self._step
            return [step(state, message) for state, _ in self._local]
        return [_receive(pipe) for pipe in self._pipes]

    def run(self, step: Callable[[Any, Any], Any], message: Any) -> list[Any]:
        """:meth:`send` then :meth:`results`."""
        self.send(step, message)
        return self.results()

    def __exit__(self, *exc: object) -> None:
        for pipe in self._pipes:
            pipe.close()  # a waiting worker sees end-of-file and stops
            _PARENT_ENDS.discard(pipe)
        for proc in self._procs:
            proc.join(timeout=10)  # let a worker finish the file it is writing
            if proc.is_alive():
                proc.terminate()
                proc.join()


class Beside(Generic[A]):
    """``work()`` run in a forked process while this one goes on (:meth:`result` waits for
    it); run here, when asked for, where there is one CPU or no ``fork``. For a rebuild: the
    page it makes slowest (a task's ranking with its charts) is made beside the others.

    >>> Beside(lambda: 6 * 7, parallel=False).result()
    42
    """

    def __init__(self, work: Callable[[], A], parallel: bool = True):
        self._work = work
        self._done: tuple[A] | None = None
        self._pool: Shards[int, A] | None = None
        if parallel and usable_cpus() > 1 and can_fork():
            self._pool = Shards(lambda _: (None, work()), [0], beside=True)
            self._pool.__enter__()

    def result(self) -> A:
        """What ``work()`` returned (its exception raised here); made once, however often asked."""
        if self._done is None:
            if self._pool is None:
                self._done = (self._work(),)
            else:
                try:
                    self._done = (self._pool.summaries()[0],)
                finally:
                    self.close()
        return self._done[0]

    def close(self) -> None:
        """Let the process go (its work no longer wanted, or done)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.__exit__(None, None, None)

    def __enter__(self) -> Beside[A]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_PARENT_ENDS: weakref.WeakSet[Any] = weakref.WeakSet()
"""This process's ends of the pipes to its live workers: a worker forked later closes its
copies, or an earlier worker would never see its parent close the pipe."""

_DIED = "a build worker process died (out of memory?); run with --workers 1 to see why"


def _serve(pipe: Any, inherited: list[Any], read: Callable[[Any], tuple[Any, Any]], shard: Any) -> None:
    """A worker's life: read its shard and report; then run each step sent until the parent
    closes the pipe."""
    for end in inherited:
        end.close()
    try:
        state, summary = read(shard)
        pipe.send(("ok", summary))
        while True:
            try:
                step, message = pipe.recv()
            except EOFError:  # the parent is done, gave up, or died
                return
            pipe.send(("ok", step(state, message)))
    except BaseException as exc:
        with contextlib.suppress(OSError):  # the parent may be gone already
            pipe.send(("error", _portable(exc)))
    finally:
        pipe.close()


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when the pipe can carry it, else its text with the traceback.

    ``copy.copy`` rebuilds an exception the way unpickling would (``__reduce_ex__``), so an
    exception whose constructor would fail on the parent's side is caught here, in the worker.
    """
    import copy
    import pickle

    try:
        pickle.dumps(exc)
        copy.copy(exc)
        return exc
    except Exception:
        return FtbenchError("".join(traceback.format_exception(exc)).strip())


def _receive(pipe: Any) -> Any:
    try:
        status, value = pipe.recv()
    except EOFError:
        raise FtbenchError(_DIED) from None
    if status == "error":
        raise value
    return value
