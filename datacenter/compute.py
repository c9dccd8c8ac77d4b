"""The Dask scheduler the data center computes on, chosen by settings.

    DATACENTER_DASK_SCHEDULER=tcp://host:8786   a running dask.distributed scheduler
    DATACENTER_DASK_WORKERS=N                   a LocalCluster of N worker processes
    (neither)                                   dask's threaded scheduler in this process

`Compute` is what callers hold (the API keeps one on ``app.state``): `scheduler` is what
to pass to ``dask.compute(..., scheduler=...)``. Batch ingest uses `batch_executor`: the
scheduler's ``distributed.Client`` when one is set; else worker processes forked from
`datacenter ingest` (the products' work is Python: threads took turns on one interpreter),
or a pool of threads here when forking is not safe (an in-process ``distributed`` cluster
served before, with an event loop, a system monitor and their threads competing for the
interpreter: ~3 thread-s of a 7 s batch). Nothing starts at import.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import as_completed as _completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from datacenter.errors import ConfigError
from datacenter.settings import Settings


@dataclass
class Compute:
    """A Dask scheduler: "threads", or a `distributed.Client` (owning its cluster if local)."""

    client: Any = None  # distributed.Client | None
    cluster: Any = None  # distributed.LocalCluster | None
    threads: int | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def scheduler(self) -> Any:
        return self.client if self.client is not None else "threads"

    @property
    def distributed(self) -> bool:
        return self.client is not None

    def describe(self) -> str:
        if self.client is None:
            return "dask threads in this process"
        return f"dask.distributed at {self.client.scheduler.address}"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def local_threads(threads: int | None = None) -> Compute:
    return Compute(threads=threads)


def local_cluster(n_workers: int, *, threads_per_worker: int = 1, memory_limit: str = "1GiB") -> Compute:
    """A LocalCluster of `n_workers` processes (for `DATACENTER_DASK_WORKERS` and benchmarks)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
        memory_limit=memory_limit, dashboard_address=None,
    )
    return Compute(client=Client(cluster), cluster=cluster)


def compute_from_settings(settings: Settings) -> Compute:
    """The scheduler the settings name (threads unless told otherwise)."""
    if settings.dask_scheduler:
        return Compute(client=_connect(settings.dask_scheduler))
    if settings.dask_workers < 0:
        raise ConfigError(
            f"DATACENTER_DASK_WORKERS={settings.dask_workers}: use 0 (threads) or a positive count"
        )
    if settings.dask_workers > 0:
        return local_cluster(settings.dask_workers)
    return local_threads()


def _connect(address: str) -> Any:
    from distributed import Client

    try:
        return Client(address, timeout="10s", set_as_default=False)
    except OSError as exc:
        raise ConfigError(
            f"DATACENTER_DASK_SCHEDULER={address!r}: no dask scheduler answered ({exc});"
            " start one (`dask scheduler`) or unset the variable to run on local threads"
        ) from None


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


@dataclass
class BatchExecutor:
    """Where a batch's tasks run: `submit` one, `as_completed` yields them as they finish
    (futures of either kind have ``result()``)."""

    submit: Callable[..., Any]
    as_completed: Callable[[Iterable[Any]], Iterator[Any]]
    describe: str


@contextmanager
def batch_executor(settings: Settings, *, workers: int | None = None,
                   processes: bool = False) -> Iterator[BatchExecutor]:
    """`DATACENTER_DASK_SCHEDULER`'s cluster (tasks are pickled to its workers), or `workers`
    (default: cores, at most 4) here: threads, or with `processes` worker processes forked
    from this one. Stopped (the client closed, the pool shut down) on exit.

    Processes are what a batch of small products needs (their work is Python holding the
    interpreter: two threads ran one at a time), and forked they start at once with
    everything this process imported. They are forked only from a process with no other
    thread, before it opens a catalog (nothing open is shared); otherwise this falls back
    to threads. Call it before opening the catalog."""
    if settings.dask_scheduler:
        from distributed import as_completed

        client = _connect(settings.dask_scheduler)
        try:
            yield BatchExecutor(
                submit=lambda fn, *args: client.submit(fn, *args, pure=False),
                as_completed=lambda futures: iter(as_completed(list(futures), loop=client.loop)),
                describe=f"dask scheduler {settings.dask_scheduler}",
            )
        finally:
            client.close()
        return
    n = workers or default_workers()
    pool: ThreadPoolExecutor | ProcessPoolExecutor
    if processes and n > 1 and _can_fork():
        # settle the temporary folder here, once for all workers: each would otherwise pick
        # its own at first use, and Python's pick quietly skips a TMPDIR that is full at
        # that moment (another worker filling it) for /tmp
        tempfile.gettempdir()
        pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_batch_child)
        pool.submit(int).result()  # fork all of them now, while this process is still alone
        kind = "processes"
    else:
        pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="ingest")
        kind = "threads"
    try:
        yield BatchExecutor(submit=pool.submit, as_completed=_completed, describe=f"{n} local {kind}")
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # a kill or an error: start nothing new
        raise
    pool.shutdown(wait=True)


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _batch_child() -> None:
    """A forked batch process: Ctrl-C is the parent's to handle (it cancels what is left)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
