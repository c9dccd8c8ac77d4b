"""The ingest pipeline: product file -> COG or Zarr in the store + STAC Item in the catalog.

Order of work for one product, chosen so that a kill at any moment leaves either the old
state or the new: read and check the label; fingerprint the source (`ingest.publish`) and
stop there if the catalog already holds that version with its assets; sweep what an
earlier killed run left under the product's folder; convert (COG or Zarr) in a private
temp folder and build the item (fails early on a missing time); upload under the
versioned key (temp key then move); re-read the checksum from the store; only then write
the catalog row. Assets of a replaced version are deleted after the new row commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from catalog.access_edit import check_narrows
from catalog.base import Catalog, SearchQuery, StacItem
from datacenter import STAC_VERSION
from datacenter.access import FIELDS as DC_FIELDS
from datacenter.access import OWNER as DC_OWNER
from datacenter.access import SCHEMA_URL, SYSTEM, dc_fields, with_fields
from datacenter.errors import DatacenterError, InvalidRequest, NotFound
from datacenter.storage import Store
from ingest.product import Product, utc_datetime
from ingest.publish import (
    FINGERPRINT,
    asset_keys,
    assets_present,
    convert,
    fingerprint,
    local_tmp,
    sweep_product,
    upload_verified,
)
from ingest.readers import find_reader


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
    default_owner: str | None = None,
) -> dict[str, Any]:
    """The collection, created if missing; a new collection takes `access` (the ``dc:``
    fields given at ingest) as the defaults of its items, and `default_owner` as its
    ``dc:owner`` when `access` names none. Returns the items' ``dc:`` fields: the
    collection's defaults with `access` laid over them, which may only narrow them."""
    try:
        coll = catalog.get_collection(collection_id, viewer=SYSTEM)
    except NotFound:
        fields = dict(access or {})
        if default_owner and not fields.get(DC_OWNER):
            fields[DC_OWNER] = default_owner
        coll = with_fields(new_collection(collection_id, title), fields)
        catalog.upsert_collection(coll)
    else:
        if title and coll.get("title") != title:
            coll = {**coll, "title": title}
            catalog.upsert_collection(coll)
    item_fields = dc_fields(with_fields(dc_fields(coll), access or {}))
    check_narrows(item_fields, dc_fields(coll), f"items ingested into {collection_id}",
                  f"collection {collection_id}")
    return item_fields


def collection_exists(catalog: Catalog, collection_id: str) -> bool:
    """Whether the catalog holds the collection (for anyone)."""
    try:
        catalog.get_collection(collection_id, viewer=SYSTEM)
    except NotFound:
        return False
    return True


def drop_if_empty(catalog: Catalog, collection_id: str) -> bool:
    """Delete the collection if it holds no item (an ingest that created it and wrote
    nothing leaves nothing behind); whether it was deleted."""
    page = catalog.search(SearchQuery(collections=[collection_id], limit=1, viewer=SYSTEM))
    if page.items:
        return False
    catalog.delete_collection(collection_id)
    return True


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
    overrides: Mapping[str, Any] | None = None,
    access: Mapping[str, Any] | None = None,
) -> ProductResult:
    """Ingest one product; never raises for a bad product, returns a failed result instead.

    `overrides` replace what the label says (title, platform, mission, instruments,
    processing_level, start, end as RFC 3339) or add item properties (any other key).
    `access` are the item's ``dc:`` fields (see `ensure_collection`); ``dc:`` keys among
    `overrides` (a manifest row's) are laid over them and may only narrow them.
    """
    started = time.perf_counter()
    result = ProductResult(path=str(path), status="failed")
    try:
        product = find_reader(path).read(path)
        result.id = product.id
        plain = {k: v for k, v in (overrides or {}).items() if k not in DC_FIELDS}
        item_access = item_access_fields(access or {}, overrides or {}, product.id)
        product = apply_overrides(product, plain)
        options = {"datetime": datetime_override, "overrides": plain}
        with _product_lock(collection_id, product.id):
            _publish(product, result, collection_id=collection_id, catalog=catalog, store=store,
                     fingerprint_value=fingerprint(product, options), datetime_override=datetime_override,
                     access=item_access)  # fmt: skip
    except DatacenterError as exc:
        result.reason = str(exc)
    except OSError as exc:
        result.reason = f"cannot read {path}: {exc}"
    finally:
        result.seconds = round(time.perf_counter() - started, 3)
    return result


def _publish(
    product: Product, result: ProductResult, *, collection_id: str, catalog: Catalog,
    store: Store, fingerprint_value: str, datetime_override: datetime | None,
    access: dict[str, Any],
) -> None:  # fmt: skip
    previous = _existing(catalog, collection_id, product.id)
    sweep_product(store, collection_id, product.id, keep=asset_keys(previous))
    if (
        previous is not None
        and previous.get("properties", {}).get(FINGERPRINT) == fingerprint_value
        and assets_present(store, previous)
    ):
        result.assets = asset_keys(previous)
        if dc_fields(previous.get("properties") or {}) == access:
            result.status = "unchanged"
            return
        # same bytes, new access metadata: rewrite the item only (nothing to convert)
        catalog.upsert_items([with_access(previous, access)])
        result.status = "ingested"
        return
    with local_tmp() as tmp:
        out = convert(product, Path(tmp), collection_id=collection_id,
                      version=fingerprint_value[:16], datetime_override=datetime_override)  # fmt: skip
        out.item["properties"][FINGERPRINT] = fingerprint_value
        for key, value in getattr(product, "extra_properties", {}).items():
            out.item["properties"].setdefault(key, value)
        out.item.update(with_access(out.item, access))
        upload_verified(store, out)
    try:
        catalog.upsert_items([out.item])
    except BaseException:
        if out.key not in asset_keys(previous):
            store.delete(out.key)
        raise
    for old_key in set(asset_keys(previous)) - {out.key}:
        store.delete(old_key)
    sweep_product(store, collection_id, product.id, keep=[out.key])
    result.status, result.assets, result.bytes = "ingested", [out.key], out.size


def item_access_fields(
    access: Mapping[str, Any], overrides: Mapping[str, Any], product_id: str
) -> dict[str, Any]:
    """The ``dc:`` fields of one item: `access` (collection defaults and command-line
    options) with a manifest row's ``dc:`` overrides laid over them, which may only narrow."""
    own = {k: v for k, v in overrides.items() if k in DC_FIELDS}
    if not own:
        return dict(access)
    fields = dc_fields(with_fields(access, own))
    check_narrows(fields, dict(access), f"manifest access of {product_id}", "its collection")
    return fields


def with_access(item: StacItem, access: Mapping[str, Any]) -> StacItem:
    """`item` with exactly the ``dc:`` fields `access` (and the dc: extension declared)."""
    props = {k: v for k, v in (item.get("properties") or {}).items() if k not in DC_FIELDS}
    props.update(access)
    extensions = [e for e in item.get("stac_extensions", []) if e != SCHEMA_URL]
    if access:
        extensions.append(SCHEMA_URL)
    return {**item, "properties": props, "stac_extensions": extensions}


_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def _product_lock(collection_id: str, item_id: str) -> Iterator[None]:
    """Serialise work on one item within this process (two inputs may share an id)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault((collection_id, item_id), threading.Lock())
    with lock:
        yield


_REPLACEABLE = ("title", "platform", "mission", "processing_level")


def apply_overrides(product: Product, overrides: Mapping[str, Any]) -> Product:
    """The product with manifest overrides applied (see `ingest_product`)."""
    if not overrides:
        return product
    changes: dict[str, Any] = {k: overrides[k] for k in _REPLACEABLE if k in overrides}
    if "instruments" in overrides:
        value = overrides["instruments"]
        changes["instruments"] = tuple(value if isinstance(value, list | tuple) else [value])
    for key in ("start", "end"):
        if key in overrides:
            try:
                changes[key] = utc_datetime(overrides[key])
            except ValueError as exc:
                raise InvalidRequest(
                    f"override {key}={overrides[key]!r} for {product.path} is not a time; "
                    "write RFC 3339 such as 2019-01-03T02:26:00Z"
                ) from exc
    extra = {k: v for k, v in overrides.items() if k not in (*_REPLACEABLE, "instruments", "start", "end")}
    changes["extra_properties"] = {**product.extra_properties, **extra}
    return replace(product, **changes)


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


def iter_report_lines(report: IngestReport) -> Iterable[dict[str, Any]]:
    return (r.to_dict() for r in report.results)
