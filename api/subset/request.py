"""The subset options shared by `GET`/`POST .../subset` and `POST /jobs`."""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from datacenter.access import parse_time
from datacenter.errors import InvalidRequest


class OutputFormat(StrEnum):
    NETCDF = "netcdf"
    GEOTIFF = "geotiff"
    ZARR = "zarr"


MEDIA_TYPES = {
    OutputFormat.NETCDF: "application/x-netcdf",
    OutputFormat.GEOTIFF: "image/tiff; application=geotiff; profile=cloud-optimized",
    OutputFormat.ZARR: "application/zip",
}
SUFFIXES = {OutputFormat.NETCDF: ".nc", OutputFormat.GEOTIFF: ".tif", OutputFormat.ZARR: ".zarr.zip"}


class SubsetOptions(BaseModel):
    """What to cut out of an item. `bbox` is lon/lat on the body (west > east crosses the
    antimeridian) unless `bbox_crs` is "native" (the item's own CRS coordinates)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    bbox: list[float] | None = None
    bbox_crs: str = Field("lonlat", alias="bbox-crs")
    datetime: str | None = None
    variables: list[str] | None = None
    bands: list[str] | None = None
    step: int | None = Field(None, ge=1)
    resolution: float | None = Field(None, gt=0)
    crs: str | None = None
    format: OutputFormat = OutputFormat.NETCDF

    @field_validator("bbox")
    @classmethod
    def _four_numbers(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return None
        if len(value) != 4 or not all(math.isfinite(v) for v in value):
            raise ValueError(f"bbox must be four finite numbers west,south,east,north; got {value}")
        return value

    @field_validator("bbox_crs")
    @classmethod
    def _known_bbox_crs(cls, value: str) -> str:
        if value not in ("lonlat", "native"):
            raise ValueError(f"bbox-crs must be 'lonlat' or 'native', not {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SubsetOptions:
        if self.bbox is not None:
            west, south, east, north = self.bbox
            if south > north:
                raise ValueError(
                    f"bbox {self.bbox} is inverted: south ({south}) is greater than north ({north})"
                )
            if self.bbox_crs == "lonlat" and (min(south, north) < -90 or max(south, north) > 90):
                raise ValueError(f"bbox {self.bbox}: latitudes must lie in -90..90")
            if self.bbox_crs == "native" and west > east:
                raise ValueError(f"bbox {self.bbox} in native coordinates has west > east")
        if self.step is not None and self.resolution is not None:
            raise ValueError("give either step or resolution, not both")
        if self.datetime is not None:
            self.time_range()  # raises on a malformed value
        return self

    def time_range(self) -> tuple[datetime | None, datetime | None] | None:
        """The requested [start, end] (open ends None), parsed from RFC 3339 / an interval."""
        if self.datetime is None:
            return None
        parts = self.datetime.split("/")
        if len(parts) > 2:
            raise ValueError(f"datetime {self.datetime!r} must be one time or start/end")
        try:
            times = [None if p in ("", "..") else parse_time(p) for p in parts]
        except ValueError:
            raise ValueError(
                f"datetime {self.datetime!r} is not RFC 3339 (e.g. 2024-01-01T00:00:00Z or an "
                "interval start/end with '..' for an open end)"
            ) from None
        start, end = (times[0], times[0]) if len(times) == 1 else (times[0], times[1])
        if start and end and start > end:
            raise ValueError(f"datetime {self.datetime!r} ends before it starts")
        return start, end

    def describe(self) -> dict[str, Any]:
        """The request as recorded in provenance attributes."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _split(value: str | None) -> list[str] | None:
    if value is None or value == "":
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def options_from_query(params: dict[str, str]) -> SubsetOptions:
    """Options from GET query parameters (comma-separated lists); errors name the parameter."""
    known = {"bbox", "bbox-crs", "datetime", "variables", "bands", "step", "resolution", "crs", "format"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidRequest(
            f"unknown subset parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    raw: dict[str, Any] = {k: v for k, v in params.items() if k in known}
    if "bbox" in raw:
        try:
            raw["bbox"] = [float(v) for v in _split(raw["bbox"]) or []]
        except ValueError:
            raise InvalidRequest(f"bbox={params['bbox']!r} must be four numbers west,south,east,north") from None
    for name in ("variables", "bands"):
        if name in raw:
            raw[name] = _split(raw[name])
    return parse_options(raw)


def parse_options(raw: dict[str, Any]) -> SubsetOptions:
    """Validate `raw` into options, turning pydantic errors into one `InvalidRequest`."""
    from pydantic import ValidationError

    try:
        return SubsetOptions.model_validate(raw)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())) or "request"
            parts.append(f"{where}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
        raise InvalidRequest("; ".join(parts)) from None
