"""Select + write on the Dask scheduler: the one code path of synchronous subsets and jobs.

`write_subset` writes a lazy Dataset to a local file through the scheduler of a
`datacenter.compute.Compute` (threads in this process, or dask.distributed), reporting
the fraction of Dask tasks done and stopping when `cancelled()` turns true. Memory stays
bounded by (parallel tasks x chunk size): nothing is gathered into this process.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

import dask
import xarray as xr
from dask.callbacks import Callback
from pyproj import CRS

from api.subset.cog import window_bands, write_window_cog
from api.subset.request import OutputFormat
from api.subset.select import Selection
from api.subset.write import decorate, plan_write, provenance
from datacenter.compute import Compute
from datacenter.errors import DatacenterError
from datacenter.storage import file_sha256

Progress = Callable[[float], None]
Cancelled = Callable[[], bool]


class JobCancelled(DatacenterError):
    """The job was dismissed while it ran."""


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    size: int
    sha256: str


def lower_priority(niceness: int) -> None:
    """Make the calling thread yield the CPU to the rest of the process (Linux: a thread's
    nice value is its own); a no-op where it cannot."""
    if niceness <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
    except OSError:  # pragma: no cover - not permitted here
        pass


def background_pool(workers: int, niceness: int) -> ThreadPoolExecutor:
    """Threads for batch work (jobs) at `niceness` above the API's own: while a job computes,
    searches and synchronous subsets keep the CPU first."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job-dask",
                              initializer=lower_priority, initargs=(niceness,))


class TaskTally:
    """Dask tasks of subsets and jobs run by this process, thread-safe (the API keeps one on
    ``app.state.subset_tasks``: an operator's and a test's view of work going on)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.done = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.done += n


class _TaskCounter(Callback):
    """Progress (tasks done / tasks in the graph) and cancellation for local schedulers."""

    def __init__(self, progress: Progress | None, cancelled: Cancelled | None,
                 tally: TaskTally | None = None) -> None:
        super().__init__()
        self.progress, self.cancelled, self.tally = progress, cancelled, tally
        self.total, self.done, self.last = 1, 0, 0.0

    def _start_state(self, dsk: Any, state: Any) -> None:
        self.total = max(1, sum(len(state[k]) for k in ("ready", "waiting", "running")) + len(state.get("finished", ())))

    def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
        if self.cancelled is not None and self.cancelled():
            raise JobCancelled("the job was cancelled")

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        self.done += 1
        if self.tally is not None:
            self.tally.add()
        now = time.monotonic()
        if self.progress is not None and now - self.last > 0.5:
            self.last = now
            self.progress(min(0.99, self.done / self.total))


def _run_graph(graph: Any, compute: Compute, progress: Progress | None, cancelled: Cancelled | None,
               tally: TaskTally | None = None, pool: Executor | None = None) -> None:
    if not compute.distributed:
        with _TaskCounter(progress, cancelled, tally):
            if pool is not None:
                dask.compute(graph, scheduler="threads", pool=pool)
            else:
                dask.compute(graph, scheduler="threads", num_workers=compute.threads)
        return
    from distributed import futures_of

    persisted = compute.client.persist(graph)
    futures = futures_of(persisted)
    counted = 0
    while True:
        done = sum(f.done() for f in futures)
        if tally is not None:
            tally.add(done - counted)
            counted = done
        if progress is not None:
            progress(min(0.99, done / max(1, len(futures))))
        if done == len(futures):
            break
        if cancelled is not None and cancelled():
            compute.client.cancel(futures)
            raise JobCancelled("the job was cancelled")
        if any(f.status == "error" for f in futures):
            break  # re-raised below
        # Polled, not waited on: `Future.result(timeout=...)` can fail with an
        # UnboundLocalError inside distributed's `sync` when the wait is cancelled under
        # load (seen with distributed 2026.8), and `distributed.wait` needs a default client.
        time.sleep(0.2)
    for f in futures:
        f.result()  # re-raise a task's error here


def merge_selections(selections: list[Selection]) -> tuple[xr.Dataset, CRS | None]:
    """One Dataset from selections on one grid (later items fill gaps of earlier ones)."""
    datasets = [s.dataset for s in selections]
    merged = reduce(lambda a, b: a.combine_first(b), datasets)
    return merged, selections[0].crs


def write_subset(
    selections: list[Selection],
    fmt: OutputFormat,
    out: Path,
    compute: Compute,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    direct_limit: int = 0,
    tally: TaskTally | None = None,
    pool: Executor | None = None,
) -> WrittenFile:
    """Write the selection(s) (several only when they share a grid) to `out` in `fmt`.

    A GeoTIFF of one selection of at most `direct_limit` bytes that is a plain window of
    local COGs is copied by GDAL's COG driver straight from the source window
    (`api.subset.cog`), without Dask, progress or cancellation: the synchronous route
    passes its size limit; jobs leave it at 0 and always write through Dask.
    `cancelled` is polled between tasks (`JobCancelled` once it is true); `tally` counts
    the tasks run. `pool` runs the tasks on local threads of the caller's (jobs pass their
    lower-priority pool, `background_pool`).
    """
    ds, crs = merge_selections(selections) if len(selections) > 1 else (selections[0].dataset, selections[0].crs)
    attrs = provenance(selections)
    ds = decorate(ds, crs, attrs)
    lock: Any = False
    with tempfile.TemporaryDirectory(prefix="subset-", dir=out.parent) as work:
        direct = (fmt is OutputFormat.GEOTIFF and len(selections) == 1
                  and selections[0].nbytes <= direct_limit)
        bands = window_bands(selections[0], ds) if direct else None
        if bands is not None:
            write_window_cog(ds, crs, bands, Path(work), out, attrs)
            return _written(out, progress)
        if compute.distributed and fmt in (OutputFormat.GEOTIFF, OutputFormat.NETCDF):
            from distributed import Lock

            client = compute.client  # distributed >= 2024: a Lock takes the scheduler, not a client
            lock = Lock(f"subset-{out.name}", scheduler_rpc=client.scheduler, loop=client.loop)
        with dask.config.set(scheduler=compute.scheduler):
            graph, finish = plan_write(ds, crs, fmt, Path(work), out, attrs, lock)
            _run_graph(graph, compute, progress, cancelled, tally, pool)
        finish()
    return _written(out, progress)


def _written(out: Path, progress: Progress | None) -> WrittenFile:
    if progress is not None:
        progress(1.0)
    return WrittenFile(path=out, size=out.stat().st_size, sha256=file_sha256(out))
