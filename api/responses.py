"""JSON responses serialised once, by orjson.

A dict returned from an endpoint is walked by FastAPI's `jsonable_encoder` and then by
`json.dumps`: for a 1000-item page that walk was most of the server's time. Records here are
plain JSON values already (the catalog hands out parsed STAC JSON), so they are written to
bytes in one orjson call and returned as a `Response`, which FastAPI passes through.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from api.links import GEOJSON, JSON


class OrjsonResponse(Response):
    media_type = JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class GeoJSONBytes(OrjsonResponse):
    media_type = GEOJSON


def geojson(content: Any) -> Response:
    """An item or item collection, as ``application/geo+json``."""
    return GeoJSONBytes(content)


def json_response(content: Any) -> Response:
    """A collection, a list of collections or another plain JSON document."""
    return OrjsonResponse(content)
