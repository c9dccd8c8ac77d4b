"""The job-store contract on both catalog backends (the catalog's SQLite file, and
``datacenter.jobs`` in PostgreSQL), and recovery that fails only jobs whose runner is gone:
several API replicas sharing one database never fail each other's running jobs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog import open_job_store
from catalog.jobs import (
    Job,
    JobNotFound,
    JobResult,
    JobStatus,
    now_utc,
    this_runner,
)
from datacenter.cli import load_commands
from datacenter.settings import get_settings

RUNNING = {"status": JobStatus.RUNNING, "progress": 0.5}


@pytest.fixture
def jobs(catalog_url: str) -> Any:
    with open_job_store(catalog_url) as store:
        yield store


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_jobs_round_trip_newest_first_and_per_owner(jobs: Any) -> None:
    result = JobResult("a.nc", "jobs/j1/a.nc", 12, "1220" + "00" * 32, "application/x-netcdf")
    first = Job(id="j1", owner="ESA", request={"ids": ["x"]})
    jobs.create(first)
    jobs.create(Job(id="j2", owner="JAXA", request={}, created=first.created + timedelta(seconds=1)))
    first.status, first.results, first.progress = JobStatus.SUCCESSFUL, [result], 1.0
    jobs.save(first)
    got = jobs.get("j1")
    assert (got.status, got.results, got.request, got.progress) == (
        JobStatus.SUCCESSFUL, [result], {"ids": ["x"]}, 1.0)
    assert [j.id for j in jobs.list()] == ["j2", "j1"]
    assert [j.id for j in jobs.list(owner="ESA")] == ["j1"]
    with pytest.raises(JobNotFound, match="'nope'"):
        jobs.get("nope")


def test_recovery_fails_only_jobs_whose_runner_is_gone(jobs: Any) -> None:
    now = now_utc()
    stale = now - timedelta(hours=1)
    host = this_runner().split(":")[0]
    cases = {
        "ours": (this_runner(), now, False),  # this live process
        "other-host-beating": ("api-7:1:abc", now, False),  # a live replica elsewhere
        "this-host-dead-pid": (f"{host}:{dead_pid()}:abc", now, True),
        "other-host-silent": ("api-7:1:abc", stale, True),  # stopped beating
        "unknown-runner": (None, None, True),  # from before runners were recorded
    }
    for job_id, (runner, beat, _) in cases.items():
        jobs.create(Job(id=job_id, owner="ESA", request={}, runner=runner, heartbeat=beat, **RUNNING))
    jobs.create(Job(id="done", owner="ESA", request={}, status=JobStatus.SUCCESSFUL))

    failed = jobs.fail_interrupted("the API stopped")
    assert sorted(failed) == sorted(k for k, (_, _, gone) in cases.items() if gone)
    assert jobs.get("ours").status is JobStatus.RUNNING
    assert jobs.get("this-host-dead-pid").error == "the API stopped"
    assert jobs.get("done").status is JobStatus.SUCCESSFUL


def test_a_heartbeat_keeps_a_job_alive_without_touching_anything_else(jobs: Any) -> None:
    jobs.create(Job(id="beat", owner="ESA", request={}, runner="api-7:1:abc",
                    heartbeat=now_utc() - timedelta(hours=1), **RUNNING))
    jobs.touch(["beat"])
    got = jobs.get("beat")
    assert got.heartbeat is not None and now_utc() - got.heartbeat < timedelta(minutes=1)
    assert (got.status, got.progress) == (JobStatus.RUNNING, 0.5)
    assert jobs.fail_interrupted("gone") == []


def test_another_replica_starting_on_the_same_database_leaves_our_running_job_alone(
    jobs: Any, catalog_url: str
) -> None:
    jobs.create(Job(id="mine", owner="ESA", request={}, runner=this_runner(), heartbeat=now_utc(),
                    **RUNNING))
    jobs.create(Job(id="crashed", owner="ESA", request={},
                    runner=f"{this_runner().split(':')[0]}:{dead_pid()}:abc", heartbeat=now_utc(),
                    **RUNNING))
    replica = textwrap.dedent(f"""
        import json
        from catalog import open_job_store
        with open_job_store({catalog_url!r}) as jobs:
            print(json.dumps(jobs.fail_interrupted("the API stopped")))
    """)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}  # this checkout's packages
    proc = subprocess.run([sys.executable, "-c", replica], capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["crashed"]
    assert jobs.get("mine").status is JobStatus.RUNNING


def test_operator_commands_read_the_same_store(
    jobs: Any, catalog_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATACENTER_CATALOG_URL", catalog_url)
    get_settings.cache_clear()
    jobs.create(Job(id="cli-job", owner="ESA", request={"ids": ["x"]}))
    runner = CliRunner()
    shown = runner.invoke(load_commands(), ["jobs", "show", "cli-job"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["owner"] == "ESA"
    cancelled = runner.invoke(load_commands(), ["jobs", "cancel", "cli-job"])
    assert cancelled.exit_code == 0, cancelled.output
    assert jobs.get("cli-job").status is JobStatus.DISMISSED


def test_a_dismissed_job_cannot_be_revived_by_a_late_save(jobs: Any) -> None:
    jobs.create(Job(id="late", owner="ESA", request={}, **RUNNING))
    runner_copy = jobs.get("late")  # what the runner read before its owner dismissed it
    dismissed = jobs.get("late")
    dismissed.status = JobStatus.DISMISSED
    jobs.save(dismissed)
    runner_copy.status = JobStatus.SUCCESSFUL
    jobs.save(runner_copy)
    assert jobs.get("late").status is JobStatus.DISMISSED


def test_jobs_are_counted_by_owner_and_status_and_keep_their_sources_and_estimate(jobs: Any) -> None:
    for i, status in enumerate([JobStatus.ACCEPTED, JobStatus.ACCEPTED, JobStatus.RUNNING]):
        jobs.create(Job(id=f"count-{i}", owner="ESA", request={}, status=status,
                        sources={"lunar/a": ["data"]}, estimate=1000 + i))
    jobs.create(Job(id="count-other", owner="JAXA", request={}))
    assert jobs.count(owner="ESA", status=JobStatus.ACCEPTED) == 2
    assert jobs.count(owner="ESA", status=JobStatus.RUNNING) == 1
    assert jobs.count(owner="JAXA", status=JobStatus.ACCEPTED) == 1
    assert jobs.count(owner="CNSA", status=JobStatus.ACCEPTED) == 0
    job = jobs.get("count-2")
    assert (job.sources, job.estimate) == ({"lunar/a": ["data"]}, 1002)


def test_partner_limits_are_shown_and_set_from_the_command_line(catalog_url: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog import open_catalog

    monkeypatch.setenv("DATACENTER_CATALOG_URL", catalog_url)
    get_settings.cache_clear()
    with open_catalog(catalog_url) as cat:
        cat.partner_store().add_partner("LIMITED")
    run = CliRunner().invoke
    shown = run(load_commands(), ["partners", "limits", "LIMITED", "--queued-jobs", "3"])
    assert shown.exit_code == 0, shown.output
    assert "queued_jobs" in shown.output and "partner" in shown.output
    with open_catalog(catalog_url) as cat:
        assert cat.partner_store().limits("LIMITED") == {"queued_jobs": 3}
    reset = run(load_commands(), ["partners", "limits", "LIMITED", "--reset", "queued-jobs"])
    assert reset.exit_code == 0 and "DATACENTER_PARTNER_QUEUED_JOBS" in reset.output
    bad = run(load_commands(), ["partners", "limits", "LIMITED", "--reset", "bogus"])
    assert bad.exit_code != 0 and "unknown partner limit" in f"{bad.output}{bad.exception}"


def test_an_older_sqlite_catalog_moves_its_jobs_to_the_jobs_file(tmp_path: Any) -> None:
    import sqlite3

    from catalog.sqlite import SQLiteCatalog
    from catalog.sqlite.jobs import _SCHEMA, jobs_path

    path = tmp_path / "catalog.sqlite"
    with SQLiteCatalog(path):
        pass
    old = sqlite3.connect(path)  # as written before the job store had its own file
    for statement in _SCHEMA.split(";\n"):
        old.execute(statement)
    kept = Job(id="old-job", owner="ESA", request={"ids": ["x"]})
    old.execute("INSERT INTO jobs VALUES (?, ?, ?, ?, ?)",
                (kept.id, kept.owner, kept.status.value, kept.created.isoformat(), json.dumps(kept.to_json())))
    old.commit()
    old.close()
    with open_job_store(f"sqlite:///{path}") as store:
        store.create(Job(id="new-job", owner="ESA", request={}, created=kept.created + timedelta(seconds=1)))
        assert [j.id for j in store.list(owner="ESA")] == ["new-job", "old-job"]
    assert jobs_path(path).name == "catalog.jobs.sqlite"
    with sqlite3.connect(path) as conn:  # job steps no longer write to the catalog's file
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'jobs'").fetchone() is None
    with open_job_store(f"sqlite:///{path}") as store:  # opening again moves nothing twice
        assert store.get("old-job").request == {"ids": ["x"]}
