"""The browse page: ``GET /browse`` (HTML), its own scripts under ``/browse/static/`` and
Leaflet from the ``xstatic-leaflet`` package under ``/browse/vendor/leaflet/``.

The page is static; the server fills in two values: the API's base URL (the page calls the
API there, from the browser, with the viewer's key) and the basemap collection
(``DATACENTER_BROWSE_BASEMAP``, default ``lunar-basemap``). Nothing is fetched from the
internet.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path

import xstatic.pkg.leaflet as xstatic_leaflet
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.links import base_url
from datacenter.settings import Settings

STATIC = Path(str(files("api") / "static" / "browse"))
router = APIRouter(tags=["Browse page"])


@router.get("/browse", response_class=HTMLResponse, include_in_schema=True, name="Browse page")
@router.get("/browse/", response_class=HTMLResponse, include_in_schema=False)
async def browse_page(request: Request) -> HTMLResponse:
    """A map of the Moon with the catalog's footprints, a search panel and item details."""
    settings: Settings = request.app.state.datacenter_settings or Settings()
    base = base_url(request)
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    html = html.replace("<head>", f'<head>\n  <base href="{escape(base)}browse/">', 1)
    html = html.replace("<body>", f'<body data-api="{escape(base)}" '
                                  f'data-basemap="{escape(settings.browse_basemap)}">', 1)  # fmt: skip
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


def mount_browse(app: FastAPI) -> None:
    """The page's route and its static files (ours, and Leaflet's from its package)."""
    app.include_router(router)
    app.mount("/browse/static", StaticFiles(directory=STATIC), name="browse-static")
    app.mount("/browse/vendor/leaflet", StaticFiles(directory=xstatic_leaflet.BASE_DIR),
              name="browse-leaflet")  # fmt: skip
