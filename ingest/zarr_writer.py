"""Write an `ArrayProduct` as a Zarr (format 3) store: chunked, zstd-compressed, CF-described.

    result = write_zarr(product, Path(tmp) / f"{product.id}.zarr")

Values are copied exactly (lossless zstd, no packing added, source dtypes kept); chunks
follow `ingest.chunking`; the CRS of map-projected products goes into a `spatial_ref`
grid-mapping coordinate (CF attributes from pyproj plus `crs_wkt` in WKT2) named by every
variable on x/y in its `grid_mapping` attribute. Metadata are consolidated into the root
`zarr.json`, so one request opens the store. Writing streams chunk by chunk through dask,
so memory stays a few chunks whatever the product size. Each object is hashed (SHA-256) as
it is handed to the store, so the manifest checksum costs no second read of the output.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
import warnings
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import dask
import numpy as np
import xarray as xr
import zarr
from zarr.codecs import ZstdCodec
from zarr.core.buffer import Buffer
from zarr.storage import LocalStore

from datacenter import __version__
from datacenter.errors import CorruptProduct, DiskFull
from datacenter.storage import DISK_FULL, tree_sha256
from ingest.chunking import dataset_chunks
from ingest.crs import lunar_proj_code
from ingest.product import ArrayProduct

ZARR_MEDIA_TYPE = "application/vnd+zarr; version=3"
GRID_MAPPING = "spatial_ref"
ZSTD_LEVEL = 3
_KEEP_ENCODING = ("units", "calendar", "dtype", "_FillValue", "scale_factor", "add_offset")


@dataclass(frozen=True)
class ZarrResult:
    path: Path
    size: int
    sha256: str  # manifest checksum (datacenter.storage.tree_sha256)


class HashingStore(LocalStore):
    """A local Zarr store that records the SHA-256 and size of every object it writes.

    The digests are taken from the bytes handed to the file (in a worker thread, like the
    write itself), so `manifest` equals `tree_sha256` of the folder without reading it back.
    """

    def __init__(self, root: Path | str, *, read_only: bool = False,
                 digests: dict[str, tuple[str, int]] | None = None) -> None:  # fmt: skip
        super().__init__(root, read_only=read_only)
        self.digests: dict[str, tuple[str, int]] = {} if digests is None else digests

    def with_read_only(self, read_only: bool = False) -> HashingStore:
        return type(self)(self.root, read_only=read_only, digests=self.digests)

    async def set(self, key: str, value: Buffer) -> None:
        await super().set(key, value)
        self.digests[key] = (await asyncio.to_thread(_sha256, value), len(value))

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        if not await self.exists(key):
            await self.set(key, value)

    async def delete(self, key: str) -> None:
        await super().delete(key)
        self._forget(key)

    async def delete_dir(self, prefix: str) -> None:
        await super().delete_dir(prefix)
        self._forget(prefix)

    def _forget(self, prefix: str) -> None:
        for key in [k for k in self.digests if k == prefix or k.startswith(prefix.rstrip("/") + "/")]:
            del self.digests[key]

    def manifest(self) -> tuple[str, int] | None:
        """(manifest SHA-256, total bytes) as `tree_sha256` computes them, or None when the
        files on disk are not exactly the objects this store wrote (then re-read them)."""
        on_disk = {p.relative_to(self.root).as_posix(): p.stat().st_size for p in self.root.rglob("*") if p.is_file()}
        if on_disk != {k: size for k, (_, size) in self.digests.items()}:
            return None
        lines = "".join(f"{key}\t{self.digests[key][0]}\n" for key in sorted(self.digests))
        return hashlib.sha256(lines.encode()).hexdigest(), sum(on_disk.values())


def _sha256(value: Buffer) -> str:
    return hashlib.sha256(value.as_buffer_like()).hexdigest()


def prepare_dataset(product: ArrayProduct) -> xr.Dataset:
    """The product's dataset as it will be written: rule chunks, CF grid mapping, attrs."""
    ds = product.open_dataset()
    has_mapping = any("grid_mapping" in v.attrs for v in ds.data_vars.values())
    if product.crs is not None and {"x", "y"} <= set(ds.dims) and not has_mapping:
        cf = product.crs.to_cf()
        cf["crs_wkt"] = product.crs.to_wkt("WKT2_2019")
        code = lunar_proj_code(product.crs)
        if code:
            cf["proj_code"] = code
        ds = ds.assign_coords({GRID_MAPPING: xr.DataArray(np.int32(0), attrs=cf)})
        for name, var in ds.data_vars.items():
            if {"x", "y"} <= set(var.dims):
                ds[name].attrs["grid_mapping"] = GRID_MAPPING
    history = f"converted to Zarr by lunar-datacenter {__version__}"
    ds.attrs["history"] = f"{ds.attrs['history']}\n{history}" if ds.attrs.get("history") else history
    for key, value in {
        "Conventions": "CF-1.10", "title": product.title or product.id,
        "source": f"{product.format} product {product.path.name}", "platform": product.platform,
        "instrument": ", ".join(product.instruments) or None, "project": product.mission,
    }.items():  # fmt: skip
        if value and key not in ds.attrs:
            ds.attrs[key] = value
    for name in list(ds.variables):
        var = ds[name]
        old = var.encoding
        var.encoding = {k: old[k] for k in _KEEP_ENCODING if k in old}
        if var.ndim == 0:
            continue
        chunks = dataset_chunks(ds.sizes, var.dims, var.dtype.itemsize)
        if name in ds.data_vars:
            ds[name] = var.chunk(chunks)
            ds[name].encoding = {**var.encoding, "chunks": tuple(chunks.values()),
                                 "compressors": (ZstdCodec(level=ZSTD_LEVEL),)}  # fmt: skip
        else:
            var.encoding["compressors"] = (ZstdCodec(level=ZSTD_LEVEL),)
    return ds


def write_zarr(product: ArrayProduct, out_path: Path, *, scheduler: str = "threads") -> ZarrResult:
    """Write `product` as a consolidated Zarr v3 store at `out_path` (a folder), atomically.

    A product whose values cannot be read in full (truncated file, unreadable variable)
    raises CorruptProduct and leaves nothing at `out_path`.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".tmp-{uuid.uuid4().hex}-{out_path.name}")
    try:
        ds = prepare_dataset(product)
        with dask.config.set(scheduler=scheduler), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            store = HashingStore(tmp)
            ds.to_zarr(store, mode="w-", zarr_format=3, consolidated=True)
        manifest = store.manifest()
        if out_path.exists():
            shutil.rmtree(out_path)
        os.replace(tmp, out_path)
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise DiskFull(
                f"no space left in the temporary folder {tmp.parent.parent} while writing the Zarr "
                f"store of {product.path} ({exc.strerror}); free space there or point TMPDIR at a "
                "larger disk, then re-run (the product itself is fine)"
            ) from exc
        raise CorruptProduct(
            f"could not read every value of {product.format} product {product.path} into Zarr: "
            f"{exc}. The file is truncated or disagrees with its label: re-download the product"
        ) from exc
    except (ValueError, TypeError, EOFError) as exc:
        raise CorruptProduct(
            f"could not read every value of {product.format} product {product.path} into Zarr: "
            f"{exc}. The file is truncated or disagrees with its label: re-download the product"
        ) from exc
    finally:
        with suppress(FileNotFoundError):
            shutil.rmtree(tmp)
    sha, size = manifest or tree_sha256(out_path)
    return ZarrResult(path=out_path, size=size, sha256=sha)


def open_written(path: Path | str) -> xr.Dataset:
    """Open a store written by `write_zarr` (consolidated, lazily)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        return xr.open_zarr(str(path), consolidated=True, zarr_format=3)


def zarr_format_of(path: Path | str) -> int:
    return int(zarr.open_group(str(path), mode="r").metadata.zarr_format)

