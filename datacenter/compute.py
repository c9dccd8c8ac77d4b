"""Where heavy work runs: local threads by default, a dask.distributed cluster if configured.

    with dask_client(settings) as client:     # None without DATACENTER_DASK_SCHEDULER
        ...

`DATACENTER_DASK_SCHEDULER=tcp://host:8786` connects to a running scheduler (its workers
must see the same store: on several machines that means an ``s3://`` store, and the same
version of this package). Without it, callers run the work in this process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from datacenter.errors import ConfigError
from datacenter.settings import Settings

if TYPE_CHECKING:
    from distributed import Client


@contextmanager
def dask_client(settings: Settings, *, timeout: float = 30.0) -> Iterator[Client | None]:
    """A client of the configured scheduler, closed on exit; None when none is configured."""
    address = settings.dask_scheduler.strip()
    if not address:
        yield None
        return
    from distributed import Client

    try:
        client = Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(
            f"DATACENTER_DASK_SCHEDULER={address!r}: no Dask scheduler answered within "
            f"{timeout:g} s ({exc}); start one (`dask scheduler`) or unset the setting to "
            "work on local threads"
        ) from exc
    try:
        yield client
    finally:
        client.close()
