"""A large job's files written in a worker process at a lower priority.

Threads at a higher nice value do not share out the GIL: while a large job computed in the
API process, searches and small jobs of other partners waited for the interpreter, not the
CPU (bench/abuse.py: p95 4.5-6.6x with a flood of large jobs). A job estimated above
``DATACENTER_JOB_SMALL_BYTES`` is therefore written by a process of its own, at
``DATACENTER_JOB_NICE``, forked from a fork server that imported the subset code once (so
a job starts in milliseconds, not the seconds a fresh interpreter takes to import xarray,
rasterio and dask). The process gets the job's items (as the viewer sees them) and options,
selects and writes as the API process would (`api.subset.compute.write_subset`, Dask threads)
and sends back progress and the file it wrote. Cancelling a job kills its process; a process
whose API process is gone (``kill -9``) exits on its own, and recovery removes its folder.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.subset.compute import JobCancelled, WrittenFile, lower_priority, write_subset
from api.subset.request import OutputFormat, SubsetOptions
from api.subset.select import Selection, select
from api.subset.source import open_source
from datacenter.compute import local_threads
from datacenter.errors import DatacenterError
from datacenter.storage import Store

_lock = threading.Lock()
_context: Any = None


class JobProcessFailed(DatacenterError):
    """The job's worker process failed or ended without writing its file."""


@dataclass(frozen=True)
class StoreSpec:
    """What it takes to open the same store in another process."""

    url: str
    s3_endpoint_url: str | None
    s3_region: str | None
    retries: int
    backoff: float
    timeout: float

    @classmethod
    def of(cls, store: Store) -> StoreSpec:
        return cls(store.url, store.endpoint, store.region, store.retries, store.backoff, store.timeout)

    def open(self) -> Store:
        return Store(self.url, s3_endpoint_url=self.s3_endpoint_url, s3_region=self.s3_region,
                     retries=self.retries, backoff=self.backoff, timeout=self.timeout)


@dataclass(frozen=True)
class _Payload:
    items: list[dict[str, Any]]
    options: SubsetOptions
    fmt: OutputFormat
    out: str
    store: StoreSpec
    niceness: int
    env: dict[str, str]
    cwd: str


def context() -> Any:
    """The fork-server context (started on first use, with the subset code preloaded)."""
    global _context
    with _lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload([__name__])
            _context = ctx
        return _context


def write_in_process(selections: list[Selection], options: SubsetOptions, fmt: OutputFormat, out: Path,
                     store: Store, *, niceness: int, progress: Callable[[float], None] | None = None,
                     cancelled: Callable[[], bool] | None = None, poll: float = 0.2) -> WrittenFile:
    """Write `selections` (planned in this process) to `out` from a worker process at
    `niceness`; `JobCancelled` (the process killed) once `cancelled()` turns true."""
    payload = _Payload([s.source.item for s in selections], options, fmt, str(out), StoreSpec.of(store),
                       niceness, dict(os.environ), os.getcwd())
    ctx = context()
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(theirs, payload), name=f"job-{out.name}", daemon=True)
    proc.start()
    theirs.close()
    try:
        while True:
            if ours.poll(poll):
                try:
                    kind, value = ours.recv()
                except EOFError:
                    break
                if kind == "progress" and progress is not None:
                    progress(value)
                elif kind == "done":
                    path, size, sha256 = value
                    return WrittenFile(Path(path), size, sha256)
                elif kind == "error":
                    raise JobProcessFailed(value)
            elif cancelled is not None and cancelled():
                raise JobCancelled("the job was cancelled")
            elif not proc.is_alive():
                break
        proc.join(5)
        raise JobProcessFailed(f"the job's worker process ended without writing its file "
                               f"(exit code {proc.exitcode}); see the server log")
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(10)
        ours.close()


def _exit_when_orphaned(conn: Any) -> None:
    """The API process never writes to the pipe: readable means it closed (it is gone)."""
    try:
        conn.poll(None)
    finally:
        os._exit(3)


def _child(conn: Any, payload: _Payload) -> None:
    lower_priority(payload.niceness)  # the main thread; Dask's threads inherit it
    os.environ.clear()
    os.environ.update(payload.env)
    os.chdir(payload.cwd)
    threading.Thread(target=_exit_when_orphaned, args=(conn,), daemon=True).start()
    send_lock = threading.Lock()

    def send(message: tuple[str, Any]) -> None:
        with send_lock:
            conn.send(message)

    def progress(fraction: float) -> None:  # write_subset reports at most every 0.5 s
        send(("progress", fraction))

    try:
        store = payload.store.open()
        selections = [select(open_source(item, store), payload.options) for item in payload.items]
        written = write_subset(selections, payload.fmt, Path(payload.out), local_threads(), progress=progress)
        send(("done", (str(written.path), written.size, written.sha256)))
    except Exception as exc:  # reported to the API process, which fails the job with it
        traceback.print_exc()
        send(("error", str(exc) or type(exc).__name__))
