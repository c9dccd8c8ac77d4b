"""Move a whole catalog between backends: NDJSON, collections first, then their items.

One STAC object per line, exactly as the catalog returns it (every record, whoever may see
it: export reads as `SYSTEM`). A line is a collection if its ``type`` is ``"Collection"``,
an item otherwise, so the file also loads with ``pypgstac load`` or any NDJSON STAC tool.
Import upserts: running it twice leaves the same catalog.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from catalog.base import Catalog, SearchQuery
from datacenter.access import SYSTEM
from datacenter.errors import InvalidRequest

PAGE = 1000
BATCH = 1000


@dataclass
class Counts:
    collections: int = 0
    items: int = 0


def _line(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"


def iter_items(catalog: Catalog, collection_id: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        page = catalog.search(SearchQuery(collections=[collection_id], limit=PAGE, token=token, viewer=SYSTEM))
        yield from page.items
        token = page.next_token
        if not token:
            return


def export_ndjson(catalog: Catalog, out: IO[str]) -> Counts:
    """Write every collection, then every item of each, to `out`."""
    counts = Counts()
    collections = catalog.list_collections(viewer=SYSTEM)
    for coll in collections:
        out.write(_line(coll))
        counts.collections += 1
    for coll in collections:
        for item in iter_items(catalog, coll["id"]):
            out.write(_line(item))
            counts.items += 1
    return counts


def import_ndjson(catalog: Catalog, lines: IO[str], name: str = "the input") -> Counts:
    """Upsert the collections and items of an NDJSON stream, items in batches."""
    counts = Counts()
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        counts.items += catalog.upsert_items(batch)
        batch.clear()

    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidRequest(f"{name} line {number} is not JSON ({exc.msg}); expected one STAC object per line") from None
        if not isinstance(obj, dict):
            raise InvalidRequest(f"{name} line {number} is a {type(obj).__name__}, expected a STAC object")
        if obj.get("type") == "Collection":
            if batch:
                flush()
            catalog.upsert_collection(obj)
            counts.collections += 1
        else:
            batch.append(obj)
            if len(batch) >= BATCH:
                flush()
    if batch:
        flush()
    return counts
