"""Publication of one product's outputs: fingerprints, conversion, upload, verification, sweep.

Store layout of a product: ``<collection>/<item id>/<version>/<item id>.tif`` (a COG) or
``.../<item id>.zarr/`` (a Zarr folder), and the files of the product as it came in under
``.../<version>/original/`` (`ingest.provenance`), where `version` is the first 16 hex digits of
the product's *fingerprint*: SHA-256 over its source files, the ingest options that shape
its item (overrides, `--datetime`) and the software version. The same input gives the
same key, so a re-run finds its item already published and writes nothing; a changed
input gets a new version folder next to the old one, and the old one goes only after
the catalog row points at the new.

`sweep_product` deletes what a killed run can leave under a product's folder: temporary
keys (``.tmp-*``) and version folders that the catalog row does not reference.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from catalog.base import StacItem
from datacenter import __version__
from datacenter.errors import NotFound, StorageError
from datacenter.storage import Store
from ingest.cog import write_cog
from ingest.product import ArrayProduct, Product
from ingest.provenance import (
    SourceFile,
    StoredOriginal,
    label_identifiers,
    original_assets,
    provenance_links,
    source_files,
)
from ingest.quicklook import write_quicklooks
from ingest.stac import build_item, quicklook_asset

FINGERPRINT = "dc:source_sha256"


@dataclass(frozen=True)
class Output:
    """One converted product in a local temp folder, described by its item, not yet stored."""

    local: Path
    key: str
    sha256: str  # of the file, or the manifest of the folder
    size: int
    folder: bool
    item: StacItem
    #: files stored beside the main one (quicklooks): local path, store key, SHA-256, size
    extras: tuple[tuple[Path, str, str, int], ...] = ()
    originals: tuple[StoredOriginal, ...] = ()

    @property
    def keys(self) -> list[str]:
        """Every store key this output writes: the conversion, its quicklooks and the
        original files."""
        return [self.key, *(extra[1] for extra in self.extras), *(o.key for o in self.originals)]

    @property
    def stored_bytes(self) -> int:
        """Bytes written to the store: the conversion, its quicklooks and the originals."""
        return self.size + sum(extra[3] for extra in self.extras) + sum(o.size for o in self.originals)


def fingerprint(files: list[SourceFile], options: Mapping[str, Any]) -> str:
    """SHA-256 over the product's source files (name and SHA-256 of each, from
    `ingest.provenance.source_files`), the item-shaping options and our version."""
    digest = hashlib.sha256(f"lunar-datacenter {__version__}\n".encode())
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    for file in files:
        digest.update(f"\n{file.path.name}\n{file.sha256}\n".encode())
    return digest.hexdigest()


def convert(
    product: Product, tmp: Path, *, collection_id: str, version: str,
    datetime_override: datetime | None, files: list[SourceFile] | None = None,
) -> Output:  # fmt: skip
    """Convert `product` into `tmp` (COG or Zarr) and build its item, with the original
    files (`files`, default: read now) as assets beside it; nothing is stored yet."""
    base = f"{collection_id}/{product.id}/{version}"
    out = _convert(product, tmp, base, collection_id=collection_id, datetime_override=datetime_override)
    assets, uploads = original_assets(product, files if files is not None else source_files(product), base)
    item = out.item
    item["assets"].update({k: v for k, v in assets.items() if k not in item["assets"]})
    identifiers = {k: v for k, v in label_identifiers(product).items() if v is not None}
    for key, value in identifiers.items():
        item["properties"].setdefault(key, value)
    item["links"].extend(provenance_links(identifiers))
    return replace(out, originals=tuple(uploads))


def _convert(
    product: Product, tmp: Path, base: str, *, collection_id: str, datetime_override: datetime | None
) -> Output:
    if isinstance(product, ArrayProduct):
        # imported here: xarray, dask.array and zarr are ~0.7 s of every CLI start otherwise
        from ingest.datacube import build_zarr_item
        from ingest.zarr_writer import open_written, write_zarr

        key = f"{base}/{product.id}.zarr"
        zres = write_zarr(product, tmp / f"{product.id}.zarr")
        ds = open_written(zres.path)
        try:
            item = build_zarr_item(product, zres, ds, collection_id=collection_id, data_key=key,
                                   datetime_override=datetime_override)  # fmt: skip
        finally:
            ds.close()
        return Output(zres.path, key, zres.sha256, zres.size, True, item)
    key = f"{base}/{product.id}.tif"
    cog = write_cog(product, tmp / f"{product.id}.tif")
    item = build_item(product, cog, collection_id=collection_id, data_key=key,
                      datetime_override=datetime_override)  # fmt: skip
    extras = []
    for look in write_quicklooks(cog.path, tmp, cog.units):
        look_key = f"{base}/{look.path.name}"
        item["assets"][look.role] = quicklook_asset(look, look_key)
        extras.append((look.path, look_key, look.sha256, look.size))
    return Output(cog.path, key, cog.sha256, cog.size, False, item, tuple(extras))


def upload_verified(store: Store, out: Output) -> None:
    """Put the output at its keys (temp key, then move each) and re-read the checksums from
    the store: the original files first, then the conversion."""
    for original in out.originals:
        store.put_file(original.local, original.key, sha256=original.sha256)
    if out.folder:
        store.put_dir(out.local, out.key)
        stored, _ = store.sha256_tree(out.key)
    else:
        store.put_file(out.local, out.key)
        stored = store.sha256(out.key)
    pending = [(out.key, stored, out.sha256)]
    for local, key, sha256, _ in out.extras:
        store.put_file(local, key)
        pending.append((key, store.sha256(key), sha256))
    for key, stored, written in pending:
        if stored != written:
            for done in out.keys:
                store.delete(done)
            raise StorageError(
                f"{key}: the checksum read back from the store ({stored[:16]}...) differs from the "
                f"one written ({written[:16]}...); nothing was published: check the store and re-run"
            )


def asset_keys(item: StacItem | None) -> list[str]:
    return sorted(a["href"] for a in ((item or {}).get("assets") or {}).values())


def assets_present(store: Store, item: StacItem) -> bool:
    """Every asset of `item` is in the store with the size the item records (a cheap check)."""
    for asset in (item.get("assets") or {}).values():
        key, size = asset["href"], asset.get("file:size")
        try:
            if asset.get("type", "").startswith("application/vnd+zarr"):
                keys = store.list_keys(key)
                if not keys or sum(store.info(k).size for k in keys) != size:
                    return False
            elif store.info(key).size != size:
                return False
        except NotFound:
            return False
    return True


def sweep_product(store: Store, collection_id: str, item_id: str, keep: list[str]) -> list[str]:
    """Delete temp keys and unreferenced version folders under the product's folder."""
    root = f"{collection_id}/{item_id}"
    removed: list[str] = []
    kept_versions = {k.split("/")[2] for k in keep if k.startswith(root + "/") and k.count("/") >= 3}
    for key in store.list_keys(root):
        rel = key[len(root) + 1:].split("/")
        version = rel[0]
        if version not in kept_versions:
            target = f"{root}/{version}"
        elif any(part.startswith(".tmp-") for part in rel):
            first_tmp = next(i for i, p in enumerate(rel) if p.startswith(".tmp-"))
            target = posixpath.join(root, *rel[: first_tmp + 1])
        else:
            continue
        if target not in removed:
            store.delete(target)
            removed.append(target)
    return removed


def local_tmp() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="datacenter-ingest-")
