"""``datacenter ingest PATH... --collection ID``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from catalog.base import open_catalog
from datacenter.access import fields_from_options
from datacenter.errors import InvalidRequest
from datacenter.settings import get_settings
from datacenter.storage import Store
from ingest.pipeline import IngestReport, ProductResult, ingest_paths
from ingest.readers import discover

console = Console(stderr=True)


def parse_datetime_option(value: str | None) -> datetime | None:
    """`--datetime` as an aware UTC datetime (RFC 3339; a naive value is taken as UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidRequest(
            f"--datetime {value!r} is not an RFC 3339 time; write e.g. 2024-01-31T12:00:00Z"
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def run_ingest(
    paths: list[str],
    collection: str,
    collection_title: str | None = None,
    datetime_value: str | None = None,
    report_path: Path | None = None,
    access: dict[str, Any] | None = None,
) -> IngestReport:
    settings = get_settings()
    override = parse_datetime_option(datetime_value)
    files = discover(paths)
    store = Store.from_settings(settings)
    with open_catalog(settings.resolved_catalog_url) as catalog, Progress(
        TextColumn("[bold]ingest[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.description}"), console=console, transient=True,
    ) as progress:
        task = progress.add_task("", total=len(files))

        def on_result(res: ProductResult) -> None:
            progress.advance(task)
            if res.ok:
                progress.console.print(
                    f"[green]ok[/]     {escape(str(res.id))}  {res.status}  {res.bytes / 1e6:.2f} MB"
                    f"  {res.seconds:.2f} s  ({escape(res.path)})",
                    soft_wrap=True,
                )
            else:
                progress.console.print(
                    f"[red]failed[/] {escape(res.path)}: {escape(str(res.reason))}", soft_wrap=True
                )

        report = ingest_paths(
            files, collection_id=collection, catalog=catalog, store=store,
            collection_title=collection_title, datetime_override=override, on_result=on_result,
            access=access,
        )
    if report_path is not None:
        report_path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in report.results))
    ok = sum(r.ok for r in report.results)
    console.print(f"{ok} of {len(report.results)} products in collection '{collection}'"
                  + (f", {len(report.failed)} failed" if report.failed else ""))
    return report


def ingest_command(
    paths: list[str] = typer.Argument(..., help="Product files, folders or glob patterns."),
    collection: str = typer.Option(..., "--collection", "-c", help="Collection id to ingest into."),
    collection_title: str | None = typer.Option(None, help="Title of the collection (set on creation or changed)."),
    datetime_value: str | None = typer.Option(
        None, "--datetime", help="Acquisition time (RFC 3339) for products whose labels carry none."
    ),
    report: Path | None = typer.Option(None, help="Write a JSON-lines report, one line per product."),
    owner: str | None = typer.Option(None, help="dc:owner: the agency owning the products (e.g. CNSA)."),
    access: str | None = typer.Option(
        None, help="dc:access: public | partners | restricted | owner (default: the collection's; "
        "a new collection without it is owner-only)."
    ),
    releasable_to: str | None = typer.Option(
        None, help="dc:releasable_to: comma-separated partner ids for --access restricted."
    ),
    embargo_until: str | None = typer.Option(
        None, help="dc:embargo_until (RFC 3339): before it only the owner sees the products."
    ),
    export_control: str | None = typer.Option(None, help="dc:export_control marking, kept as given."),
) -> None:
    """Ingest products into a collection: COG in the store, STAC Item in the catalog.

    Exit code 0 only if every product went in; a failed product is reported with its
    reason and does not stop the others.
    """
    fields = fields_from_options(owner=owner, access=access, releasable_to=releasable_to,
                                 embargo_until=embargo_until, export_control=export_control)
    result = run_ingest(paths, collection, collection_title, datetime_value, report, fields or None)
    if not result.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
