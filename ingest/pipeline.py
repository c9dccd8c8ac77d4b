"""The ingest pipeline: product file -> COG in the store + STAC Item in the catalog.

Order of work for one product, chosen so that a failure at any step leaves nothing
half-written: read and check the label, convert to a COG in a private temp folder,
build the item (fails early on a missing time), upload the COG under a content-addressed
key (temp key then move), re-read its checksum from the store, and only then write the
catalog row. Assets of a replaced item version are deleted after the new row commits.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from catalog.access_edit import check_narrows
from catalog.base import Catalog, StacItem
from datacenter.access import SCHEMA_URL, SYSTEM, dc_fields, with_fields
from datacenter.errors import DatacenterError, NotFound, StorageError
from datacenter.storage import Store
from ingest.cog import write_cog
from ingest.readers import find_reader
from ingest.stac import build_item

STAC_VERSION = "1.1.0"


@dataclass
class ProductResult:
    """What happened to one input product (one line of the ingest report)."""

    path: str
    status: str  # "ingested" | "unchanged" | "failed"
    id: str | None = None
    reason: str | None = None
    assets: list[str] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IngestReport:
    results: list[ProductResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> list[ProductResult]:
        return [r for r in self.results if not r.ok]


def new_collection(collection_id: str, title: str | None = None) -> dict[str, Any]:
    """A minimal valid STAC Collection; its extent is recomputed as items arrive."""
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "id": collection_id,
        "title": title or collection_id,
        "description": title or f"Products ingested into {collection_id}",
        "license": "other",
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
            "temporal": {"interval": [[None, None]]},
        },
        "links": [],
        "summaries": {"ssys:targets": ["Moon"]},
    }


def ensure_collection(
    catalog: Catalog,
    collection_id: str,
    title: str | None = None,
    access: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The collection, created if missing; a new collection takes `access` (the ``dc:``
    fields given at ingest) as the defaults of its items. Returns the items' ``dc:`` fields:
    the collection's defaults with `access` laid over them, which may only narrow them."""
    try:
        coll = catalog.get_collection(collection_id, viewer=SYSTEM)
    except NotFound:
        coll = with_fields(new_collection(collection_id, title), access or {})
        catalog.upsert_collection(coll)
    else:
        if title and coll.get("title") != title:
            coll = {**coll, "title": title}
            catalog.upsert_collection(coll)
    item_fields = dc_fields(with_fields(dc_fields(coll), access or {}))
    check_narrows(item_fields, dc_fields(coll), f"items ingested into {collection_id}",
                  f"collection {collection_id}")
    return item_fields


def refresh_extent(catalog: Catalog, collection_id: str) -> None:
    coll = catalog.get_collection(collection_id, viewer=SYSTEM)
    catalog.upsert_collection({**coll, "extent": catalog.collection_extent(collection_id, viewer=SYSTEM)})


def ingest_product(
    path: Path,
    *,
    collection_id: str,
    catalog: Catalog,
    store: Store,
    datetime_override: datetime | None = None,
    access: dict[str, Any] | None = None,
) -> ProductResult:
    """Ingest one product; never raises for a bad product, returns a failed result instead.

    `access` are the item's ``dc:`` fields (see `ensure_collection`)."""
    started = time.perf_counter()
    result = ProductResult(path=str(path), status="failed")
    try:
        product = find_reader(path).read(path)
        result.id = product.id
        with tempfile.TemporaryDirectory(prefix="datacenter-ingest-") as tmp:
            cog = write_cog(product, Path(tmp) / f"{product.id}.tif")
            data_key = f"{collection_id}/{product.id}/{cog.sha256[:16]}/{product.id}.tif"
            item = build_item(
                product, cog, collection_id=collection_id, data_key=data_key,
                datetime_override=datetime_override,
            )
            if access:
                item["properties"].update(access)
                item["stac_extensions"] = [*item.get("stac_extensions", []), SCHEMA_URL]
            previous = _existing(catalog, collection_id, product.id)
            if (previous is not None and _asset_keys(previous) == [data_key] and store.exists(data_key)
                    and dc_fields(previous.get("properties") or {}) == (access or {})):
                result.status, result.assets = "unchanged", [data_key]
                return result
            store.put_file(cog.path, data_key)
        if store.sha256(data_key) != cog.sha256:
            store.delete(data_key)
            raise StorageError(f"{data_key}: checksum read back from the store differs; not published")
        try:
            catalog.upsert_items([item])
        except BaseException:
            if previous is None or data_key not in _asset_keys(previous):
                store.delete(data_key)
            raise
        if previous is not None:
            for old_key in set(_asset_keys(previous)) - {data_key}:
                store.delete(old_key)
        result.status, result.assets, result.bytes = "ingested", [data_key], cog.size
    except DatacenterError as exc:
        result.reason = str(exc)
    finally:
        result.seconds = round(time.perf_counter() - started, 3)
    return result


def ingest_paths(
    paths: Sequence[Path],
    *,
    collection_id: str,
    catalog: Catalog,
    store: Store,
    collection_title: str | None = None,
    datetime_override: datetime | None = None,
    on_result: Callable[[ProductResult], None] | None = None,
    access: dict[str, Any] | None = None,
) -> IngestReport:
    """Ingest every product in `paths` into `collection_id`; bad products do not stop the batch.

    `access`: ``dc:`` fields from the command line (`datacenter.access.fields_from_options`);
    they become a new collection's defaults, and narrow an existing one's for these items."""
    item_access = ensure_collection(catalog, collection_id, collection_title, access)
    report = IngestReport()
    for path in paths:
        res = ingest_product(
            path, collection_id=collection_id, catalog=catalog, store=store,
            datetime_override=datetime_override, access=item_access,
        )
        report.results.append(res)
        if on_result is not None:
            on_result(res)
    if any(r.status == "ingested" for r in report.results):
        refresh_extent(catalog, collection_id)
    return report


def _existing(catalog: Catalog, collection_id: str, item_id: str) -> StacItem | None:
    try:
        return catalog.get_item(collection_id, item_id, viewer=SYSTEM)
    except NotFound:
        return None


def _asset_keys(item: StacItem) -> list[str]:
    return sorted(a["href"] for a in item.get("assets", {}).values())


def iter_report_lines(report: IngestReport) -> Iterable[dict[str, Any]]:
    return (r.to_dict() for r in report.results)
