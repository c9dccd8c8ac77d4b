"""The Dask client the batch jobs run on: local threads by default, or a scheduler.

    with dask_client(settings, workers=4) as client:
        futures = client.map(task, inputs)

`DATACENTER_DASK_SCHEDULER=tcp://host:8786` connects to a dask.distributed scheduler
(its workers must see the same catalog and store URLs); empty runs an in-process cluster
of threads, so the catalog, the store and the GDAL handles are shared without pickling.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from distributed import Client

from datacenter.errors import ConfigError
from datacenter.settings import Settings


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


@contextmanager
def dask_client(settings: Settings, *, workers: int | None = None) -> Iterator[Client]:
    """A connected client; closed (and its local cluster stopped) on exit."""
    if settings.dask_scheduler:
        try:
            client = Client(settings.dask_scheduler, timeout="10s", set_as_default=False)
        except OSError as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler DATACENTER_DASK_SCHEDULER={settings.dask_scheduler!r}: "
                f"{exc}. Start it (dask scheduler) or unset the setting to run on local threads"
            ) from exc
    else:
        client = Client(
            processes=False, n_workers=1, threads_per_worker=workers or default_workers(),
            dashboard_address=None, set_as_default=False, silence_logs=logging.ERROR,
        )  # fmt: skip
    try:
        yield client
    finally:
        client.close()
