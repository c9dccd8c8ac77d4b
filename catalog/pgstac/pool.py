"""Connection pools on the PostgreSQL database: opened and checked once, reused by every store.

The catalog, the partner / audit stores and the job store each borrow from a pool
(`open_pool`). A connection is checked before reuse only when it sat unused for a while
(`_check_if_idle`), and DSNs in messages never show the password (`redact`).
"""

from __future__ import annotations

import re
import time
import weakref
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from datacenter.errors import ConfigError


def redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", dsn)


_CHECK_AFTER = 2.0  # seconds unused after which a pooled connection is checked before use
_returned: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = weakref.WeakKeyDictionary()


def _note_returned(conn: psycopg.Connection[Any]) -> None:
    _returned[conn] = time.monotonic()


def _check_if_idle(conn: psycopg.Connection[Any]) -> None:
    """Check a connection handed out by the pool only if it sat unused for `_CHECK_AFTER`
    seconds (as pgbouncer's ``server_check_delay``): the check is a round trip (~0.1 ms), and
    a request borrows up to three connections (key, catalog, audit). A connection broken in
    the meantime fails its request as `CatalogUnavailable`, which also purges the pool
    (`PgstacCatalog._unavailable_as_error`)."""
    if time.monotonic() - _returned.get(conn, 0.0) > _CHECK_AFTER:
        ConnectionPool.check_connection(conn)


def open_pool(dsn: str, purpose: str, *, max_size: int, timeout: float,
              configure: Any = None) -> ConnectionPool:
    """An open, checked, autocommit connection pool on `dsn` (named ``datacenter-<purpose>``);
    `ConfigError` naming the database (password hidden) if it cannot connect in `timeout`."""
    pool = ConnectionPool(
        dsn, min_size=1, max_size=max_size, timeout=timeout, open=False,
        kwargs={"autocommit": True}, configure=configure, name=f"datacenter-{purpose}",
        check=_check_if_idle, reset=_note_returned,
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except PoolTimeout:
        pool.close()
        raise ConfigError(
            f"cannot connect to the {purpose} database {redact(dsn)} within {timeout:g} s; "
            "check DATACENTER_CATALOG_URL and that the server is running"
        ) from None
    return pool


# The access fields as pgstac queryables, so `visibility_cql2` compares them with the
# right types (a time with a time, an array with an array) rather than as text.
