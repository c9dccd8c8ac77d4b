"""``datacenter ingest PATH... --collection ID``."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from catalog import open_catalog
from catalog.base import Catalog, SearchQuery
from datacenter.access import (
    SYSTEM,
    AccessClass,
    AccessMeta,
    dc_fields,
    describe_visibility,
    fields_from_options,
)
from datacenter.compute import batch_executor
from datacenter.errors import InvalidRequest, NotFound
from datacenter.settings import get_settings
from ingest.batch import expand_inputs, read_manifest, run_batch
from ingest.collections import create_collection
from ingest.pipeline import IngestReport, ProductResult

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


def visibility_line(catalog: Catalog, collection_id: str) -> str:
    """One line saying who sees what an ingest wrote into `collection_id` (and how to widen it)."""
    try:
        coll = catalog.get_collection(collection_id, viewer=SYSTEM)
    except NotFound:
        return f"collection '{collection_id}' was not kept: no product went in"
    count = catalog.search(SearchQuery(collections=[collection_id], limit=1, viewer=SYSTEM)).number_matched
    fields = dc_fields(coll)
    line = f"{count if count is not None else 'many'} items in '{collection_id}': visible to {describe_visibility(fields)}"
    if AccessMeta.from_fields(fields).access is not AccessClass.PUBLIC:
        line += ("; pass --owner/--access, or `datacenter access set --collection "
                 f"{collection_id} --owner AGENCY --access public|partners|restricted`")
    return escape(line)


def run_ingest(
    paths: list[str],
    collection: str | None,
    collection_title: str | None = None,
    datetime_value: str | None = None,
    report_path: Path | None = None,
    manifest: Path | None = None,
    workers: int | None = None,
    access: dict[str, Any] | None = None,
) -> IngestReport:
    settings = get_settings()
    override = parse_datetime_option(datetime_value)
    entries = expand_inputs(paths, collection=collection, settings=settings)
    if manifest is not None:
        entries += read_manifest(manifest, default_collection=collection)
    if not entries:
        raise InvalidRequest("nothing to ingest: pass product files, folders, globs, s3:// prefixes or --manifest")
    report_fh = report_path.open("w", encoding="utf-8") if report_path is not None else None
    started = time.perf_counter()
    # worker processes (forked now, before the catalog opens and the progress bar's thread
    # starts) for a batch; one product runs here
    with batch_executor(settings, workers=workers, processes=len(entries) > 1) as executor, \
            open_catalog(settings.resolved_catalog_url) as catalog, Progress(
        TextColumn("[bold]ingest[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[ok]} ok, {task.fields[failed]} failed, {task.fields[rate]}"),
        console=console, transient=True,
    ) as progress:
        task = progress.add_task("", total=len(entries), ok=0, failed=0, rate="")
        counts = {"ok": 0, "failed": 0, "bytes": 0}

        def on_result(res: ProductResult) -> None:
            counts["ok" if res.ok else "failed"] += 1
            counts["bytes"] += res.bytes
            elapsed = max(time.perf_counter() - started, 1e-6)
            done = counts["ok"] + counts["failed"]
            progress.update(task, advance=1, ok=counts["ok"], failed=counts["failed"],
                            rate=f"{done / elapsed:.2f} products/s, {counts['bytes'] / elapsed / 1e6:.1f} MB/s")  # fmt: skip
            if report_fh is not None:
                report_fh.write(json.dumps(res.to_dict()) + "\n")
                report_fh.flush()
            if res.ok:
                progress.console.print(
                    f"[green]ok[/]     {escape(str(res.id))}  {res.status}  {res.bytes / 1e6:.2f} MB"
                    f"  {res.seconds:.2f} s  ({escape(res.path)})"
                    + ("  dated by --datetime" if res.took_datetime_option else ""),
                    soft_wrap=True,
                )
                for note in res.notes:
                    progress.console.print(f"[yellow]note[/]   {escape(note)}", soft_wrap=True)
            else:
                progress.console.print(
                    f"[red]failed[/] {escape(res.path)}: {escape(str(res.reason))}", soft_wrap=True
                )

        try:
            report = run_batch(entries, settings=settings, catalog=catalog, datetime_override=override,
                               executor=executor, on_result=on_result, access=access,
                               titles={collection: collection_title} if collection and collection_title else None)  # fmt: skip
        finally:
            if report_fh is not None:
                report_fh.close()
        ok = sum(r.ok for r in report.results)
        names = ", ".join(sorted({e.collection for e in entries}))
        console.print(f"{ok} of {len(report.results)} products in collection '{names}'"
                      + (f", {len(report.failed)} failed" if report.failed else ""))
        dated = sorted(r.path for r in report.results if r.ok and r.took_datetime_option)
        if dated:
            console.print(f"{len(dated)} product(s) carry no acquisition time and took --datetime "
                          f"{escape(str(datetime_value))}:")
            for path in dated:
                console.print(f"  {escape(path)}", soft_wrap=True)
        for name in dict.fromkeys(e.collection for e in entries):
            console.print(visibility_line(catalog, name), soft_wrap=True)
    if report.failed:
        console.print("[bold]quarantined[/] (not ingested; fix and re-run):")
        for res in report.failed:
            console.print(f"  {escape(res.path)}: {escape(str(res.reason))}", soft_wrap=True)
    return report


def ingest_command(
    paths: list[str] = typer.Argument(None, help="Product files, folders, glob patterns or s3:// prefixes."),
    collection: str | None = typer.Option(None, "--collection", "-c", help="Collection id to ingest into."),
    collection_title: str | None = typer.Option(None, help="Title of the collection (set on creation or changed)."),
    datetime_value: str | None = typer.Option(
        None, "--datetime", help="Acquisition time (RFC 3339) for products whose labels carry none; a label's own "
        "time always wins (the report and summary name the products that took it)."
    ),
    report: Path | None = typer.Option(None, help="Write a JSON-lines report, one line per product."),
    manifest: Path | None = typer.Option(
        None, help="CSV or JSON-lines manifest: path, collection and metadata overrides per product "
        "(dc: columns set a product's access, narrowing its collection's)."
    ),
    workers: int | None = typer.Option(None, help="Products in parallel: worker processes here (default: cores, up to 4)."),
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
    """Ingest products: COG or Zarr in the store, STAC Item in the catalog, in parallel.

    Exit code 0 only if every product went in; a failed product is reported with its
    reason (and listed as quarantined) and does not stop the others. Re-running the same
    input writes nothing; re-running after a crash completes what was left.
    """
    fields = fields_from_options(owner=owner, access=access, releasable_to=releasable_to,
                                 embargo_until=embargo_until, export_control=export_control)
    result = run_ingest(paths or [], collection, collection_title, datetime_value, report, manifest,
                        workers, fields or None)
    if not result.ok:
        raise typer.Exit(1)


collections_app = typer.Typer(help="Collections: create from a definition file.", no_args_is_help=True)


@collections_app.command("create")
def collections_create(
    definition: Path = typer.Argument(..., help="YAML or JSON collection definition."),
) -> None:
    """Create or update a collection (description, license, providers, mission, access defaults)."""
    with open_catalog(get_settings().resolved_catalog_url) as catalog:
        coll = create_collection(catalog, definition)
    console.print(f"collection '{coll['id']}' saved")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
    app.add_typer(collections_app, name="collections")
