"""Columns of a table (PDS4 or CSV) into a CF-described xarray Dataset along its records."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from datacenter.errors import CorruptProduct, LabelError

if TYPE_CHECKING:  # xarray / pandas / dask.array load on first use (~0.7 s of every CLI start otherwise)
    import xarray as xr

_TIME = re.compile(r"^(utc|time|utc_time|date_time|.*_date_time|.*utc.*)$", re.IGNORECASE)
_LON = re.compile(r"^(lon|longitude|.*_longitude|.*_lon)$", re.IGNORECASE)
_LAT = re.compile(r"^(lat|latitude|.*_latitude|.*_lat)$", re.IGNORECASE)
STANDARD_NAMES = {"surface_temperature": "surface_temperature",
                  "brightness_temperature": "brightness_temperature",
                  "air_temperature": "air_temperature", "altitude": "altitude",
                  "solar_zenith_angle": "solar_zenith_angle"}  # fmt: skip


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", name.strip()).strip("_").lower() or "field"


def parse_times(values: np.ndarray, name: str, source: str) -> np.ndarray:
    """UTC times (text, or already datetime64) as naive datetime64[ns] UTC."""
    if np.issubdtype(values.dtype, np.datetime64):
        return values.astype("datetime64[ns]")
    import pandas as pd

    text = [v.decode("ascii", "replace") if isinstance(v, bytes) else str(v) for v in values]
    try:
        times = pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise CorruptProduct(
            f"{source}: time field {name!r} holds a value that is not a time ({exc}); expected "
            "ISO 8601 UTC such as 2019-01-03T02:26:00.000Z: fix the product"
        ) from exc
    return times.tz_localize(None).to_numpy().astype("datetime64[ns]")


def series_dataset(
    columns: dict[str, np.ndarray],
    *,
    units: dict[str, str | None],
    descriptions: dict[str, str | None],
    group: np.ndarray | None = None,
    group_dims: tuple[str, str] | None = None,
    group_name: str | None = None,
    group_unit: str | None = None,
    group_coord: tuple[str, float, str, str] | None = None,
    group_values: np.ndarray | None = None,
    source: str,
) -> tuple[xr.Dataset, datetime | None, datetime | None, tuple[np.ndarray, np.ndarray] | None]:
    """(dataset, first time, last time, (lon, lat) per record or None).

    Without a group the record dimension is `time` (a time column is required); with one it
    is `group_dims[0]` and the group is a 2-D variable on `group_dims`, whose second
    coordinate is `group_values`, or index x step of `group_coord` (name, step, unit, long name).
    """
    import pandas as pd
    import xarray as xr

    time_name = next((n for n in columns if _TIME.match(n)), None)
    lon_name = next((n for n in columns if _LON.match(n)), None)
    lat_name = next((n for n in columns if _LAT.match(n)), None)
    record = group_dims[0] if group_dims else "time"
    if time_name is None and group is None:
        raise LabelError(
            f"{source} is a table without a time field (fields: {', '.join(columns)}); expected a "
            "field named time, utc or *_date_time to index the series: add one"
        )
    coords: dict[str, Any] = {}
    start = end = None
    if time_name is not None:
        times = parse_times(columns[time_name], time_name, source)
        coords["time"] = (record, times, {"standard_name": "time", "long_name": "time (UTC)"})
        if len(times):
            start = pd.Timestamp(times.min()).tz_localize("UTC").to_pydatetime()
            end = pd.Timestamp(times.max()).tz_localize("UTC").to_pydatetime()
        if record == "time" and len(np.unique(times)) != len(times):
            raise CorruptProduct(
                f"{source}: time field {time_name!r} repeats a time; expected one record per time "
                "in a time series: remove the duplicate records"
            )
    else:
        n = len(group) if group is not None else 0
        coords[record] = (record, np.arange(n, dtype="int64"), {"long_name": f"{record} number"})
    if record != "time" and record not in coords:
        n = len(next(iter(columns.values()))) if columns else len(group)  # type: ignore[arg-type]
        coords[record] = (record, np.arange(n, dtype="int64"), {"long_name": f"{record} number"})
    lonlat = None
    if lon_name and lat_name:
        lonlat = (np.asarray(columns[lon_name], "float64"), np.asarray(columns[lat_name], "float64"))
        coords["lon"] = (record, columns[lon_name], {"standard_name": "longitude", "units": "degrees_east"})
        coords["lat"] = (record, columns[lat_name], {"standard_name": "latitude", "units": "degrees_north"})
    variables: dict[str, Any] = {}
    for name, values in columns.items():
        if name in (time_name, lon_name, lat_name):
            continue
        attrs: dict[str, Any] = {"long_name": descriptions.get(name) or name}
        if units.get(name):
            attrs["units"] = units[name]
        key = _safe(name)
        if key in STANDARD_NAMES:
            attrs["standard_name"] = STANDARD_NAMES[key]
        if values.dtype.kind in "SO":
            values = values.astype("U")
        variables[key] = (record, values, attrs)
    if group is not None and group_dims is not None:
        second = group_dims[1]
        if group_values is not None:
            coords[second] = (second, group_values, {"long_name": second})
        elif group_coord is not None:
            cname, step, unit, long_name = group_coord
            coords[second] = (second, np.arange(group.shape[1], dtype="float64") * step,
                              {"units": unit, "long_name": long_name})  # fmt: skip
        attrs = {"long_name": descriptions.get(group_name or "") or group_name or second}
        if group_unit:
            attrs["units"] = group_unit
        variables[_safe(group_name or "values")] = (group_dims, group, attrs)
    return xr.Dataset(variables, coords=coords), start, end, lonlat
