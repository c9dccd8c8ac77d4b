"""Connections to one SQLite catalog file: one per thread, WAL, and the two transactions.

One connection per thread (``threading.local``; re-opened after ``fork``), WAL mode,
``synchronous=NORMAL`` and a busy timeout, so the API's threadpool and an ingest process can
read while one writer writes. Writes run in ``BEGIN IMMEDIATE`` transactions (`_write`); a
read snapshot (`_read`) lets several statements see the same data.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from catalog.sqlite.cql2 import spatial_sql_function


class _Holder:
    """Owns one thread's connection; closes it when the thread (and so its local) goes."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn: sqlite3.Connection | None = conn

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()

    def __del__(self) -> None:
        self.close()


class SQLiteConnections:
    """The per-thread connections to the file `path`; a subclass sets `path` and `timeout`
    and calls `_open_connections` before it reads or writes."""

    path: Path
    timeout: float

    def _open_connections(self) -> None:
        self._lock = threading.Lock()
        self._holders: weakref.WeakSet[_Holder] = weakref.WeakSet()
        self._local = threading.local()
        self._pid = os.getpid()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        self._set_wal(conn)
        conn.create_function("dc_spatial", 3, spatial_sql_function, deterministic=True)
        # Reads go through a memory map as large as SQLite allows (its build caps the request:
        # 2 GiB for the wheel's 3.40): a row probe then costs no read() call, which at 1 M
        # items (1.7 GB) made an R*Tree-driven count 2.7x faster than the former 256 MiB map.
        for pragma in ("synchronous = NORMAL", "temp_store = MEMORY", "cache_size = -32000",
                       "mmap_size = 17179869184"):
            conn.execute(f"PRAGMA {pragma}")
        return conn

    def _set_wal(self, conn: sqlite3.Connection) -> None:
        deadline = time.monotonic() + self.timeout
        while conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            try:
                conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:  # forked: never share the parent's connections
            self._pid, self._local, self._holders = os.getpid(), threading.local(), weakref.WeakSet()
        holder: _Holder | None = getattr(self._local, "holder", None)
        if holder is None or holder.conn is None:
            holder = _Holder(self._connect())
            self._local.holder = holder
            with self._lock:
                self._holders.add(holder)
        assert holder.conn is not None
        return holder.conn

    def close(self) -> None:
        with self._lock:
            holders = list(self._holders)
        for holder in holders:
            holder.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            # every write moves the generation on: what was derived from the data (extents)
            # is recomputed, in this process and in any other on the same file
            conn.execute("INSERT INTO meta (key, value) VALUES ('generation', 1)"
                         " ON CONFLICT (key) DO UPDATE SET value = value + 1")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read snapshot (several statements see the same data)."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")
