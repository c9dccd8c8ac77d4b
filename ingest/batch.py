"""Batch ingest: many products in parallel, with a report line per product.

    entries = expand_inputs(["data/", "more/*.xml"], collection="lunar-cubes")
    entries += read_manifest(Path("tonight.jsonl"))
    report = run_batch(entries, settings=settings, catalog=catalog, on_result=print)

Each product is one task (`datacenter.compute.batch_executor`: worker processes, threads or
a Dask cluster) running `ingest.pipeline.ingest_product` (idempotent and atomic on its own),
so the batch survives a bad product and a re-run after a kill only
does what is missing. Collections named by the entries are created first; their extent
and summaries are refreshed as items arrive.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from catalog import open_catalog
from catalog.base import Catalog
from datacenter.compute import BatchExecutor, batch_executor
from datacenter.errors import InvalidRequest, NotFound
from datacenter.settings import Settings
from datacenter.storage import Store, s3_filesystem
from ingest.collections import ensure_collection, refresh_collection
from ingest.gdal_cache import cap_block_cache
from ingest.pipeline import (
    IngestReport,
    ProductResult,
    collection_exists,
    drop_if_empty,
    ingest_product,
    unexpected_reason,
)
from ingest.readers import discover


@dataclass(frozen=True)
class Entry:
    """One product to ingest: its entry file, its collection, and metadata overrides."""

    path: Path
    collection: str
    overrides: Mapping[str, Any] = field(default_factory=dict)


def expand_inputs(args: Iterable[str], *, collection: str | None, cache: Path | None = None,
                  settings: Settings | None = None) -> list[Entry]:
    """Files, folders, globs and `s3://` prefixes into entries of `collection` (prefixes are
    read through the S3 endpoint and region of `settings`)."""
    args = list(args)
    if args and collection is None:
        raise InvalidRequest(
            "products given on the command line need a collection: pass --collection ID "
            "(or name a collection per product in a --manifest)"
        )
    local = [a for a in args if not a.startswith("s3://")]
    for prefix in (a for a in args if a.startswith("s3://")):
        local.append(str(fetch_s3_prefix(prefix, cache or Path(tempfile.mkdtemp(prefix="datacenter-s3-")),
                                         settings=settings)))
    return [Entry(p, collection) for p in discover(local)] if local else []  # type: ignore[arg-type]


def fetch_s3_prefix(prefix: str, cache: Path, *, settings: Settings | None = None) -> Path:
    """Copy every object under an `s3://` prefix into `cache`, keeping relative paths (labels
    find their data files beside them); returns the local folder. The S3 server is that of
    `settings` (``DATACENTER_S3_ENDPOINT_URL``, ``DATACENTER_S3_REGION``; default: AWS)."""
    settings = settings or Settings()
    # requests bounded by DATACENTER_STORE_TIMEOUT, as the store's (`datacenter.storage`)
    fs = s3_filesystem(settings.s3_endpoint_url, settings.s3_region, settings.store_timeout)
    root = prefix.removeprefix("s3://").rstrip("/")
    keys = fs.find(root)
    if not keys:
        raise NotFound(f"the prefix {prefix!r} holds no object: check the bucket and prefix")
    target = cache / root.replace("/", "_")
    for key in keys:
        dest = target / key[len(root) + 1:]
        dest.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(key, str(dest))
    return target


def read_manifest(path: Path, *, default_collection: str | None = None) -> list[Entry]:
    """A manifest as entries: CSV with a header (`path`, `collection`, any other column is an
    override) or JSON lines (`{"path", "collection", "overrides": {...}}`; other keys are
    overrides too). Relative paths are taken from the manifest's folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NotFound(f"cannot read the manifest {path}: {exc}") from exc
    rows: list[dict[str, Any]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidRequest(f"manifest {path} line {n} is not JSON ({exc}); expected one object a line") from exc
            overrides = dict(row.pop("overrides", None) or {})
            rows.append({**overrides, **row})
    else:
        rows = [{k: v for k, v in r.items() if v not in (None, "")} for r in csv.DictReader(text.splitlines())]
    entries = []
    for n, row in enumerate(rows, start=1):
        file = row.pop("path", None)
        coll = row.pop("collection", None) or default_collection
        if not file or not coll:
            raise InvalidRequest(
                f"manifest {path} entry {n} lacks a {'path' if not file else 'collection'}; expected "
                "path and collection for every product (or pass --collection for all)"
            )
        full = Path(file) if Path(file).is_absolute() else path.parent / file
        for found in discover([str(full)]):
            entries.append(Entry(found, coll, row))
    return entries


@lru_cache(maxsize=8)
def _catalog(url: str) -> Catalog:
    return open_catalog(url)


def _task(
    entry: Entry, settings: Settings, datetime_override: datetime | None, access: dict[str, Any]
) -> ProductResult:
    """One product, on a batch worker (process, thread or Dask worker): its own catalog
    handle (cached per URL) and store."""
    cap_block_cache(settings.ingest_gdal_cache_mib)
    return ingest_product(
        entry.path, collection_id=entry.collection, catalog=_catalog(settings.resolved_catalog_url),
        store=Store.from_settings(settings), datetime_override=datetime_override,
        overrides=entry.overrides, access=access,
    )  # fmt: skip


#: seconds between collection refreshes (extent, summaries, item_assets) during a batch: one
#: refresh per item cost 23 ms each on SQLite (a 55-product batch: 1.5 s of 13 s)
REFRESH_EVERY = 2.0


def run_batch(
    entries: list[Entry],
    *,
    settings: Settings,
    catalog: Catalog,
    datetime_override: datetime | None = None,
    workers: int | None = None,
    on_result: Callable[[ProductResult], None] | None = None,
    access: dict[str, Any] | None = None,
    titles: Mapping[str, str] | None = None,
    executor: BatchExecutor | None = None,
) -> IngestReport:
    """Ingest every entry in parallel; results arrive (and `on_result` runs) as they finish.

    `executor`: where the products run (`datacenter.compute.batch_executor`, opened before
    the catalog to get worker processes); by default `workers` threads, or the configured
    Dask scheduler.

    `access`: ``dc:`` fields from the command line (`datacenter.access.fields_from_options`);
    they become a new collection's defaults (with ``DATACENTER_DEFAULT_OWNER`` as its owner
    when they name none) and narrow an existing one's for these items. `titles`: collection
    titles, set on creation or changed. A collection this batch created and wrote no item
    into is deleted again, so a failed ingest leaves no empty collection behind."""
    report = IngestReport()
    if not entries:
        return report
    names = list(dict.fromkeys(e.collection for e in entries))
    created = [coll for coll in names if not collection_exists(catalog, coll)]
    item_access = {
        coll: ensure_collection(catalog, coll, (titles or {}).get(coll), access,
                                default_owner=settings.default_owner or None)
        for coll in names
    }
    try:
        if executor is None:
            with batch_executor(settings, workers=workers) as own:
                _run(entries, report, executor=own, catalog=catalog, settings=settings,
                     datetime_override=datetime_override, on_result=on_result, item_access=item_access)
        else:
            _run(entries, report, executor=executor, catalog=catalog, settings=settings,
                 datetime_override=datetime_override, on_result=on_result, item_access=item_access)
    finally:
        for coll in created:
            drop_if_empty(catalog, coll)
    return report


def _run(
    entries: list[Entry], report: IngestReport, *, executor: BatchExecutor, settings: Settings,
    catalog: Catalog, datetime_override: datetime | None,
    on_result: Callable[[ProductResult], None] | None, item_access: Mapping[str, dict[str, Any]],
) -> None:  # fmt: skip
    pending: dict[str, list[str]] = {}  # collection -> items ingested since its last refresh
    last = time.monotonic()

    def refresh() -> None:
        nonlocal last
        for collection_id, item_ids in pending.items():
            refresh_collection(catalog, collection_id, item_ids)
        pending.clear()
        last = time.monotonic()

    futures = [executor.submit(_task, e, settings, datetime_override, item_access[e.collection]) for e in entries]
    by_future = dict(zip(futures, entries, strict=True))
    try:
        for future in executor.as_completed(futures):
            entry = by_future[future]
            try:
                res = future.result()
            except BrokenExecutor:  # a worker process died (a crash in GDAL, the OOM killer)
                res = ProductResult(path=str(entry.path), status="failed", reason=(
                    f"{entry.path}: a batch worker process died while this product ran or waited "
                    "(a crash, or killed for memory); re-run the batch: what went in is skipped, "
                    "and a product that fails again alone is the one to report"))
            except Exception as exc:  # a bug or a worker lost: the product failed, the batch goes on
                res = ProductResult(path=str(entry.path), status="failed",
                                    reason=unexpected_reason(entry.path, "this", exc))
            report.results.append(res)
            if res.status == "ingested":
                pending.setdefault(entry.collection, []).append(res.id)
            if time.monotonic() - last > REFRESH_EVERY:
                refresh()
            if on_result is not None:
                on_result(res)
    finally:  # extents and summaries follow every item that went in, at the latest here
        refresh()
