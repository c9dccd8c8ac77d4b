"""The Dask scheduler the data center computes on, chosen by settings.

    DATACENTER_DASK_SCHEDULER=tcp://host:8786   a running dask.distributed scheduler
    DATACENTER_DASK_WORKERS=N                   a LocalCluster of N worker processes
    (neither)                                   dask's threaded scheduler in this process

`Compute` is what callers hold (the API keeps one on ``app.state``): `scheduler` is what
to pass to ``dask.compute(..., scheduler=...)``. Batch ingest uses `dask_client`, a
connected ``distributed.Client`` (an in-process cluster of threads when no scheduler is
set, so the catalog, the store and GDAL handles are shared without pickling). Nothing
starts at import.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
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


@contextmanager
def dask_client(settings: Settings, *, workers: int | None = None) -> Iterator[Any]:
    """A connected ``distributed.Client`` for batch work; closed (local cluster stopped) on exit."""
    from distributed import Client

    if settings.dask_scheduler:
        client = _connect(settings.dask_scheduler)
    else:
        client = Client(
            processes=False, n_workers=1, threads_per_worker=workers or default_workers(),
            dashboard_address=None, set_as_default=False, silence_logs=logging.ERROR,
        )  # fmt: skip
    try:
        yield client
    finally:
        client.close()
