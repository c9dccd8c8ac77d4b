"""``/queryables`` and ``/collections/{id}/queryables``: what a CQL2 filter can name.

The core fields are always listed; item properties are described from a sample of the
items the caller may see (their JSON types), so a record hidden from the caller never
shows up here through its property names.
"""

from __future__ import annotations

from typing import Any

import attr
from stac_fastapi.extensions.filter.client import BaseFiltersClient
from starlette.requests import Request

from api.audit import audit, why_not_found
from api.deps import catalog_of, viewer_of
from api.links import request_url
from catalog.base import SearchQuery
from datacenter.errors import NotFound

SAMPLE = 200
_CORE: dict[str, dict[str, Any]] = {
    "id": {"title": "Item id", "type": "string"},
    "collection": {"title": "Collection id", "type": "string"},
    "datetime": {"title": "Acquisition time", "type": "string", "format": "date-time"},
    "start_datetime": {"title": "Start of acquisition", "type": "string", "format": "date-time"},
    "end_datetime": {"title": "End of acquisition", "type": "string", "format": "date-time"},
    "geometry": {"title": "Footprint (longitude/latitude on the body)",
                 "$ref": "https://geojson.org/schema/Geometry.json"},
}
#: properties a planetary user filters by, declared with their type and unit whenever an
#: item the caller may see carries them (the sample decides presence, never the description)
DECLARED: dict[str, dict[str, Any]] = {
    "gsd": {"title": "Ground sample distance on the body", "type": "number", "minimum": 0,
            "unit": "m", "description": "Metres per pixel on the target body (at the equator for lon/lat grids)"},
    "view:incidence_angle": {"title": "Solar incidence angle", "type": "number", "minimum": 0,
                             "maximum": 90, "unit": "deg"},
    "dc:emission_angle": {"title": "Emission angle", "type": "number", "minimum": 0,
                            "maximum": 90, "unit": "deg"},
    "view:sun_elevation": {"title": "Sun elevation", "type": "number", "minimum": -90,
                           "maximum": 90, "unit": "deg"},
    "view:sun_azimuth": {"title": "Sun azimuth", "type": "number", "minimum": 0,
                         "maximum": 360, "unit": "deg"},
    "dc:phase_angle": {"title": "Phase angle (sun - target - observer)", "type": "number", "minimum": 0,
                       "maximum": 180, "unit": "deg"},
    "sat:absolute_orbit": {"title": "Orbit number (the spacecraft's, as its label counts)", "type": "integer",
                           "minimum": 1},
    "processing:level": {"title": "Processing level (as the producer names it)", "type": "string"},
    "platform": {"title": "Platform (spacecraft, lander, rover)", "type": "string"},
    "instruments": {"title": "Instruments", "type": "array", "items": {"type": "string"}},
    "mission": {"title": "Mission", "type": "string"},
    "constellation": {"title": "Constellation", "type": "string"},
    "ssys:targets": {"title": "Target bodies", "type": "array", "items": {"type": "string"}},
    "ssys:local_time": {"title": "Local solar time on the body (hh:mm:ss, as the label gives it)",
                        "type": "string"},
    "proj:code": {"title": "CRS code (IAU_2015:NNNNN)", "type": ["string", "null"]},
}  # fmt: skip


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


@attr.s
class QueryablesClient(BaseFiltersClient):
    def get_queryables(self, collection_id: str | None = None, **kwargs: Any) -> dict[str, Any]:
        request: Request = kwargs["request"]
        catalog, viewer = catalog_of(request), viewer_of(request)
        if collection_id is not None:
            try:  # 404 when missing (or hidden), audited like every refusal
                catalog.get_collection(collection_id, viewer=viewer)
            except NotFound:
                audit(request.state.audit, viewer, "queryables", collection_id, False,
                      detail=why_not_found(catalog, collection_id))
                raise
        page = catalog.search(SearchQuery(
            collections=[collection_id] if collection_id else None, limit=SAMPLE, viewer=viewer
        ))
        properties: dict[str, dict[str, Any]] = dict(_CORE)
        for item in page.items:
            for name, value in (item.get("properties") or {}).items():
                kind = _json_type(value)
                if name in DECLARED:
                    properties.setdefault(name, DECLARED[name])
                elif name not in properties and kind is not None:
                    properties[name] = {"title": name, "type": kind}
        scope = f"collection {collection_id}" if collection_id else "all collections"
        return {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": request_url(request).split("?", 1)[0],
            "type": "object",
            "title": f"Queryables of {scope}",
            "description": "Names a CQL2 filter (filter, filter-lang) may use.",
            "properties": dict(sorted(properties.items())),
            "additionalProperties": True,
        }
