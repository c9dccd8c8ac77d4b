"""The ingest pipeline: product file -> COG in the store + STAC Item in the catalog.

Order of work for one product, chosen so that a failure at any step leaves nothing
half-written: read and check the label, convert to a COG in a private temp folder,
build the item (fails early on a missing time), upload the COG under a content-addressed
key (temp key, checksum read back, then move), and only then write the catalog row.
Assets of a replaced item version are deleted after the new row commits.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.base import Catalog, StacItem
from datacenter.access import SYSTEM
from datacenter.errors import DatacenterError, NotFound
from datacenter.storage import Store
from ingest.cog import write_cog
from ingest.readers import find_reader
from ingest.stac import build_item

if TYPE_CHECKING:
    from distributed import Client

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


def ensure_collection(catalog: Catalog, collection_id: str, title: str | None = None) -> None:
    try:
        coll = catalog.get_collection(collection_id, viewer=SYSTEM)
    except NotFound:
        catalog.upsert_collection(new_collection(collection_id, title))
        return
    if title and coll.get("title") != title:
        catalog.upsert_collection({**coll, "title": title})


def refresh_extent(catalog: Catalog, collection_id: str) -> None:
    coll = catalog.get_collection(collection_id, viewer=SYSTEM)
    catalog.upsert_collection({**coll, "extent": catalog.collection_extent(collection_id, viewer=SYSTEM)})


@dataclass
class BuiltProduct:
    """A product converted and uploaded, not yet in the catalog (what a worker returns)."""

    result: ProductResult
    item: StacItem | None = None
    data_key: str | None = None
    size: int = 0


def build_product(
    path: Path,
    *,
    collection_id: str,
    store: Store,
    datetime_override: datetime | None = None,
) -> BuiltProduct:
    """Read, convert to COG, describe, and upload one product: the part that runs anywhere.

    Runs on a Dask worker as well as here: it needs the store, never the catalog. The COG
    key is content-addressed, so an object already stored under it (an unchanged product,
    or a task re-run after a worker died) is not uploaded again; the upload itself is
    verified and atomic, so a killed worker leaves no partial object.
    """
    started = time.perf_counter()
    result = ProductResult(path=str(path), status="failed")
    built = BuiltProduct(result)
    try:
        product = find_reader(path).read(path)
        result.id = product.id
        with tempfile.TemporaryDirectory(prefix="datacenter-ingest-") as tmp:
            cog = write_cog(product, Path(tmp) / f"{product.id}.tif")
            data_key = f"{collection_id}/{product.id}/{cog.sha256[:16]}/{product.id}.tif"
            built.item = build_item(
                product, cog, collection_id=collection_id, data_key=data_key,
                datetime_override=datetime_override,
            )
            if not store.exists(data_key):
                # Verified (size and SHA-256 read back) before it becomes visible.
                store.put_file(cog.path, data_key, sha256=cog.sha256)
            built.data_key, built.size = data_key, cog.size
    except DatacenterError as exc:
        result.reason = str(exc)
    finally:
        result.seconds = round(time.perf_counter() - started, 3)
    return built


def commit_product(built: BuiltProduct, *, catalog: Catalog, store: Store) -> ProductResult:
    """Write the built product's item to the catalog (here, never on a worker)."""
    result = built.result
    if built.item is None or built.data_key is None or result.id is None:
        return result
    started = time.perf_counter()
    data_key = built.data_key
    try:
        previous = _existing(catalog, built.item["collection"], result.id)
        if previous is not None and _asset_keys(previous) == [data_key]:
            result.status, result.assets = "unchanged", [data_key]
            return result
        try:
            catalog.upsert_items([built.item])
        except BaseException:
            if previous is None or data_key not in _asset_keys(previous):
                store.delete(data_key)
            raise
        if previous is not None:
            for old_key in set(_asset_keys(previous)) - {data_key}:
                store.delete(old_key)
        result.status, result.assets, result.bytes = "ingested", [data_key], built.size
    except DatacenterError as exc:
        result.reason = str(exc)
    finally:
        result.seconds = round(result.seconds + time.perf_counter() - started, 3)
    return result


def ingest_product(
    path: Path,
    *,
    collection_id: str,
    catalog: Catalog,
    store: Store,
    datetime_override: datetime | None = None,
) -> ProductResult:
    """Ingest one product; never raises for a bad product, returns a failed result instead."""
    built = build_product(
        path, collection_id=collection_id, store=store, datetime_override=datetime_override
    )
    return commit_product(built, catalog=catalog, store=store)


def ingest_paths(
    paths: Sequence[Path],
    *,
    collection_id: str,
    catalog: Catalog,
    store: Store,
    collection_title: str | None = None,
    datetime_override: datetime | None = None,
    on_result: Callable[[ProductResult], None] | None = None,
    client: Client | None = None,
) -> IngestReport:
    """Ingest every product in `paths` into `collection_id`; bad products do not stop the batch.

    With a dask.distributed `client`, conversion and upload run on the cluster's workers
    (a task lost with its worker is re-run by the scheduler on another one); catalog
    writes stay in this process. The report keeps the order of `paths`.
    """
    ensure_collection(catalog, collection_id, collection_title)
    results: list[ProductResult | None] = [None] * len(paths)

    def done(index: int, built: BuiltProduct) -> None:
        res = commit_product(built, catalog=catalog, store=store)
        results[index] = res
        if on_result is not None:
            on_result(res)

    if client is None:
        for index, path in enumerate(paths):
            done(index, build_product(path, collection_id=collection_id, store=store,
                                      datetime_override=datetime_override))
    else:
        _run_on_cluster(client, paths, collection_id, store, datetime_override, done)
    report = IngestReport(results=[r for r in results if r is not None])
    if any(r.status == "ingested" for r in report.results):
        refresh_extent(catalog, collection_id)
    return report


def _run_on_cluster(
    client: Client,
    paths: Sequence[Path],
    collection_id: str,
    store: Store,
    datetime_override: datetime | None,
    done: Callable[[int, BuiltProduct], None],
) -> None:
    from distributed import as_completed

    futures = {
        client.submit(build_product, path, collection_id=collection_id, store=store,
                      datetime_override=datetime_override, pure=False, retries=1): index
        for index, path in enumerate(paths)
    }
    for future in as_completed(list(futures), loop=client.loop):
        index = futures[future]
        try:
            built = future.result()
        except Exception as exc:  # KilledWorker, a lost scheduler...: this product failed
            built = BuiltProduct(ProductResult(
                path=str(paths[index]), status="failed",
                reason=f"the Dask cluster could not run it ({type(exc).__name__}: {exc}); "
                       "check the workers' logs and re-run the ingest",
            ))
        done(index, built)


def _existing(catalog: Catalog, collection_id: str, item_id: str) -> StacItem | None:
    try:
        return catalog.get_item(collection_id, item_id, viewer=SYSTEM)
    except NotFound:
        return None


def _asset_keys(item: StacItem) -> list[str]:
    return sorted(a["href"] for a in item.get("assets", {}).values())


def iter_report_lines(report: IngestReport) -> Iterable[dict[str, Any]]:
    return (r.to_dict() for r in report.results)
