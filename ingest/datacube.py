"""Describe an array product and its Zarr store as a STAC Item with the datacube extension.

`cube:dimensions`: x/y as horizontal spatial dimensions with the CRS in WKT2 (never the
extension's EPSG:4326 default), `time` as temporal with its ISO extent, every other
dimension (band wavelengths, radar sample time, spectrometer channel, record number) as
an additional dimension with its extent, step and unit. `cube:variables`: every data
variable with its dimensions, unit and description; coordinates other than the
dimensions' own (lon/lat of a traverse) as auxiliary variables.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
import xarray as xr
from affine import Affine
from shapely.geometry import shape

from ingest.crs import projection_fields
from ingest.footprint import footprint
from ingest.product import ArrayProduct
from ingest.stac import FILE, PROCESSING, PROJECTION, SSYS, _iso, product_properties, stac_feature
from ingest.zarr_writer import GRID_MAPPING, ZARR_MEDIA_TYPE, ZarrResult

DATACUBE = "https://stac-extensions.github.io/datacube/v2.2.0/schema.json"
_SPATIAL_AXES = {"x": "x", "y": "y"}


def build_zarr_item(
    product: ArrayProduct,
    zres: ZarrResult,
    ds: xr.Dataset,
    *,
    collection_id: str,
    data_key: str,
    datetime_override: datetime | None = None,
) -> dict[str, Any]:
    """A STAC 1.1.0 Item for `product` written to the Zarr store `zres` (opened as `ds`)."""
    geometry, bbox = item_geometry(product, ds)
    properties = product_properties(
        product, datetime_override, **_projection(product),
        **{"cube:dimensions": cube_dimensions(ds, product), "cube:variables": cube_variables(ds)},
    )
    return stac_feature(
        item_id=product.id,
        collection_id=collection_id,
        extensions=[DATACUBE, PROJECTION, FILE, PROCESSING, SSYS],
        geometry=geometry,
        bbox=bbox,
        properties=properties,
        assets={
            "zarr": {
                "href": data_key,
                "type": ZARR_MEDIA_TYPE,
                "title": f"{product.format} product {product.path.name} as a Zarr store",
                "roles": ["data"],
                "file:size": zres.size,
                "dc:manifest_sha256": zres.sha256,
                "xarray:open_kwargs": {"engine": "zarr", "consolidated": True},
            }
        },
    )


def item_geometry(product: ArrayProduct, ds: xr.Dataset) -> tuple[dict[str, Any], tuple[float, ...]]:
    """The footprint: the reader's lon/lat geometry, else the map footprint from x/y and CRS."""
    if product.geometry is not None:
        geom = shape(product.geometry)
        return dict(json.loads(shapely.to_geojson(geom))), tuple(float(v) for v in shapely.bounds(geom))
    if product.crs is not None and {"x", "y"} <= set(ds.dims):
        transform = grid_transform(ds)
        geom_dict, bbox = footprint(product.crs, transform, ds.sizes["x"], ds.sizes["y"])
        return geom_dict, bbox
    raise ValueError(f"{product.id}: no geometry and no map coordinates")


def grid_transform(ds: xr.Dataset) -> Affine:
    """The affine transform of the pixel *edges* from x/y pixel-centre coordinates."""
    x, y = ds["x"].values, ds["y"].values
    dx = float(x[1] - x[0]) if x.size > 1 else 1.0
    dy = float(y[1] - y[0]) if y.size > 1 else -1.0
    return Affine(dx, 0.0, float(x[0]) - dx / 2, 0.0, dy, float(y[0]) - dy / 2)


def _projection(product: ArrayProduct) -> dict[str, Any]:
    if product.crs is None:
        return {}
    return projection_fields(product.crs)


def cube_dimensions(ds: xr.Dataset, product: ArrayProduct) -> dict[str, Any]:
    dims: dict[str, Any] = {}
    for name, size in ds.sizes.items():
        coord = ds[name] if name in ds.coords else None
        attrs = coord.attrs if coord is not None else {}
        desc = attrs.get("long_name")
        if name in _SPATIAL_AXES and product.crs is not None and coord is not None:
            values = coord.values
            dims[name] = {
                "type": "spatial", "axis": _SPATIAL_AXES[name],
                "extent": [float(values.min()), float(values.max())],
                "step": float(values[1] - values[0]) if size > 1 else None,
                "reference_system": product.crs.to_wkt("WKT2_2019"),
            }  # fmt: skip
        elif coord is not None and np.issubdtype(coord.dtype, np.datetime64):
            times = pd.DatetimeIndex(coord.values)
            dims[name] = {"type": "temporal",
                          "extent": [_iso(times.min().to_pydatetime().replace(tzinfo=UTC)),
                                     _iso(times.max().to_pydatetime().replace(tzinfo=UTC))]}  # fmt: skip
        elif coord is not None and np.issubdtype(coord.dtype, np.number):
            values = coord.values
            steps = np.unique(np.round(np.diff(values.astype(float)), 9)) if size > 1 else []
            dims[name] = {
                "type": "bands" if name == "band" else name,
                "extent": [_num(values.min()), _num(values.max())],
                "step": _num(steps[0]) if len(steps) == 1 else None,
                "unit": attrs.get("units"),
            }
            if name == "band":
                dims[name]["values"] = [_num(v) for v in values]
        else:
            dims[name] = {"type": name, "extent": [0, int(size) - 1], "step": 1}
        if desc:
            dims[name]["description"] = desc
        dims[name] = {k: v for k, v in dims[name].items() if v is not None}
    return dims


def cube_variables(ds: xr.Dataset) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, var in ds.variables.items():
        if name in ds.dims or name == GRID_MAPPING:
            continue
        entry: dict[str, Any] = {
            "dimensions": list(var.dims),
            "variable_type": "data" if name in ds.data_vars else "auxiliary",
        }
        if var.attrs.get("units"):
            entry["unit"] = var.attrs["units"]
        if var.attrs.get("long_name"):
            entry["description"] = var.attrs["long_name"]
        out[str(name)] = entry
    return out


def _num(value: Any) -> float | int:
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, (int, np.integer)) else float(value)
