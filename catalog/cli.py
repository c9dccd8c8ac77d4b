"""``datacenter catalog ...``: look at what the catalog holds; set it up; move it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from catalog import open_catalog
from catalog.base import SearchQuery
from datacenter.access import SYSTEM, dc_fields, describe_visibility
from datacenter.errors import InvalidRequest
from datacenter.settings import get_settings

console = Console()
catalog_app = typer.Typer(help="Inspect, set up and move the STAC catalog.", no_args_is_help=True)

URL_OPTION = typer.Option(
    None, "--catalog-url", help="Catalog URL (default: the DATACENTER_CATALOG_URL setting)."
)


def _url(url: str | None) -> str:
    return url or get_settings().resolved_catalog_url


@catalog_app.command("list")
def list_collections() -> None:
    """List collections with their item counts, time span and who sees them."""
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as cat:
        table = Table("collection", "title", "items", "first", "last", "visible to")
        for coll in cat.list_collections(viewer=SYSTEM):
            count = cat.search(SearchQuery(collections=[coll["id"]], limit=1, viewer=SYSTEM)).number_matched
            interval = (coll.get("extent", {}).get("temporal", {}).get("interval") or [[None, None]])[0]
            table.add_row(coll["id"], coll.get("title", ""), str(count), str(interval[0]), str(interval[1]),
                          describe_visibility(dc_fields(coll)))
        console.print(table)


@catalog_app.command("show")
def show_collection(collection_id: str = typer.Argument(..., help="Collection id.")) -> None:
    """Print one collection as STAC JSON."""
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as cat:
        typer.echo(json.dumps(cat.get_collection(collection_id, viewer=SYSTEM), indent=2))


@catalog_app.command("migrate")
def migrate(catalog_url: str | None = URL_OPTION) -> None:
    """Create or upgrade the catalog's schema (SQLite file, or PostGIS + pgstac)."""
    url = _url(catalog_url)
    if url.startswith(("postgresql://", "postgres://")):
        from catalog.pgstac.catalog import migrate as migrate_pgstac
        from catalog.pgstac.pool import redact

        version = migrate_pgstac(url)
        typer.echo(f"pgstac {version} ready in {redact(url)}")
        return
    with open_catalog(url) as cat:  # the SQLite backend creates or checks its schema on open
        typer.echo(f"SQLite catalog ready: {cat!r}")


@catalog_app.command("export")
def export(
    file: str = typer.Argument(..., help="NDJSON file to write ('-' for standard output)."),
    catalog_url: str | None = URL_OPTION,
) -> None:
    """Write every collection, then every item, as one STAC JSON object per line."""
    from catalog.transfer import export_ndjson

    with open_catalog(_url(catalog_url)) as cat:
        if file == "-":
            counts = export_ndjson(cat, sys.stdout)
        else:
            tmp = Path(f"{file}.partial")
            with tmp.open("w", encoding="utf-8") as out:
                counts = export_ndjson(cat, out)
            tmp.replace(file)
    typer.echo(f"exported {counts.collections} collections and {counts.items} items", err=True)


@catalog_app.command("import")
def import_(
    file: str = typer.Argument(..., help="NDJSON file from `catalog export` ('-' for standard input)."),
    catalog_url: str | None = URL_OPTION,
) -> None:
    """Upsert the collections and items of an NDJSON file into the catalog."""
    from catalog.transfer import import_ndjson

    with open_catalog(_url(catalog_url)) as cat:
        if file == "-":
            counts = import_ndjson(cat, sys.stdin, "standard input")
        else:
            path = Path(file)
            if not path.is_file():
                raise InvalidRequest(f"{file} is not a file; give the NDJSON file `catalog export` wrote")
            with path.open(encoding="utf-8") as lines:
                counts = import_ndjson(cat, lines, file)
    typer.echo(f"imported {counts.collections} collections and {counts.items} items", err=True)


def register(app: typer.Typer) -> None:
    from catalog import admin_cli

    app.add_typer(catalog_app, name="catalog")
    admin_cli.register(app)
