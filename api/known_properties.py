"""A filter or sortby naming a property no record has is a 400 that names it.

Without this check a typo (`gsdd < 10`) or a property of another catalog silently matches
nothing. Core fields, the planetary fields `/queryables` declares and fields of published STAC
extensions (`eo:cloud_cover`) are always allowed (a field no item carries yet matches
nothing, as it should); any other name must be
carried by at least one item the caller may see (one `limit=1` search per such name, so
hidden records never reveal their property names).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from api.queryables import _CORE, DECLARED
from catalog.base import Catalog, SearchQuery
from datacenter.access import FIELDS as ACCESS_FIELDS
from datacenter.errors import InvalidRequest

#: top-level item fields, properties every item has, and the access fields (every record
#: carries them, resolved from its collection when the item has none)
ALWAYS = frozenset({*_CORE, *DECLARED, *ACCESS_FIELDS, "bbox", "type", "stac_version", "created",
                    "updated", "title", "description", "keywords"})  # fmt: skip


#: prefixes of published STAC extensions: a field of theirs is meaningful even where no item
#: has it (`eo:cloud_cover < 10` matches nothing on the Moon, as it should; generic clients and
#: stac-api-validator send it), so only other names are probed
STAC_PREFIXES = ("eo:", "view:", "sat:", "proj:", "processing:", "ssys:", "raster:", "file:",
                 "sci:", "sar:", "gsd:", "mgrs:", "grid:", "landsat:", "s2:", "storage:", "version:",
                 "timestamps:", "cube:", "table:", "label:", "pc:", "classification:")  # fmt: skip


def _bare(name: str) -> str:
    return name.removeprefix("properties.")


def filter_properties(node: Any) -> set[str]:
    """Every property a CQL2 JSON expression names."""
    if isinstance(node, dict):
        if set(node) == {"property"} and isinstance(node["property"], str):
            return {_bare(node["property"])}
        return set().union(*(filter_properties(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(filter_properties(v) for v in node)) if node else set()
    return set()


def _exists(catalog: Catalog, query: SearchQuery, name: str) -> bool:
    probe = replace(
        query, collections=None, ids=None, bbox=None, intersects=None, datetime=None, q=None,
        token=None, sortby=None, limit=1,
        filter={"op": "not", "args": [{"op": "isNull", "args": [{"property": name}]}]},
    )
    return bool(catalog.search(probe).items)


def check_known_properties(catalog: Catalog, query: SearchQuery) -> None:
    """InvalidRequest naming the filter / sortby properties no visible item carries."""
    if query.token:  # later pages: the first page was checked
        return
    named = {("filter", p) for p in filter_properties(query.filter)}
    named |= {("sortby", _bare(field)) for field, _ in query.sortby or ()}
    unknown: dict[str, list[str]] = {}
    checked: dict[str, bool] = {}
    for where, name in sorted(named):
        if name in ALWAYS or name.startswith(STAC_PREFIXES):
            continue
        if name not in checked:
            checked[name] = _exists(catalog, query, name)
        if not checked[name]:
            unknown.setdefault(where, []).append(name)
    if unknown:
        parts = [f"{where} names {', '.join(repr(n) for n in names)}" for where, names in unknown.items()]
        raise InvalidRequest(
            f"{'; '.join(parts)}, which no item has; see /queryables for the properties you can use"
        )
