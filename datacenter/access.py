"""The export-control access policy: who may see which record.

Every collection, item and asset carries (in its STAC fields, extension prefix ``dc:``):

    dc:owner            the agency that owns the record ("CNSA", "ROSCOSMOS", ...)
    dc:access           "public" | "partners" | "restricted" | "owner"
    dc:releasable_to    partner ids a "restricted" record is released to
    dc:embargo_until    optional RFC 3339 time; before it only the owner sees the record
    dc:export_control   free-form marking, shown only to those who see the record

A record missing its access metadata is treated as ``owner`` (and with no owner, as
visible to administrators only), never as public. Visibility nests: an item is visible
only if its collection is, an asset only if its item is. Administrators see everything.

This module is the one statement of the rules: `can_see` in Python, `visibility_cql2`
as CQL2 JSON for backends that filter with CQL2 (pgstac). Both are tested against each
other. Filters are built as data, never by pasting ids into query text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from importlib import resources
from typing import Any

OWNER = "dc:owner"
ACCESS = "dc:access"
RELEASABLE_TO = "dc:releasable_to"
EMBARGO_UNTIL = "dc:embargo_until"
EXPORT_CONTROL = "dc:export_control"
FIELDS = (OWNER, ACCESS, RELEASABLE_TO, EMBARGO_UNTIL, EXPORT_CONTROL)
#: the `$id` of the ``dc:`` STAC extension's JSON schema, as stored records name it; the API
#: serves the schema at ``<base>/`` + SCHEMA_PATH and names that URL in what it serves
#: (`api.extensions`). The schema ships in the package (`schema_document`); the repository
#: keeps the same file under docs/extensions/<host>/... for offline validation by `$id`.
SCHEMA_URL = "https://lunar-datacenter.github.io/stac-dc/v1.0.0/schema.json"
SCHEMA_PATH = "extensions/dc/v1.0.0/schema.json"


class AccessClass(StrEnum):
    PUBLIC = "public"
    PARTNERS = "partners"
    RESTRICTED = "restricted"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        """0 (widest, public) .. 3 (narrowest, owner only): the order `narrows` uses."""
        return _RANKS[self]


_RANKS = {AccessClass.PUBLIC: 0, AccessClass.PARTNERS: 1, AccessClass.RESTRICTED: 2, AccessClass.OWNER: 3}


@dataclass(frozen=True)
class Viewer:
    """Who is asking. `partner_id` None is anonymous; `admin` sees everything."""

    partner_id: str | None = None
    admin: bool = False
    key_id: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.partner_id is None and not self.admin

    def label(self) -> str:
        return "admin" if self.admin else (self.partner_id or "anonymous")


ANONYMOUS = Viewer()
SYSTEM = Viewer(admin=True)


@dataclass(frozen=True)
class AccessMeta:
    owner: str | None = None
    access: AccessClass = AccessClass.OWNER
    releasable_to: frozenset[str] = field(default_factory=frozenset)
    embargo_until: datetime | None = None
    export_control: str | None = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> AccessMeta:
        """Read the dc: fields of a STAC object's properties (or a collection's top level)."""
        raw_access = fields.get(ACCESS)
        try:
            access = AccessClass(raw_access) if raw_access is not None else AccessClass.OWNER
        except ValueError:
            access = AccessClass.OWNER  # an unknown class is the most restrictive, never public
        embargo = fields.get(EMBARGO_UNTIL)
        releasable = fields.get(RELEASABLE_TO) or ()
        if isinstance(releasable, str):
            releasable = (releasable,)
        return cls(
            owner=fields.get(OWNER),
            access=access,
            releasable_to=frozenset(str(p) for p in releasable),
            embargo_until=parse_time(embargo) if embargo else None,
            export_control=fields.get(EXPORT_CONTROL),
        )

    def to_fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {ACCESS: self.access.value}
        if self.owner is not None:
            out[OWNER] = self.owner
        if self.releasable_to:
            out[RELEASABLE_TO] = sorted(self.releasable_to)
        if self.embargo_until is not None:
            out[EMBARGO_UNTIL] = self.embargo_until.isoformat().replace("+00:00", "Z")
        if self.export_control is not None:
            out[EXPORT_CONTROL] = self.export_control
        return out


def parse_time(value: str | datetime) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def can_see(viewer: Viewer, meta: AccessMeta, now: datetime | None = None) -> bool:
    """The rule, in one place."""
    if viewer.admin:
        return True
    is_owner = viewer.partner_id is not None and viewer.partner_id == meta.owner
    if is_owner:
        return True
    now = now or datetime.now(UTC)
    if meta.embargo_until is not None and now < meta.embargo_until:
        return False
    if meta.access is AccessClass.PUBLIC:
        return True
    if viewer.partner_id is None:
        return False
    if meta.access is AccessClass.PARTNERS:
        return True
    if meta.access is AccessClass.RESTRICTED:
        return viewer.partner_id in meta.releasable_to
    return False


def can_see_fields(viewer: Viewer, fields: Mapping[str, Any], now: datetime | None = None) -> bool:
    return can_see(viewer, AccessMeta.from_fields(fields), now)


def visibility_cql2(viewer: Viewer, now: datetime | None = None) -> dict[str, Any] | None:
    """The rule as a CQL2 JSON filter on item properties; None when nothing is hidden."""
    if viewer.admin:
        return None
    now_text = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    not_embargoed = {
        "op": "or",
        "args": [
            {"op": "isNull", "args": [{"property": EMBARGO_UNTIL}]},
            {"op": "<=", "args": [{"property": EMBARGO_UNTIL}, {"timestamp": now_text}]},
        ],
    }
    allowed: list[dict[str, Any]] = [{"op": "=", "args": [{"property": ACCESS}, "public"]}]
    if viewer.partner_id is not None:
        allowed.append({"op": "=", "args": [{"property": ACCESS}, "partners"]})
        allowed.append(
            {
                "op": "and",
                "args": [
                    {"op": "=", "args": [{"property": ACCESS}, "restricted"]},
                    {"op": "a_contains", "args": [{"property": RELEASABLE_TO}, [viewer.partner_id]]},
                ],
            }
        )
    others = {"op": "and", "args": [not_embargoed, {"op": "or", "args": allowed}]}
    if viewer.partner_id is None:
        return others
    return {"op": "or", "args": [{"op": "=", "args": [{"property": OWNER}, viewer.partner_id]}, others]}


def asset_meta(item_fields: Mapping[str, Any], asset: Mapping[str, Any]) -> AccessMeta:
    """An asset's access: its item's ``dc:`` fields, with the asset's own ``dc:`` fields
    (if any) laid over them. Whether the asset is served also needs its item visible."""
    own = {k: asset[k] for k in FIELDS if k in asset}
    return AccessMeta.from_fields({**item_fields, **own}) if own else AccessMeta.from_fields(item_fields)


def visible_assets(viewer: Viewer, item: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The assets of a (visible) item that `viewer` may see, by key: the one place hidden
    assets are dropped, used both to present items and to answer downloads."""
    assets = item.get("assets") or {}
    if viewer.admin:
        return dict(assets)
    props = item.get("properties") or {}
    now = now or datetime.now(UTC)
    return {
        key: asset for key, asset in assets.items()
        if not any(k in asset for k in FIELDS) or can_see(viewer, asset_meta(props, asset), now)
    }


def narrowing_problem(inner: AccessMeta, outer: AccessMeta) -> str | None:
    """Why `inner` (an item's or asset's access) is wider than `outer` (its collection's or
    item's), or None when it only narrows it: same owner, an access class at least as
    narrow, releasable only to partners `outer` releases to, an embargo no earlier."""
    if outer.owner is not None and inner.owner != outer.owner:
        return f"owner {inner.owner!r} differs from {outer.owner!r}"
    if inner.access.rank < outer.access.rank:
        return f"access {inner.access.value!r} is wider than {outer.access.value!r}"
    if (inner.access is AccessClass.RESTRICTED and outer.access is AccessClass.RESTRICTED
            and not inner.releasable_to <= outer.releasable_to):
        extra = ", ".join(sorted(inner.releasable_to - outer.releasable_to))
        return f"releasable to {extra}, which the enclosing record is not"
    if outer.embargo_until is not None and (
        inner.embargo_until is None or inner.embargo_until < outer.embargo_until
    ):
        return f"embargo ends before the enclosing record's ({outer.embargo_until.isoformat()})"
    return None


def fields_from_options(
    *,
    owner: str | None = None,
    access: str | None = None,
    releasable_to: str | None = None,
    embargo_until: str | None = None,
    export_control: str | None = None,
) -> dict[str, Any]:
    """The ``dc:`` fields given on a command line (only those given), checked.

    `releasable_to` is comma-separated; `embargo_until` RFC 3339 ("none" clears it)."""
    from datacenter.errors import InvalidRequest

    out: dict[str, Any] = {}
    if owner is not None:
        out[OWNER] = owner
    if access is not None:
        try:
            out[ACCESS] = AccessClass(access.lower()).value
        except ValueError:
            choices = ", ".join(c.value for c in AccessClass)
            raise InvalidRequest(f"--access {access!r} is not one of: {choices}") from None
    if releasable_to is not None:
        out[RELEASABLE_TO] = sorted({p.strip() for p in releasable_to.split(",") if p.strip()})
    if embargo_until is not None:
        if embargo_until.lower() in ("", "none"):
            out[EMBARGO_UNTIL] = None
        else:
            try:
                when = parse_time(embargo_until)
            except ValueError:
                raise InvalidRequest(
                    f"--embargo-until {embargo_until!r} is not an RFC 3339 time; write e.g. "
                    "2027-06-01T00:00:00Z (or 'none' to lift the embargo)"
                ) from None
            out[EMBARGO_UNTIL] = when.isoformat().replace("+00:00", "Z")
    if export_control is not None:
        out[EXPORT_CONTROL] = export_control
    return out


def with_fields(target: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """`target` with `fields` laid over its ``dc:`` fields (a None value removes the field)."""
    out = dict(target)
    for key, value in fields.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def dc_fields(target: Mapping[str, Any]) -> dict[str, Any]:
    """The ``dc:`` fields of a collection, item properties or asset."""
    return {k: target[k] for k in FIELDS if k in target}


def describe_visibility(fields: Mapping[str, Any]) -> str:
    """Who sees a record with these ``dc:`` fields, in words (for command output):
    "everyone (public)", "CNSA and every partner", "CNSA and ESA, JAXA", "administrators only"."""
    meta = AccessMeta.from_fields(fields)
    owner = meta.owner
    if meta.access is AccessClass.PUBLIC:
        who = "everyone (public)"
    elif meta.access is AccessClass.PARTNERS:
        who = f"{owner} and every partner" if owner else "every partner"
    elif meta.access is AccessClass.RESTRICTED and meta.releasable_to:
        released = ", ".join(sorted(meta.releasable_to))
        who = f"{owner} and {released}" if owner else released
    else:  # owner-only, or restricted to nobody
        who = f"{owner} only" if owner else "administrators only"
    if meta.embargo_until is not None and meta.access is not AccessClass.OWNER:
        until = meta.embargo_until.isoformat().replace("+00:00", "Z")
        who += f" (from {until}; before it {owner + ' only' if owner else 'administrators only'})"
    return who


def schema_document() -> dict[str, Any]:
    """The ``dc:`` extension's JSON schema (its `$id` is SCHEMA_URL)."""
    text = resources.files("datacenter").joinpath("dc_extension_schema.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]
