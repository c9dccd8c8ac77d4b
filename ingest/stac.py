"""Describe a product and its COG as a STAC 1.1.0 Item (a plain dict, validated offline)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from datacenter import STAC_VERSION, __version__
from datacenter.errors import MissingDatetime
from datacenter.storage import multihash_sha256
from ingest.cog import CogResult
from ingest.crs import gsd_metres, projection_fields
from ingest.footprint import footprint
from ingest.product import ArrayProduct, RasterProduct
from ingest.quicklook import Quicklook
from ingest.readers.label_footprint import geometry_bbox
from ingest.vocabulary import vocabulary_fields

PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
FILE = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
PROCESSING = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
SSYS = "https://stac-extensions.github.io/ssys/v1.1.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
VIEW = "https://stac-extensions.github.io/view/v1.1.0/schema.json"
SAT = "https://stac-extensions.github.io/sat/v1.0.0/schema.json"
#: extensions an item names only when it carries one of their fields
OPTIONAL_EXTENSIONS = {"view:": VIEW, "sat:": SAT}
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"

#: ssys:target_class of the bodies we meet; unknown bodies get none
TARGET_CLASSES = {"moon": "satellite", "mars": "planet", "mercury": "planet", "earth": "planet",
                  "venus": "planet", "phobos": "satellite", "deimos": "satellite"}  # fmt: skip

_RASTER_TYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "cint16", "cint32", "cfloat32", "cfloat64"}  # fmt: skip


def build_item(
    product: RasterProduct,
    cog: CogResult,
    *,
    collection_id: str,
    data_key: str,
    datetime_override: datetime | None = None,
) -> dict[str, Any]:
    """A STAC 1.1.0 Item for `product`, whose pixels are the COG `cog` stored at `data_key`.

    Times: the product's start/end (a range gives start_datetime/end_datetime, and datetime
    its start); `datetime_override` only for a product that carries neither. Neither raises
    MissingDatetime.

    A COG without a CRS (a raw or calibrated camera image) gets `proj:code: null`, no
    `proj:shape` / `proj:transform` (pixel indices are not map coordinates), and the
    footprint its label gives, or `geometry: null` and no bbox when it gives none.
    """
    if cog.crs is not None:
        geometry, bbox = footprint(cog.crs, cog.transform, cog.width, cog.height)
    else:
        geometry, bbox = product.geometry, geometry_bbox(product.geometry)
    properties = product_properties(product, datetime_override, **_projection(cog))
    return stac_feature(
        item_id=product.id,
        collection_id=collection_id,
        extensions=[PROJECTION, FILE, PROCESSING, SSYS, RASTER],
        geometry=geometry,
        bbox=bbox,
        properties=properties,
        assets={
            "data": {
                "href": data_key,
                "type": COG_MEDIA_TYPE,
                "title": f"{product.format} product {product.path.name} as a Cloud-Optimized GeoTIFF",
                "roles": ["data"],
                "file:size": cog.size,
                "file:checksum": multihash_sha256(cog.sha256),
                "raster:bands": _raster_bands(cog),
            }
        },
    )


def quicklook_asset(look: Quicklook, key: str) -> dict[str, Any]:
    """The `thumbnail` or `overview` asset of a rendered quicklook stored at `key`."""
    what = "small preview" if look.role == "thumbnail" else "preview"
    return {
        "href": key,
        "type": "image/png",
        "title": f"{what} ({look.shape[1]} x {look.shape[0]} px, on the product's grid)",
        "roles": [look.role],
        "file:size": look.size,
        "file:checksum": multihash_sha256(look.sha256),
    }


def stac_feature(
    *,
    item_id: str,
    collection_id: str,
    extensions: list[str],
    geometry: dict[str, Any] | None,
    bbox: Any,
    properties: dict[str, Any],
    assets: dict[str, Any],
) -> dict[str, Any]:
    """The STAC Item envelope shared by COG and Zarr items.

    Unset properties are dropped, except `datetime` and `proj:code`, whose null is meaningful
    (a time range; a CRS with no authority code). The collection link is relative: the API
    rewrites links and asset hrefs into its own URLs. A null geometry has no bbox.
    """
    feature = {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": extensions,
        "id": item_id,
        "collection": collection_id,
        "geometry": geometry,
        "bbox": list(bbox) if bbox is not None else None,
        "properties": {
            k: v for k, v in properties.items() if v is not None or k in ("datetime", "proj:code")
        },
        "links": [
            {"rel": "collection", "href": f"/collections/{collection_id}", "type": "application/json"}
        ],
        "assets": assets,
    }
    if bbox is None:
        del feature["bbox"]
    for prefix, url in OPTIONAL_EXTENSIONS.items():
        if url not in extensions and any(k.startswith(prefix) for k in feature["properties"]):
            feature["stac_extensions"] = [*feature["stac_extensions"], url]
    return feature


def product_properties(
    product: RasterProduct | ArrayProduct, datetime_override: datetime | None, **specific: Any
) -> dict[str, Any]:
    """Item properties every product kind shares (times, platform, instruments, mission,
    processing, targets, `created`, the reader's extras), with `specific` ones in between."""
    return {
        **_time_properties(product, datetime_override),
        "title": product.title,
        **vocabulary_fields(product.platform, product.instruments, product.mission),
        "processing:level": product.processing_level,
        "processing:software": {"lunar-datacenter": __version__},
        "ssys:targets": list(product.targets) or None,
        **specific,
        "created": _iso(datetime.now(UTC)),
        **{k: v for k, v in product.extra_properties.items() if not k.startswith(("ssys:", "proj:"))},
    }


def takes_datetime_option(product: RasterProduct | ArrayProduct, override: datetime | None) -> bool:
    """True when `--datetime` dates this product: given, and the label carries no time.

    A label's own time always wins: `--datetime` only fills products that have none."""
    return override is not None and product.start is None and product.end is None


def check_dated(product: RasterProduct | ArrayProduct, override: datetime | None) -> None:
    """MissingDatetime now, before conversion, for a product its item could not date."""
    _time_properties(product, override)


def _time_properties(product: RasterProduct | ArrayProduct, override: datetime | None) -> dict[str, Any]:
    if takes_datetime_option(product, override):
        assert override is not None
        when = override if override.tzinfo else override.replace(tzinfo=UTC)
        return {"datetime": _iso(when)}
    start, end = product.start, product.end
    if start is None and end is None:
        raise MissingDatetime(
            f"{product.format} product {product.path} carries no acquisition time (found no "
            "start/stop time in its label or metadata); expected one to date the item: pass "
            "--datetime YYYY-MM-DDTHH:MM:SSZ"
        )
    if start is None or end is None or start == end:
        return {"datetime": _iso(start or end)}  # type: ignore[arg-type]
    start, end = min(start, end), max(start, end)
    # `datetime` is the start, not null: STAC allows either beside a range, and clients sort,
    # stack and label by `datetime` (stackstac, STAC Browser, pystac's Item.datetime,
    # stac-api-validator's sort checks); searches still match the whole range.
    return {"datetime": _iso(start), "start_datetime": _iso(start), "end_datetime": _iso(end)}


def target_class(targets: tuple[str, ...]) -> str | None:
    """The ssys target class ("satellite" for the Moon) when all targets share one.

    Not written into items: the published ssys v1.1.0 JSON schema allows only
    `ssys:targets` and `ssys:local_time` and rejects any other `ssys:*` field, so an item
    carrying `ssys:target_class` fails validation.
    """
    classes = {TARGET_CLASSES.get(t.lower()) for t in targets} - {None}
    return classes.pop() if len(classes) == 1 else None


def _projection(cog: CogResult) -> dict[str, Any]:
    if cog.crs is None:  # not map-projected: no CRS, and pixel indices are no map transform
        return {"proj:code": None}
    fields = projection_fields(cog.crs)
    t = cog.transform
    fields["gsd"] = gsd_metres(cog.crs, t.a, t.e)
    west, north = t.c, t.f
    east, south = t @ (cog.width, cog.height)
    fields.update(
        {
            "proj:shape": [cog.height, cog.width],
            "proj:transform": [t.a, t.b, t.c, t.d, t.e, t.f],
            "proj:bbox": [min(west, east), min(south, north), max(west, east), max(south, north)],
        }
    )
    return fields


def _raster_bands(cog: CogResult) -> list[dict[str, Any]]:
    bands = []
    for i in range(cog.count):
        band: dict[str, Any] = {}
        if cog.dtype in _RASTER_TYPES:
            band["data_type"] = cog.dtype
        if cog.nodata is not None:
            band["nodata"] = _json_number(cog.nodata)
        scale = cog.scales[i] if i < len(cog.scales) else 1.0
        offset = cog.offsets[i] if i < len(cog.offsets) else 0.0
        if scale != 1.0 or offset != 0.0:
            band["scale"], band["offset"] = scale, offset
        unit = cog.units[i] if i < len(cog.units) else None
        if unit:
            band["unit"] = unit
        bands.append(band)
    return bands


def _json_number(value: float) -> float | int | str:
    """nodata as JSON: integers stay integers, NaN/inf become the raster extension's strings."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return int(value) if float(value).is_integer() else float(np.float64(value))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
