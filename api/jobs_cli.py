"""``datacenter jobs list|show|cancel``: subset jobs for operators (all partners' jobs)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from catalog import open_job_store
from catalog.jobs import JobStatus, now_utc
from datacenter.settings import get_settings
from datacenter.storage import Store

console = Console()
jobs_app = typer.Typer(help="Subset jobs: list, show, cancel.", no_args_is_help=True)


@jobs_app.command("list")
def list_jobs(
    owner: str = typer.Option(None, help="Only this partner's jobs."),
    limit: int = typer.Option(100, help="At most this many, newest first."),
) -> None:
    """Jobs newest first: id, owner, status, progress, created, message."""
    with open_job_store(get_settings().resolved_catalog_url) as jobs:
        listed = jobs.list(owner=owner, limit=limit)
    table = Table("id", "owner", "status", "progress", "created", "message")
    for job in listed:
        table.add_row(job.id, job.owner, job.status.value, f"{job.progress:.0%}",
                      job.created.isoformat(timespec="seconds"), job.error or job.message)
    console.print(table)


@jobs_app.command("show")
def show_job(job_id: str = typer.Argument(..., help="Job id.")) -> None:
    """One job as JSON (request, status, timestamps, results)."""
    with open_job_store(get_settings().resolved_catalog_url) as jobs:
        typer.echo(json.dumps(jobs.get(job_id).to_json(), indent=2))


@jobs_app.command("cancel")
def cancel_job(job_id: str = typer.Argument(..., help="Job id.")) -> None:
    """Dismiss a job: a running one stops at its next task; its result files are deleted."""
    settings = get_settings()
    with open_job_store(settings.resolved_catalog_url) as jobs:
        job = jobs.get(job_id)
        if job.status in (JobStatus.FAILED, JobStatus.DISMISSED):
            typer.echo(f"job {job_id} is already {job.status.value}")
            return
        job.status, job.finished, job.results = JobStatus.DISMISSED, now_utc(), []
        job.message = "dismissed by an operator"
        jobs.save(job)
    Store.from_settings(settings).delete(f"jobs/{job_id}")
    typer.echo(f"job {job_id} dismissed")


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
