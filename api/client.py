"""The STAC core client: stac-fastapi's sync `BaseCoreClient` over our `Catalog` contract.

stac-fastapi runs these methods in a thread pool and passes the `request`; the catalog
comes from ``request.state`` (bound by `api.deps.bind_catalog`, so dependency overrides
and a future access filter apply). Every record leaves through `api.links`, which makes
links absolute and turns asset store keys into download URLs.
"""

from __future__ import annotations

from typing import Any

import attr
from stac_fastapi.types import stac
from stac_fastapi.types.core import BaseCoreClient
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from api.audit import audit, why_not_found
from api.collection_search import search_collections
from api.deps import catalog_of, viewer_of
from api.known_properties import check_known_properties
from api.links import (
    GEOJSON,
    base_url,
    collection_url,
    link,
    present_collection,
    present_item,
    request_url,
    with_query,
)
from api.params import parse_bbox, parse_datetime, parse_intersects, split_list
from api.request_limits import (
    DEFAULT_LIMITS,
    RequestLimits,
    check_cql2_json,
    check_geometry,
    limits_of,
)
from api.responses import geojson, json_response
from api.search_params import (
    Fields,
    apply_fields,
    check_filter_crs,
    combine,
    parse_fields,
    parse_filter,
    parse_q,
    parse_sortby,
    query_to_cql2,
)
from catalog.audit import AuditLog
from catalog.base import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SUMMARISED,
    Catalog,
    SearchPage,
    SearchQuery,
    StacItem,
)
from catalog.providers import with_producers
from datacenter.access import Viewer
from datacenter.errors import InvalidRequest, ItemNotFound, NotFound


def lookup_item(
    catalog: Catalog, collection_id: str, item_id: str, viewer: Viewer, log: AuditLog,
    action: str = "item",
) -> StacItem:
    """The item as `viewer` may see it, or `ItemNotFound` / `CollectionNotFound` exactly as
    for a missing one (the catalog filters in its query); the decision goes to the audit log."""
    record = f"{collection_id}/{item_id}"
    try:
        item = catalog.get_item(collection_id, item_id, viewer=viewer)
    except NotFound as exc:
        audit(log, viewer, action, record, False, detail=why_not_found(catalog, collection_id, item_id))
        if not isinstance(exc, ItemNotFound):
            raise
        raise ItemNotFound(
            f"collection {collection_id!r} has no item {item_id!r}; its items are listed "
            f"at /collections/{collection_id}/items"
        ) from exc
    if action == "item":
        audit(log, viewer, action, record, True)
    return item


def build_query(
    *,
    collections: Any = None,
    ids: Any = None,
    bbox: Any = None,
    intersects: Any = None,
    datetime: str | None = None,
    limit: int | None = None,
    token: str | None = None,
    filter_expr: Any = None,
    filter_lang: str | None = None,
    filter_crs: str | None = None,
    query: Any = None,
    sortby: Any = None,
    q: Any = None,
    viewer: Viewer,
    limits: RequestLimits = DEFAULT_LIMITS,
) -> SearchQuery:
    """One validated `SearchQuery` from GET or POST parameters (extensions included):
    cql2-text and the Query extension arrive at the catalog as CQL2 JSON. Every part is
    bounded by `limits` (`api.request_limits`); geometries reach the catalog valid."""
    if bbox is not None and intersects:
        raise InvalidRequest(
            "bbox and intersects were both given; they are mutually exclusive, use one"
        )
    extension = query_to_cql2(query)
    if extension is not None:
        check_cql2_json(extension, limits, "query")
    expr = combine(parse_filter(filter_expr, filter_lang, limits), extension)
    filter_vertices = check_cql2_json(expr, limits) if expr is not None else 0
    geometry, _ = check_geometry(parse_intersects(intersects), limits, already=filter_vertices)
    return SearchQuery(
        collections=split_list(collections),
        ids=split_list(ids),
        bbox=parse_bbox(bbox),
        intersects=geometry,
        datetime=parse_datetime(datetime),
        # Above MAX_LIMIT is clamped (stac-fastapi's `Limit` already crops GET and POST).
        limit=min(limit or DEFAULT_LIMIT, MAX_LIMIT),
        token=token or None,
        filter=expr,
        sortby=parse_sortby(sortby, limits),
        q=parse_q(q, limits),
        viewer=viewer,
    )


def _extension_params(source: Any) -> dict[str, Any]:
    """The extension parameters of a GET kwargs dict or a POST model, by `build_query` name."""
    get = source.get if isinstance(source, dict) else (lambda k: getattr(source, k, None))
    check_filter_crs(get("filter_crs"))
    return {
        "filter_expr": get("filter_expr"),
        "filter_lang": get("filter_lang"),
        "query": get("query"),
        "sortby": get("sortby"),
        "q": get("q"),
    }


@attr.s
class CatalogClient(BaseCoreClient):
    """GET /, /conformance, /collections[/{id}[/items[/{id}]]], GET and POST /search."""

    def landing_page(self, **kwargs: Any) -> stac.LandingPage:
        request: Request = kwargs["request"]
        page = super().landing_page(**kwargs)
        base = base_url(request)
        page["links"].append(link("alternate", f"{base}browse", "text/html",
                                  title="Browse the catalog on a map of the Moon"))
        for collection in catalog_of(request).list_collections(viewer=viewer_of(request)):
            extra = {"title": collection["title"]} if collection.get("title") else {}
            page["links"].append(link("child", collection_url(base, collection["id"]), **extra))
        return page

    def all_collections(
        self,
        bbox: Any = None,
        datetime: str | None = None,
        limit: int | None = None,
        q: Any = None,
        token: str | None = None,
        **kwargs: Any,
    ) -> stac.Collections:
        """Collection search: bbox / datetime on the extents, free text, keyset paging."""
        request: Request = kwargs["request"]
        base = base_url(request)
        here = request_url(request)
        viewer = viewer_of(request)
        collections = [
            present_collection(self._as_the_viewer_sees_it(request, c), base)
            for c in catalog_of(request).list_collections(viewer=viewer)
        ]
        page, matched, next_token, prev_token = search_collections(
            collections,
            bbox=parse_bbox(bbox),
            interval=parse_datetime(datetime),
            q=parse_q(q, limits_of(request)),
            limit=min(limit or MAX_LIMIT, MAX_LIMIT),
            token=token or None,
        )
        links = [link("root", base), link("self", here), link("parent", base)]
        for rel, value in (("next", next_token), ("prev", prev_token)):
            if value:
                links.append(link(rel, with_query(here, token=value)))
        audit(request.state.audit, viewer, "collections", None, True,
              detail=f"returned={len(page)} matched={matched}")
        return json_response({  # type: ignore[return-value]
            "collections": page,
            "links": links,
            "numberMatched": matched,
            "numberReturned": len(page),
        })

    def get_collection(self, collection_id: str, **kwargs: Any) -> stac.Collection:
        request: Request = kwargs["request"]
        collection = self._lookup_collection(request, collection_id, "collection")
        return json_response(  # type: ignore[return-value]
            present_collection(self._as_the_viewer_sees_it(request, collection), base_url(request)))

    async def get_item(  # type: ignore[override]
        self, item_id: str, collection_id: str, **kwargs: Any
    ) -> stac.Item:
        """A coroutine, so stac-fastapi awaits it: on a catalog whose lookups are local
        (`Catalog.inline_lookups`, e.g. SQLite: tens of microseconds) the item is answered on
        the event loop, saving the thread-pool hand-off that was most of the request."""
        request: Request = kwargs["request"]

        def answer() -> Any:
            item = lookup_item(catalog_of(request), collection_id, item_id, viewer_of(request),
                               request.state.audit)
            return geojson(present_item(item, base_url(request), viewer_of(request)))

        if catalog_of(request).inline_lookups:
            return answer()  # type: ignore[no-any-return]
        return await run_in_threadpool(answer)  # type: ignore[no-any-return]

    def item_collection(
        self,
        collection_id: str,
        bbox: Any = None,
        datetime: str | None = None,
        limit: int | None = DEFAULT_LIMIT,
        token: str | None = None,
        **kwargs: Any,
    ) -> stac.ItemCollection:
        request: Request = kwargs["request"]
        catalog = catalog_of(request)
        # CollectionNotFound (missing or hidden) -> 404 before searching
        self._lookup_collection(request, collection_id, "items")
        query = build_query(
            collections=[collection_id], bbox=bbox, datetime=datetime, limit=limit, token=token,
            **_extension_params(kwargs), viewer=viewer_of(request),
            limits=limits_of(request),
        )
        fields = parse_fields(kwargs.get("fields"))
        check_known_properties(catalog, query)
        page = catalog.search(query)
        return self._page(page, request, collection_id=collection_id, fields=fields)

    def get_search(
        self,
        collections: Any = None,
        ids: Any = None,
        bbox: Any = None,
        intersects: Any = None,
        datetime: str | None = None,
        limit: int | None = DEFAULT_LIMIT,
        **kwargs: Any,
    ) -> stac.ItemCollection:
        request: Request = kwargs["request"]
        query = build_query(
            collections=collections,
            ids=ids,
            bbox=bbox,
            intersects=intersects,
            datetime=datetime,
            limit=limit,
            token=kwargs.get("token"),
            **_extension_params(kwargs),
            viewer=viewer_of(request),
            limits=limits_of(request),
        )
        fields = parse_fields(kwargs.get("fields"))
        check_known_properties(catalog_of(request), query)
        return self._page(catalog_of(request).search(query), request, fields=fields)

    def post_search(self, search_request: Any, **kwargs: Any) -> stac.ItemCollection:
        request: Request = kwargs["request"]
        query = build_query(
            collections=search_request.collections,
            ids=search_request.ids,
            bbox=search_request.bbox,
            intersects=search_request.intersects,
            datetime=search_request.datetime,
            limit=search_request.limit,
            token=getattr(search_request, "token", None),
            **_extension_params(search_request),
            viewer=viewer_of(request),
            limits=limits_of(request),
        )
        try:  # after `build_query`, which refuses what is nested too deep to serialise
            body = search_request.model_dump(mode="json", by_alias=True, exclude_none=True)
        except ValueError as exc:
            raise InvalidRequest(f"the search body cannot be read back: {exc}") from None
        body.pop("token", None)
        given = getattr(search_request, "model_fields_set", set())
        if "fields" in given and search_request.fields is None:
            raise InvalidRequest(
                'fields is null; send {"include": [...], "exclude": [...]} or leave it out'
            )
        fields = parse_fields(search_request.fields) if "fields" in given else None
        check_known_properties(catalog_of(request), query)
        page = catalog_of(request).search(query)
        return self._page(page, request, post_body=body, fields=fields)

    # helpers ---------------------------------------------------------------------
    @staticmethod
    def _lookup_collection(request: Request, collection_id: str, action: str) -> dict[str, Any]:
        catalog, viewer = catalog_of(request), viewer_of(request)
        try:
            collection = catalog.get_collection(collection_id, viewer=viewer)
        except NotFound:
            audit(request.state.audit, viewer, action, collection_id, False,
                  detail=why_not_found(catalog, collection_id))
            raise
        audit(request.state.audit, viewer, action, collection_id, True)
        return collection

    @staticmethod
    def _as_the_viewer_sees_it(request: Request, collection: dict[str, Any]) -> dict[str, Any]:
        """The extent and summaries of what the viewer sees, computed per request (and cached
        by the catalog): the stored ones cover every item, hidden ones included, so only
        administrators are shown them. A summarised field (`SUMMARISED`) no visible item
        carries is left out; other summaries are the collection's own. The producers of the
        summaries' missions join the providers (`catalog.providers`)."""
        viewer = viewer_of(request)
        if collection.get("extent") and viewer.admin:
            return with_producers(collection)
        catalog = catalog_of(request)
        extent = catalog.collection_extent(collection["id"], viewer=viewer)
        if viewer.admin:
            return with_producers({**collection, "extent": extent})
        stored = collection.get("summaries") or {}
        summaries = {k: v for k, v in stored.items() if k not in SUMMARISED}
        summaries |= catalog.collection_summaries(collection["id"], SUMMARISED, viewer=viewer)
        return with_producers({**collection, "extent": extent, "summaries": summaries})

    @staticmethod
    def _page(
        page: SearchPage,
        request: Request,
        *,
        collection_id: str | None = None,
        post_body: dict[str, Any] | None = None,
        fields: Fields | None = None,
    ) -> stac.ItemCollection:
        base = base_url(request)
        here = request_url(request)
        links = [link("root", base), link("self", here, GEOJSON)]
        if collection_id is not None:
            links.append(link("parent", collection_url(base, collection_id)))
            links.append(link("collection", collection_url(base, collection_id)))
        for rel, token in (("next", page.next_token), ("prev", page.prev_token)):
            if not token:
                continue
            if post_body is None:
                links.append(link(rel, with_query(here, token=token), GEOJSON, method="GET"))
            else:
                links.append(
                    link(rel, here, GEOJSON, method="POST", body={**post_body, "token": token})
                )
        viewer = viewer_of(request)
        features = [apply_fields(present_item(item, base, viewer), fields) for item in page.items]
        audit(request.state.audit, viewer, "search" if collection_id is None else "items",
              collection_id, True, detail=" ".join(
                  [f"returned={len(features)}", f"matched={page.number_matched}",
                   "ids=" + ",".join(f"{i.get('collection')}/{i.get('id')}" for i in page.items[:100])]))
        result: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": features,
            "links": links,
            "numberReturned": len(features),
        }
        if page.number_matched is not None:
            result["numberMatched"] = page.number_matched
        return geojson(result)  # type: ignore[return-value]
