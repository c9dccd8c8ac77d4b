"""Our own STAC extension's JSON schema, served by the API so that its URL resolves.

Stored records name the ``dc:`` extension by its `$id` (`datacenter.access.SCHEMA_URL`, a
host that does not exist). What the API serves names ``<base>extensions/dc/v1.0.0/schema.json``
instead, built from the public base URL as asset hrefs are, and that route answers with the
same schema whose `$id` (and the `stac_extensions` entry it requires) is that URL: stac-validator,
pystac's `validate()` and STAC Browser fetch it like any published extension schema.
Records written back through the Transaction routes are stored under the `$id` again.
"""

from __future__ import annotations

import json
from functools import lru_cache

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from api.links import base_url, served_schema_url
from datacenter.access import SCHEMA_PATH, SCHEMA_URL, schema_document

router = APIRouter(tags=["STAC extensions"])
SCHEMA_MEDIA_TYPE = "application/schema+json"


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return json.dumps(schema_document())


@router.get(
    "/" + SCHEMA_PATH,
    summary="JSON schema of the dc: (data center access) STAC extension",
    response_class=Response,
    responses={200: {"content": {SCHEMA_MEDIA_TYPE: {}}}},
)
def dc_extension_schema(request: Request) -> Response:
    """The schema with its `$id` set to the URL it is served at."""
    text = _schema_text().replace(json.dumps(SCHEMA_URL), json.dumps(served_schema_url(base_url(request))))
    return Response(text, media_type=SCHEMA_MEDIA_TYPE, headers={"Cache-Control": "public, max-age=3600"})
