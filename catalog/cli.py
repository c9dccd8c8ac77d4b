"""``datacenter catalog ...``: look at what the catalog holds."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from catalog.base import SearchQuery, open_catalog
from datacenter.access import SYSTEM
from datacenter.settings import get_settings

console = Console()
catalog_app = typer.Typer(help="Inspect the STAC catalog.", no_args_is_help=True)


@catalog_app.command("list")
def list_collections() -> None:
    """List collections with their item counts and time span."""
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as cat:
        table = Table("collection", "title", "items", "first", "last")
        for coll in cat.list_collections(viewer=SYSTEM):
            count = cat.search(SearchQuery(collections=[coll["id"]], limit=1, viewer=SYSTEM)).number_matched
            interval = (coll.get("extent", {}).get("temporal", {}).get("interval") or [[None, None]])[0]
            table.add_row(coll["id"], coll.get("title", ""), str(count), str(interval[0]), str(interval[1]))
        console.print(table)


@catalog_app.command("show")
def show_collection(collection_id: str = typer.Argument(..., help="Collection id.")) -> None:
    """Print one collection as STAC JSON."""
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as cat:
        typer.echo(json.dumps(cat.get_collection(collection_id, viewer=SYSTEM), indent=2))


def register(app: typer.Typer) -> None:
    from catalog import admin_cli

    app.add_typer(catalog_app, name="catalog")
    admin_cli.register(app)
