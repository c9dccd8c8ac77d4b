"""A throw-away PostgreSQL 15 + PostGIS + pgstac cluster for the tests.

One cluster per test session (per xdist worker): ``initdb`` in a fresh temp folder, the
server on a free 127.0.0.1 port with its unix socket in that folder, PostGIS and pgstac
installed once into a *template* database. Session-long users (the API suite) get their
own database cloned from the template (``CREATE DATABASE ... TEMPLATE``, ~0.2-0.4 s); each
catalog test gets the worker's shared test database emptied first (`clean_database`:
pgstac's ``delete_collection`` for every collection, which drops their partitions, and its
search caches truncated, ~0.04 s), several times cheaper than a new database per test.

PostgreSQL refuses to run as root: as root the cluster runs as the ``postgres`` system
user (created by the Debian packages) through ``runuser``. Nothing here is skipped: if the
server cannot start, the fixture fails with the reason and the server's log.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.conftest import free_port

PG_BIN = Path(os.environ.get("DATACENTER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
TEMPLATE = "pgstac_template"


class PostgresUnavailable(RuntimeError):
    """The test cluster could not be set up; the message says why and what to install."""


class Cluster:
    """A running throw-away cluster; `new_database()` hands out fresh pgstac databases."""

    def __init__(self, root: Path, port: int, run_as: list[str]) -> None:
        self.root = root
        self.port = port
        self.run_as = run_as
        self.data = root / "data"
        self.log = root / "server.log"
        self._names = itertools.count()
        self._clean: str | None = None

    def dsn(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    # lifecycle --------------------------------------------------------------------
    def _run(self, *args: str) -> None:
        result = subprocess.run([*self.run_as, *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr.strip()}\n{log}"
            )

    def start(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        self.start_server()
        self._make_template()

    def start_server(self) -> None:
        """Start the server on the existing data folder (also: bring it back after `stop`)."""
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                   " -c shared_buffers=64MB -c max_connections=60")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                        "-w", "stop"], capture_output=True, check=False)

    def _make_template(self) -> None:
        from catalog.pgstac import migrate

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        migrate(self.dsn(TEMPLATE))

    # databases --------------------------------------------------------------------
    def new_database(self) -> str:
        """A fresh, migrated pgstac database; returns its DSN."""
        name = f"t{next(self._names)}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
        return self.dsn(name)

    def clean_database(self) -> str:
        """The worker's shared test database, emptied; returns its DSN."""
        if self._clean is None:
            self._clean = self.new_database()
        with psycopg.connect(self._clean, autocommit=True) as conn:
            conn.execute("SET search_path TO pgstac, public")
            conn.execute("SELECT delete_collection(id) FROM collections")
            conn.execute("TRUNCATE searches, search_wheres")
            conn.execute("TRUNCATE datacenter.audit, datacenter.api_keys, datacenter.partner_limits,"
                         " datacenter.partners, datacenter.jobs")
            left = conn.execute("SELECT (SELECT count(*) FROM items) + (SELECT count(*) FROM collections)"
                                " + (SELECT count(*) FROM datacenter.item_counts)"
                                " + (SELECT count(*) FROM datacenter.item_count_changes)")
            assert left.fetchone() == (0,), "the shared test database did not empty"
        return self._clean

    def drop_database(self, dsn: str) -> None:
        name = dsn.rsplit("/", 1)[1]
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _run_as() -> tuple[list[str], str | None]:
    """The command prefix to run server binaries as an unprivileged user, and that user."""
    if os.geteuid() != 0:
        return [], None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "the tests run as root and there is no 'postgres' system user to run PostgreSQL as; "
            "install postgresql-15-postgis-3 (apt) or run the tests as an unprivileged user"
        ) from None
    runuser = shutil.which("runuser") or shutil.which("su")
    if runuser is None:
        raise PostgresUnavailable("running as root needs `runuser` (util-linux) to start PostgreSQL")
    return [runuser, "-u", "postgres", "--"], "postgres"


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Start a cluster, yield it, stop it and remove its folder."""
    if not (PG_BIN / "initdb").exists():
        raise PostgresUnavailable(
            f"PostgreSQL 15 binaries not found in {PG_BIN}: apt-get install -y --no-install-recommends "
            "postgresql-15-postgis-3 (or point DATACENTER_TEST_PG_BIN at them)"
        )
    run_as, user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="dc-pg-"))
    if user is not None:
        shutil.chown(root, user=user)
    cluster = Cluster(root, free_port(), run_as)
    try:
        started = time.monotonic()
        cluster.start()
        cluster.started_in = time.monotonic() - started  # type: ignore[attr-defined]
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
