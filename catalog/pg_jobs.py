"""`JobStore` in PostgreSQL, beside pgstac: the table ``datacenter.jobs``.

Created with the partners and audit tables (`catalog.pg_partners.create_tables`, run by
`datacenter catalog migrate`). Every API replica on the same database sees every job, so a
client may reach any replica. Each row records its runner (``host:pid`` of the process
running it) and a heartbeat; startup recovery fails only jobs whose runner is this host's
dead process, or whose heartbeat is older than `STALE_AFTER` (a runner on another host that
stopped beating), never a live replica's running job.
"""

from __future__ import annotations

JOBS_SCHEMA = """
CREATE TABLE IF NOT EXISTS datacenter.jobs (
    id text PRIMARY KEY, owner text NOT NULL, status text NOT NULL,
    created timestamptz NOT NULL, runner text, heartbeat timestamptz, doc jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_owner_created ON datacenter.jobs (owner, created)
"""
