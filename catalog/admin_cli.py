"""``datacenter partners ...``, ``datacenter admin keys ...``, ``datacenter audit`` and
``datacenter access set``: managing who sees what, and reading who saw what.

Every change is written to the catalog database and takes effect on the API's next request
(the server caches neither keys nor access metadata).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from catalog import open_catalog
from catalog.access_edit import set_access
from catalog.audit import AuditEvent, matches
from catalog.audit_archive import event_to_json, read_archive, rotate
from catalog.partners import LIMIT_NAMES, IssuedKey
from datacenter.access import fields_from_options, parse_time
from datacenter.errors import InvalidRequest
from datacenter.settings import get_settings
from datacenter.storage import Store

console = Console()
err_console = Console(stderr=True)  # hints go to stderr: stdout carries only the key
partners_app = typer.Typer(help="Partner agencies and their API keys.", no_args_is_help=True)
partner_keys_app = typer.Typer(help="Rotate or revoke API keys.", no_args_is_help=True)
admin_app = typer.Typer(help="Administrator keys (separate from partner keys).", no_args_is_help=True)
admin_keys_app = typer.Typer(help="Create administrator keys.", no_args_is_help=True)
access_app = typer.Typer(help="Change the access metadata of records.", no_args_is_help=True)
partners_app.add_typer(partner_keys_app, name="keys")
admin_app.add_typer(admin_keys_app, name="keys")


def _print_key(issued: IssuedKey) -> None:
    who = f"partner {issued.partner_id}" if issued.partner_id else "administrator"
    typer.echo(issued.secret_text)
    err_console.print(
        f"[dim]key id {issued.key_id} for {who}; shown once, store it now "
        "(send it as 'Authorization: Bearer <key>')[/]", highlight=False,
    )


@partners_app.command("add")
def partners_add(
    partner_id: str = typer.Argument(..., help="Partner id, as used in dc:releasable_to (e.g. ESA)."),
    name: str | None = typer.Option(None, help="Display name."),
) -> None:
    """Register a partner and print its first API key (once)."""
    with open_catalog(get_settings().resolved_catalog_url) as cat:
        _print_key(cat.partner_store().add_partner(partner_id, name))


@partners_app.command("list")
def partners_list() -> None:
    """List partners, whether they are enabled, and their active key ids."""
    with open_catalog(get_settings().resolved_catalog_url) as cat:
        table = Table("partner", "name", "enabled", "active keys", "created")
        for p in cat.partner_store().list_partners():
            table.add_row(p.id, p.name, "yes" if p.enabled else "no", ", ".join(p.active_keys) or "-",
                          p.created.isoformat(timespec="seconds"))
        console.print(table)


@partner_keys_app.command("rotate")
def keys_rotate(partner_id: str = typer.Argument(..., help="Partner id.")) -> None:
    """Issue a new key for a partner and revoke its others (effective on the next request)."""
    with open_catalog(get_settings().resolved_catalog_url) as cat:
        _print_key(cat.partner_store().rotate_key(partner_id))


@partner_keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="Key id (from `partners list`).")) -> None:
    """Revoke one key (partner or admin), effective on the next request."""
    with open_catalog(get_settings().resolved_catalog_url) as cat:
        cat.partner_store().revoke_key(key_id)
    console.print(f"revoked key {key_id}")


@partners_app.command("disable")
def partners_disable(partner_id: str = typer.Argument(..., help="Partner id.")) -> None:
    """Disable a partner: every key of it fails from the next request on."""
    with open_catalog(get_settings().resolved_catalog_url) as cat:
        cat.partner_store().disable_partner(partner_id)
    console.print(f"disabled partner {partner_id}")


@partners_app.command("limits")
def partners_limits(
    partner_id: str = typer.Argument(..., help="Partner id."),
    concurrent_jobs: int | None = typer.Option(None, help="Its jobs running at once (per API process)."),
    queued_jobs: int | None = typer.Option(None, help="Its jobs waiting to run; more is 429."),
    job_bytes: int | None = typer.Option(None, help="Its largest job, estimated bytes; more is 413."),
    daily_bytes: int | None = typer.Option(None, help="Estimated bytes of its jobs per 24 h; more is 429."),
    reset: list[str] = typer.Option([], help="Back to the default for this limit (repeatable)."),
) -> None:
    """Show or set a partner's own job limits (0 = no limit); unset ones take the
    DATACENTER_PARTNER_* defaults. Effective on the next job submitted."""
    changes: dict[str, int | None] = {k: v for k, v in {
        "concurrent_jobs": concurrent_jobs, "queued_jobs": queued_jobs, "job_bytes": job_bytes,
        "daily_bytes": daily_bytes}.items() if v is not None}
    changes.update({name.replace("-", "_"): None for name in reset})
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as cat:
        partners = cat.partner_store()
        own = partners.set_limits(partner_id, changes) if changes else partners.limits(partner_id)
    table = Table("limit", "value", "from")
    for name in LIMIT_NAMES:
        value = own.get(name, getattr(settings, f"partner_{name}"))
        table.add_row(name, str(value) if value else "no limit",
                      "partner" if name in own else f"DATACENTER_PARTNER_{name.upper()}")
    console.print(table)


@admin_keys_app.command("create")
def admin_keys_create() -> None:
    """Create an administrator key (sees every record; for transactions and management)."""
    with open_catalog(get_settings().resolved_catalog_url) as cat:
        _print_key(cat.partner_store().create_admin_key())


audit_app = typer.Typer(help="Who saw or was refused what, and bytes served.",
                        invoke_without_command=True)


def _time_option(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise InvalidRequest(f"{name} {value!r} is not an RFC 3339 time, e.g. 2026-01-31T00:00:00Z") from None


def _archive_store(location: str) -> Store:
    settings = get_settings()
    return Store(location, s3_endpoint_url=settings.s3_endpoint_url, s3_region=settings.s3_region,
                 retries=settings.store_retries, timeout=settings.store_timeout)


def _default_archive() -> str:
    return str((get_settings().home / "audit-archive").resolve())


@audit_app.callback()
def audit_command(
    ctx: typer.Context,
    partner: str | None = typer.Option(None, help="Only this partner ('anonymous', 'admin' too)."),
    record: str | None = typer.Option(None, help="Only this record and what is under it: CID, CID/IID."),
    since: str | None = typer.Option(None, help="Only events at or after this RFC 3339 time."),
    until: str | None = typer.Option(None, help="Only events before this RFC 3339 time."),
    archive: str | None = typer.Option(
        None, help="Also read the events rotated to this folder or s3:// URL (checksums checked)."),
    limit: int = typer.Option(1000, help="At most this many events (oldest first)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per event and line."),
) -> None:
    """Show audit events: who, what, allowed or denied, bytes served, when.

    With --archive, the rotated events of that location come first, then the live table's."""
    if ctx.invoked_subcommand is not None:
        return
    filters = {"who": partner, "record": record, "since": _time_option("--since", since),
               "until": _time_option("--until", until)}
    events: list[AuditEvent] = []
    if archive is not None:
        for event in read_archive(_archive_store(archive)):
            if len(events) >= limit:
                break
            if matches(event, **filters):  # type: ignore[arg-type]
                events.append(event)
    if len(events) < limit:
        with open_catalog(get_settings().resolved_catalog_url) as cat:
            events += cat.audit_log().query(**filters, limit=limit - len(events))  # type: ignore[arg-type]
    if as_json:
        for e in events:
            doc = event_to_json(0, e)
            del doc["seq"]
            typer.echo(json.dumps(doc))
        return
    table = Table("time", "who", "key", "action", "record", "decision", "bytes", "detail")
    for e in events:
        table.add_row(e.at.astimezone(UTC).isoformat(timespec="seconds"), e.who, e.key_id or "-",
                      e.action, e.record or "-", "allowed" if e.allowed else "denied",
                      "-" if e.bytes is None else str(e.bytes), e.detail or "")
    console.print(table)


@audit_app.command("rotate")
def audit_rotate(
    before: str = typer.Option(..., help="Archive and remove the events earlier than this RFC 3339 time."),
    to: str | None = typer.Option(
        None, "--to", help="Folder or s3://bucket/prefix for the archive (default <home>/audit-archive)."),
) -> None:
    """Archive the events before a time, verified, then remove them from the table.

    One gzip JSON-lines file per rotation, named by its time range, with a .sha256 beside
    it; read them back with `datacenter audit --archive LOCATION`."""
    cutoff = _time_option("--before", before)
    assert cutoff is not None
    location = to or _default_archive()
    store = _archive_store(location)
    with open_catalog(get_settings().resolved_catalog_url) as cat:
        done = rotate(cat.audit_log(), store, cutoff)
    if done is None:
        console.print(f"no audit events before {before}; nothing rotated", highlight=False)
        return
    console.print(f"archived {done.count} events ({done.first.isoformat()} .. {done.last.isoformat()})"
                  f" to {location.rstrip('/')}/{done.key} sha256 {done.sha256}; removed from the table",
                  highlight=False)


@access_app.command("set")
def access_set(
    collection: str | None = typer.Option(None, "--collection", help="Collection id."),
    item: str | None = typer.Option(None, "--item", help="COLLECTION_ID/ITEM_ID."),
    asset: str | None = typer.Option(None, "--asset", help="Asset key of --item."),
    owner: str = typer.Option(..., help="dc:owner."),
    access: str = typer.Option(..., help="public | partners | restricted | owner."),
    releasable_to: str | None = typer.Option(None, help="Comma-separated partner ids."),
    embargo_until: str | None = typer.Option(None, help="RFC 3339 time, or 'none' to lift."),
    export_control: str | None = typer.Option(None, help="dc:export_control marking."),
) -> None:
    """Set who may see a collection, an item or one asset; effective on the next request."""
    if (collection is None) == (item is None):
        raise InvalidRequest("give exactly one of --collection ID or --item COLLECTION_ID/ITEM_ID")
    fields = fields_from_options(owner=owner, access=access, releasable_to=releasable_to or "",
                                 embargo_until=embargo_until or "none", export_control=export_control)
    if fields.get("dc:releasable_to") == []:
        fields["dc:releasable_to"] = None
    if item is not None:
        cid, sep, iid = item.partition("/")
        if not sep or not cid or not iid:
            raise InvalidRequest(f"--item {item!r} must be COLLECTION_ID/ITEM_ID")
    else:
        cid, iid = collection, None  # type: ignore[assignment]
    with open_catalog(get_settings().resolved_catalog_url) as cat:
        new = set_access(cat, fields, cid, iid, asset)
    target = f"{cid}/{iid}" if iid else cid
    console.print(f"{target}{'#' + asset if asset else ''}: {new}  ({datetime.now(UTC):%H:%M:%S} UTC)",
                  highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(partners_app, name="partners")
    app.add_typer(admin_app, name="admin")
    app.add_typer(access_app, name="access")
    app.add_typer(audit_app, name="audit")
