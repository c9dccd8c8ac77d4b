"""Stored STAC records made servable: absolute links from the request's base URL, and asset
hrefs turned from store keys into download URLs of this API.

The stored key of an asset never leaves the server: `present_item` replaces each asset
`href` with ``{base}collections/{cid}/items/{iid}/assets/{key}`` and drops `alternate`
hrefs. Stored links whose rel the server infers (self, parent, ...) are rebuilt; other
stored links are kept only when they are absolute http(s) URLs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from stac_fastapi.types.requests import get_base_url
from starlette.requests import Request

from catalog.base import StacCollection, StacItem
from datacenter.access import SCHEMA_PATH, SCHEMA_URL, Viewer, visible_assets

JSON = "application/json"
GEOJSON = "application/geo+json"
INFERRED_RELS = {"self", "parent", "collection", "root", "items", "item", "next", "prev", "previous"}


def base_url(request: Request) -> str:
    """The API root as the client sees it, ending in '/'."""
    return get_base_url(request)


def served_schema_url(base: str) -> str:
    """The URL of the dc: schema on the API whose root (ending '/') is `base`."""
    return base + SCHEMA_PATH


def served_extensions(extensions: list[str], base: str) -> list[str]:
    """`stac_extensions` as served: the dc: schema's `$id` replaced by its URL on this API."""
    url = served_schema_url(base)
    return [url if e == SCHEMA_URL else e for e in extensions]


def stored_extensions(extensions: list[str]) -> list[str]:
    """`stac_extensions` as stored: a served dc: schema URL (of any base) back to its `$id`."""
    return [SCHEMA_URL if isinstance(e, str) and e.endswith("/" + SCHEMA_PATH) else e for e in extensions]


def with_stored_extensions(record: dict[str, Any]) -> dict[str, Any]:
    """`record` (an item or collection from a client) naming the dc: schema by its `$id`."""
    extensions = record.get("stac_extensions")
    if not isinstance(extensions, list):
        return record
    return {**record, "stac_extensions": stored_extensions(extensions)}


def _q(part: str) -> str:
    return quote(part, safe="")


def collection_url(base: str, cid: str) -> str:
    return f"{base}collections/{_q(cid)}"


def item_url(base: str, cid: str, iid: str) -> str:
    return f"{collection_url(base, cid)}/items/{_q(iid)}"


def asset_url(base: str, cid: str, iid: str, asset_key: str) -> str:
    return f"{item_url(base, cid, iid)}/assets/{_q(asset_key)}"


def link(rel: str, href: str, media_type: str = JSON, **extra: Any) -> dict[str, Any]:
    return {"rel": rel, "type": media_type, "href": href, **extra}


def _kept_links(links: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    kept = []
    for stored in links or []:
        href = str(stored.get("href", ""))
        if stored.get("rel") in INFERRED_RELS:
            continue
        if urlsplit(href).scheme in ("http", "https"):
            kept.append(stored)
    return kept


def present_item(item: StacItem, base: str, viewer: Viewer) -> StacItem:
    """A copy of `item` with API links and download hrefs, holding only the assets `viewer`
    may see (`datacenter.access.visible_assets`, the rule downloads use too); the input is
    left untouched."""
    out = dict(item)
    cid, iid = str(item.get("collection", "")), str(item["id"])
    out["links"] = [
        link("self", item_url(base, cid, iid), GEOJSON),
        link("parent", collection_url(base, cid)),
        link("collection", collection_url(base, cid)),
        link("root", base),
        *_kept_links(item.get("links")),
    ]
    assets = {}
    for key, asset in visible_assets(viewer, item).items():
        # a shallow copy: only top-level keys change, nested values are shared read-only
        served = {name: value for name, value in asset.items() if name != "alternate"}
        served["href"] = asset_url(base, cid, iid, key)
        assets[key] = served
    out["assets"] = assets
    if "stac_extensions" in item:
        out["stac_extensions"] = served_extensions(list(item["stac_extensions"]), base)
    return out


def present_collection(collection: StacCollection, base: str) -> StacCollection:
    """A copy of `collection` with API links; assets kept only when they are public URLs."""
    out = dict(collection)
    cid = str(collection["id"])
    out.setdefault("type", "Collection")
    out["links"] = [
        link("self", collection_url(base, cid), title="This collection"),
        link("parent", base, title="The data center's catalog"),
        link("root", base, title="The data center's catalog"),
        link("items", f"{collection_url(base, cid)}/items", GEOJSON, title="Items of this collection"),
        *_kept_links(collection.get("links")),
    ]
    if "stac_extensions" in collection:
        out["stac_extensions"] = served_extensions(list(collection["stac_extensions"]), base)
    if "assets" in collection:
        out["assets"] = {
            key: asset
            for key, asset in (collection.get("assets") or {}).items()
            if urlsplit(str(asset.get("href", ""))).scheme in ("http", "https")
        }
    return out


def request_url(request: Request) -> str:
    """The current request's URL rebuilt on `base_url` (so proxies' prefixes are kept)."""
    base = base_url(request)
    path = request.url.path
    root_path = request.scope.get("root_path") or ""
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    prefix = urlsplit(base).path
    if path.startswith(prefix):
        path = path[len(prefix) :]
    url = base + path.lstrip("/")
    return f"{url}?{request.url.query}" if request.url.query else url


def with_query(url: str, **params: str) -> str:
    """`url` with `params` set (replacing same-named ones), other parameters kept in order."""
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    pairs.extend(params.items())
    return parts._replace(query=urlencode(pairs)).geturl()
