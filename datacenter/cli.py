"""The ``datacenter`` command.

The command itself lives here, at the bottom layer; its sub-commands come from the layers
above through the ``datacenter.cli`` entry-point group (each entry is a function
``register(app: typer.Typer) -> None``), the way xarray discovers backends. So this
package imports none of ``catalog``, ``ingest`` or ``api``, and a layer that fails to
import costs only its own commands, with a warning that says why.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import typer
from rich.console import Console

from datacenter import __version__
from datacenter.errors import DatacenterError

app = typer.Typer(
    name="datacenter",
    help="Lunar & Deep-Space Science Data Center: ingest, catalog, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)
_loaded = False


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", is_flag=True, is_eager=True, callback=_print_version,
        help="Print the version and exit.",
    ),
) -> None:
    """Lunar & Deep-Space Science Data Center: ingest, catalog, serve."""


def load_commands() -> typer.Typer:
    """Register every installed command group on `app` (once) and return it."""
    global _loaded
    if not _loaded:
        for ep in sorted(entry_points(group="datacenter.cli"), key=lambda e: e.name):
            try:
                ep.load()(app)
            except Exception as exc:  # a broken layer must not take the whole CLI down
                err_console.print(
                    f"[yellow]warning:[/] the '{ep.name}' commands are unavailable: {exc}"
                    " (reinstall with `pip install -e .`)"
                )
        _loaded = True
    return app


def main() -> None:
    """Console-script entry point: a DatacenterError becomes a one-line message and exit code 2."""
    load_commands()
    try:
        app()
    except DatacenterError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
