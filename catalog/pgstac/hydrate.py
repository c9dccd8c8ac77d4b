"""Items read from pgstac's ``items`` table, hydrated in Python rather than in SQL.

pgstac stores an item *dehydrated*: the fields it shares with its collection's base item
(``type``, ``stac_version``, the collection's ``item_assets`` as ``assets``, ...) are left
out of ``content``, and a key the item lacks but the base item has is stored as the
do-not-merge marker ``𒍟※``. Its SQL ``content_hydrate`` puts them back, at ~1.3 ms an
item (a 1000-item page: 1.3 s). Here a page's rows are fetched as columns plus the
dehydrated ``content``, the base items of the page's collections are read once, and each
item is merged with pypgstac's own `pypgstac.hydration.hydrate` (the Rust ``hydraters``,
the function stac-fastapi-pgstac's ``use_api_hydrate`` uses), so the rules stay pgstac's:

* the base item: the one the item is tagged with (``pgstac:base_item``, a row of
  ``base_items``), else the collection's first recorded base item, else its current one
  (pgstac's ``collection_base_item``); a tag naming no row falls back to the current one;
* the merge: base keys the item lacks are copied in, objects merge recursively, lists of
  equal length merge element-wise, an item value of ``𒍟※`` drops the key;
* JSON nulls are stripped from the result, as ``merge_jsonb`` does (``jsonb_strip_nulls``):
  the base item's nulls (a collection without ``item_assets`` has ``"assets": null``) and
  any the content kept (in SQL, `item_columns`). `catalog.pgstac.query.from_stored` then restores the nulls the
  item really had.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import psycopg
from pypgstac.hydration import hydrate

from catalog.base import StacItem

BASE_ITEM_KEY = "pgstac:base_item"
_TAG = re.compile(r"^\s*\d{1,9}\s*$")

def item_columns(alias: str) -> str:
    """The columns `hydrate_rows` reads, in this order, of an ``items`` row named `alias`.
    Nulls are stripped in SQL (cheap there, a walk of every item here)."""
    return (f"{alias}.id, {alias}.collection, st_asgeojson({alias}.geometry, 20),"
            f" jsonb_strip_nulls({alias}.content)")


Row = Sequence[Any]  # (id, collection, geometry GeoJSON text, content dict, ...)
BaseKey = tuple[str, int | None]


def _tag(content: dict[str, Any]) -> int | None | str:
    """The base item tag of stored content: None (untagged), an int, or "" (unusable)."""
    tag = content.get(BASE_ITEM_KEY)
    if tag is None or type(tag) is int:
        return tag  # type: ignore[no-any-return]
    text = str(tag)
    return int(text) if _TAG.match(text) else ""


def _strip_nulls(value: Any) -> Any:
    """``jsonb_strip_nulls``: object fields whose value is null go, at every depth."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def base_items(conn: psycopg.Connection[Any], collections: Iterable[str]) -> dict[BaseKey | str, dict[str, Any]]:
    """The base items of `collections`, null-stripped: ``(cid, tag)`` for every recorded
    one, ``(cid, None)`` for untagged items, and ``cid`` alone for the current one."""
    wanted = sorted(set(collections))
    out: dict[BaseKey | str, dict[str, Any]] = {}
    if not wanted:
        return out
    rows = conn.execute(
        "SELECT c.id, c.base_item, b.id, b.base_item FROM collections c"
        " LEFT JOIN base_items b ON b.collection = c.id WHERE c.id = ANY(%s) ORDER BY c.id, b.id",
        (wanted,),
    ).fetchall()
    for cid, current, tag, recorded in rows:
        if cid not in out:
            out[cid] = _strip_nulls(current)
            out[(cid, None)] = out[cid] if tag is None else _strip_nulls(recorded)  # the first one
        if tag is not None:
            out[(cid, tag)] = _strip_nulls(recorded)
    return out


def one_item_sql(alias: str = "i") -> str:
    """The columns, after `item_columns`, that `hydrate_one` needs besides the row: the
    collection's current base item, its first recorded one and the one the item is tagged
    with (one query for an item by id)."""
    tag = f"{alias}.content->>'{BASE_ITEM_KEY}'"
    return (f"(SELECT c.base_item FROM collections c WHERE c.id = {alias}.collection),"
            f" (SELECT b.base_item FROM base_items b WHERE b.collection = {alias}.collection"
            " ORDER BY b.id LIMIT 1),"
            f" (SELECT b.base_item FROM base_items b WHERE b.collection = {alias}.collection"
            f" AND b.id = CASE WHEN {tag} ~ '^\\s*\\d{{1,9}}\\s*$' THEN trim({tag})::int END)")


def hydrate_one(row: Row) -> StacItem:
    """The full item of a row of `item_columns` followed by `one_item_sql`."""
    collection, content = row[1], row[3]
    current, first, tagged = row[4], row[5], row[6]
    bases: dict[BaseKey | str, dict[str, Any]] = {collection: _strip_nulls(current)}
    bases[(collection, None)] = _strip_nulls(first) if first is not None else bases[collection]
    tag = _tag(content)
    if tagged is not None and isinstance(tag, int):
        bases[(collection, tag)] = _strip_nulls(tagged)
    return hydrate_row(row, bases)


def hydrate_rows(conn: psycopg.Connection[Any], rows: Sequence[Row]) -> list[StacItem]:
    """The full items of `rows` (see `item_columns`), in order: one query for the base items."""
    bases = base_items(conn, (r[1] for r in rows))
    return [hydrate_row(r, bases) for r in rows]


def hydrate_row(row: Row, bases: dict[BaseKey | str, dict[str, Any]]) -> StacItem:
    item_id, collection, geometry, content = row[0], row[1], row[2], row[3]
    tag = _tag(content)
    base = bases.get((collection, tag)) if tag != "" else None  # type: ignore[arg-type]
    if base is None:  # no such recorded base item: pgstac hydrates against the current one
        base = bases[collection]
    item = {"id": item_id, "geometry": orjson.loads(geometry), "collection": collection, "type": "Feature"}
    item.update(content)
    item.pop(BASE_ITEM_KEY, None)
    return hydrate(base, item)  # type: ignore[no-any-return]
