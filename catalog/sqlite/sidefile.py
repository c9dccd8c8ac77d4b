"""Small SQLite files kept beside a catalog file (the audit log, job state), and the
partner tables inside it: one connection per thread, WAL, ``synchronous = NORMAL``.

What is written on every request or every job step lives in a file of its own, not in the
catalog's: each commit to the catalog file makes every reader drop its page cache at its
next transaction (measured: a 0.14 ms R*Tree query became 0.9 ms with one write between
reads).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: taken at once (BEGIN IMMEDIATE), rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def beside(catalog_path: str | os.PathLike[str], name: str) -> Path:
    """The file `name` beside a catalog file: ``catalog.sqlite`` -> ``catalog.<name>.sqlite``."""
    path = Path(catalog_path)
    return path.with_name(f"{path.stem}.{name}{path.suffix or '.sqlite'}")


class SideFile:
    """One connection per thread (and per process after fork) on one file; `schema` (statements
    separated by ``;\\n``) is created in one transaction when the file is opened."""

    def __init__(self, path: str | os.PathLike[str], *, schema: str, timeout: float = 30.0) -> None:
        self.path, self.timeout = Path(path), timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._pid = os.getpid()
        conn = self.conn()
        # WAL, as the catalog file: a commit appends to the log (no fsync at synchronous =
        # NORMAL) instead of writing and deleting a rollback journal with fsyncs, which made
        # the audit INSERT of every request most of an item request's time
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        with immediate(conn):
            for statement in schema.split(";\n"):
                if statement.strip():
                    conn.execute(statement)

    def conn(self) -> sqlite3.Connection:
        """This thread's connection."""
        if os.getpid() != self._pid:
            self._pid, self._local = os.getpid(), threading.local()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close with their threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def move_table_out(catalog_path: str | os.PathLike[str], table: str, columns: str, target: Path,
                   *, schema: str, timeout: float = 30.0) -> None:
    """Catalogs written before `table` had its own file kept it in the catalog's: move its
    rows (`columns`) into `target` (created with `schema` when needed) and drop the old
    table, in one transaction over both files. Safe when several processes open the catalog
    at once (``datacenter serve --workers N``): the table is looked for again inside it."""
    if not Path(catalog_path).exists():
        return
    conn = sqlite3.connect(catalog_path, timeout=timeout, isolation_level=None)
    try:
        exists = f"SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = '{table}'"
        if conn.execute(exists).fetchone() is None:
            return
        SideFile(target, schema=schema, timeout=timeout).close()
        conn.execute("ATTACH DATABASE ? AS moved", (str(target),))
        with immediate(conn):
            if conn.execute(exists).fetchone() is not None:
                conn.execute(f"INSERT OR IGNORE INTO moved.{table} ({columns}) SELECT {columns} FROM main.{table}")
                conn.execute(f"DROP TABLE main.{table}")
        conn.execute("DETACH DATABASE moved")
    finally:
        conn.close()
