"""The original product kept beside its conversion: its files byte for byte, checksummed,
and the identifiers its label gives.

Every item carries, next to the analysis-ready COG or Zarr (role ``data``), one asset per
file of the product as it came in, stored under ``<collection>/<id>/<version>/original/``:

- ``label``: a detached label (PDS4 ``.xml``, PDS3 ``.lbl``, ISIS3 detached label), role
  ``metadata``;
- ``original``: the data file (or ``original-<file name>`` for each when there are
  several), role ``source``; a file that is label and data at once (an attached PDS3
  label, an ISIS3 cube) has roles ``source`` and ``metadata``.

Originals never take the role ``data``, which stays with the analysis-ready asset, so a
client choosing assets by role (and our subset route) reads the conversion. Each original
has ``file:size`` and ``file:checksum`` (SHA-256 multihash), taken in the one pass that also
fingerprints the product (`source_files`), and checked again in the store after upload.

Identifiers: PDS4 labels give ``pds:lid`` and ``pds:lidvid`` (and a ``derived_from`` link
to the LIDVID as a URN, plus a ``via`` link to the NASA PDS Registry API for ``urn:nasa:pds``
products); PDS3 and ISIS3 labels give ``dc:product_id`` (``PRODUCT_ID``, ISIS3
``Archive/ProductId``). Mission, instrument and processing level are the item's
``mission``, ``instruments`` and ``processing:level``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from datacenter.errors import DatacenterError
from datacenter.storage import CHUNK, multihash_sha256
from ingest.product import Product
from ingest.readers.odl import load_label, plain

ORIGINAL_FOLDER = "original"
PDS_REGISTRY = "https://pds.nasa.gov/api/search/1/products/"

_MEDIA_TYPES = {
    ".xml": "application/xml",
    ".lbl": "text/plain",
    ".tif": "image/tiff; application=geotiff",
    ".tiff": "image/tiff; application=geotiff",
    ".csv": "text/csv",
    ".nc": "application/netcdf",
    ".h5": "application/x-hdf5",
    ".hdf5": "application/x-hdf5",
}
_UNSAFE_KEY = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SourceFile:
    """One file of a product as it came in, with its SHA-256 and size."""

    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class StoredOriginal:
    """A source file to upload to `key` (verified against `sha256` in the store)."""

    local: Path
    key: str
    sha256: str
    size: int


def source_files(product: Product) -> list[SourceFile]:
    """Every file of `product`, in name order, each read once for its SHA-256 and size."""
    out = []
    for path in sorted(set(product.files or (product.path,))):
        digest, size = hashlib.sha256(), 0
        with open(path, "rb") as fh:
            while block := fh.read(CHUNK):
                digest.update(block)
                size += len(block)
        out.append(SourceFile(path, digest.hexdigest(), size))
    return out


def original_assets(
    product: Product, files: list[SourceFile], base_key: str
) -> tuple[dict[str, dict[str, Any]], list[StoredOriginal]]:
    """The assets of the original files (by asset key) and what to upload for them."""
    label = product.label
    data_files = [f for f in files if f.path != label]
    assets: dict[str, dict[str, Any]] = {}
    uploads: list[StoredOriginal] = []
    names: set[str] = set()
    for file in files:
        name = _unique(file.path.name, names)
        key = f"{base_key}/{ORIGINAL_FOLDER}/{name}"
        is_label = file.path == label
        if is_label and data_files:
            asset_key, roles, what = "label", ["metadata"], "label"
        elif is_label:
            asset_key, roles, what = "original", ["source", "metadata"], "product (label and data)"
        else:
            asset_key = "original" if len(data_files) == 1 else f"original-{_UNSAFE_KEY.sub('-', name)}"
            roles, what = ["source"], "data file"
        assets[asset_key] = {
            "href": key,
            "type": _MEDIA_TYPES.get(file.path.suffix.lower(), "application/octet-stream"),
            "title": f"original {product.format} {what} {file.path.name}, as received",
            "roles": roles,
            "file:size": file.size,
            "file:checksum": multihash_sha256(file.sha256),
        }
        uploads.append(StoredOriginal(file.path, key, file.sha256, file.size))
    return assets, uploads


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name` with a counter when two files of a product share a base name."""
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{Path(name).stem}-{n}{Path(name).suffix}"
    taken.add(candidate.lower())
    return candidate


def label_identifiers(product: Product) -> dict[str, Any]:
    """The label's own identifiers as item properties (see the module docstring)."""
    extra = product.extra_properties
    if product.format == "PDS4":
        lid = str(extra.get("pds:logical_identifier") or "").split("::")[0]
        vid = extra.get("pds:version_id")
        if not lid:
            return {}
        return {"pds:lid": lid, "pds:lidvid": f"{lid}::{vid}" if vid else None}
    if product.format in ("PDS3", "ISIS3") and product.label is not None:
        product_id = _pvl_product_id(product.label, product.format)
        return {"dc:product_id": product_id} if product_id else {}
    return {}


def _pvl_product_id(label: Path, fmt: str) -> str | None:
    try:
        parsed = load_label(label, fmt)
    except DatacenterError:
        return None
    if fmt == "ISIS3":
        archive = (parsed.get("IsisCube") or {}).get("Archive") or {}
        value = archive.get("ProductId")
    else:
        value = parsed.get("PRODUCT_ID")
    text = str(plain(value)).strip().strip('"').strip() if value is not None else ""
    return text if text and text.upper() not in ("N/A", "NULL", "UNK") else None


def provenance_links(identifiers: dict[str, Any]) -> list[dict[str, Any]]:
    """``derived_from`` the archive product (a PDS4 LIDVID as a URN) and, for NASA PDS
    products, ``via`` its record in the PDS Registry API."""
    lidvid = identifiers.get("pds:lidvid") or identifiers.get("pds:lid")
    if not lidvid:
        return []
    links = [{"rel": "derived_from", "href": lidvid,
              "title": f"the archive product {lidvid}, kept as this item's original assets"}]  # fmt: skip
    if lidvid.lower().startswith("urn:nasa:pds:"):
        links.append({"rel": "via", "href": PDS_REGISTRY + quote(lidvid, safe=":"),
                      "type": "application/json", "title": f"{lidvid} in the NASA PDS Registry"})  # fmt: skip
    return links
