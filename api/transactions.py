"""STAC Transactions (collections and items) on the catalog contract; admin only.

Every route of `TransactionExtension` carries `api.deps.require_admin`. Writes go through
`Catalog.upsert_collection` / `upsert_items` / `delete_*`; existence checks use
`datacenter.access.SYSTEM` (an admin sees everything). PATCH takes a JSON merge patch
(RFC 7396); JSON Patch operation lists get a 400 that says so.
"""

from __future__ import annotations

from typing import Annotated, Any

import attr
from fastapi import Body
from pydantic import BaseModel, ValidationError
from stac_fastapi.api.models import CollectionUri, GeoJSONResponse, ItemUri
from stac_fastapi.api.routes import create_async_endpoint
from stac_fastapi.extensions.transaction import BaseTransactionsClient, TransactionExtension
from stac_pydantic import Collection
from starlette.requests import Request
from starlette.responses import Response

from api.deps import catalog_of, viewer_of
from api.links import base_url, present_collection, present_item, with_stored_extensions
from catalog.base import Catalog
from datacenter.access import SYSTEM
from datacenter.errors import Conflict, InvalidRequest, NotFound


def _dump(model: Any) -> dict[str, Any]:
    if hasattr(model, "model_dump"):
        return model.model_dump(mode="json", by_alias=True, exclude_unset=True)  # type: ignore[no-any-return]
    if isinstance(model, dict):
        return model
    raise InvalidRequest(f"expected a JSON object, got {type(model).__name__}")


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def _merge_patch(patch: Any, what: str) -> dict[str, Any]:
    if isinstance(patch, list):
        raise InvalidRequest(
            f"PATCH of {what} takes a JSON merge patch (an object, RFC 7396), not JSON Patch operations"
        )
    return _dump(patch)


def _still_valid(merged: dict[str, Any], model: type[BaseModel], what: str) -> dict[str, Any]:
    """`merged` (a record after a merge patch) if it is still a valid STAC `model`; a patch
    that nulls a required field (RFC 7396 removes it) is a 400 naming the fields."""
    try:
        model.model_validate(merged)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"][:1])) or "(record)" for e in exc.errors()})
        raise InvalidRequest(
            f"the patch would leave {what} invalid STAC (check {', '.join(fields)}); "
            "a null in a merge patch removes a field, and these are required"
        ) from None
    return merged


def _exists(call: Any) -> bool:
    try:
        call()
    except NotFound:
        return False
    return True


@attr.s
class TransactionsClient(BaseTransactionsClient):
    """POST/PUT/PATCH/DELETE of collections and items."""

    @staticmethod
    def _catalog(kwargs: dict[str, Any]) -> tuple[Catalog, Request]:
        request: Request = kwargs["request"]
        return catalog_of(request), request

    @staticmethod
    def _own_item(item: dict[str, Any], collection_id: str, item_id: str | None = None) -> dict[str, Any]:
        if item.get("collection") not in (None, collection_id):
            raise InvalidRequest(
                f"item {item.get('id')!r} names collection {item['collection']!r} but was sent to "
                f"/collections/{collection_id}/items; make them agree"
            )
        if item_id is not None and item.get("id") != item_id:
            raise InvalidRequest(
                f"item id {item.get('id')!r} in the body differs from {item_id!r} in the path"
            )
        return with_stored_extensions({**item, "collection": collection_id})

    # items -----------------------------------------------------------------------
    def create_item(self, collection_id: str, item: Any, **kwargs: Any) -> Any:
        catalog, request = self._catalog(kwargs)
        catalog.get_collection(collection_id, viewer=SYSTEM)
        body = _dump(item)
        features = body["features"] if body.get("type") == "FeatureCollection" else [body]
        features = [self._own_item(f, collection_id) for f in features]
        for feature in features:
            if _exists(lambda f=feature: catalog.get_item(collection_id, str(f.get("id")), viewer=SYSTEM)):
                raise Conflict(
                    f"collection {collection_id!r} already has item {feature.get('id')!r}; "
                    "use PUT to replace it"
                )
        catalog.upsert_items(features)
        if body.get("type") == "FeatureCollection":
            return None
        stored = catalog.get_item(collection_id, features[0]["id"], viewer=SYSTEM)
        return present_item(stored, base_url(request), viewer_of(request))

    def update_item(self, collection_id: str, item_id: str, item: Any, **kwargs: Any) -> Any:
        """Replace an existing item; 204 (no body)."""
        catalog, _ = self._catalog(kwargs)
        catalog.get_item(collection_id, item_id, viewer=SYSTEM)  # 404 when absent
        catalog.upsert_items([self._own_item(_dump(item), collection_id, item_id)])
        return Response(status_code=204)

    def patch_item(self, collection_id: str, item_id: str, patch: Any, **kwargs: Any) -> Any:
        catalog, _ = self._catalog(kwargs)
        current = catalog.get_item(collection_id, item_id, viewer=SYSTEM)
        merged = _merge(current, _merge_patch(patch, f"item {item_id!r}"))
        catalog.upsert_items([self._own_item(merged, collection_id, item_id)])
        return Response(status_code=204)

    def delete_item(self, item_id: str, collection_id: str, **kwargs: Any) -> Any:
        """Idempotent: 204 whether or not the item was there (404 for a missing collection)."""
        catalog, _ = self._catalog(kwargs)
        catalog.get_collection(collection_id, viewer=SYSTEM)
        if _exists(lambda: catalog.get_item(collection_id, item_id, viewer=SYSTEM)):
            catalog.delete_item(collection_id, item_id)
        return Response(status_code=204)

    # collections -----------------------------------------------------------------
    def create_collection(self, collection: Any, **kwargs: Any) -> Any:
        catalog, request = self._catalog(kwargs)
        body = with_stored_extensions(_dump(collection))
        cid = body.get("id")
        if isinstance(cid, str) and _exists(lambda: catalog.get_collection(cid, viewer=SYSTEM)):
            raise Conflict(f"collection {cid!r} already exists; use PUT to replace it")
        catalog.upsert_collection(body)
        return present_collection(catalog.get_collection(body["id"], viewer=SYSTEM), base_url(request))

    def update_collection(self, collection_id: str, collection: Any, **kwargs: Any) -> Any:
        catalog, request = self._catalog(kwargs)
        catalog.get_collection(collection_id, viewer=SYSTEM)
        body = with_stored_extensions(_dump(collection))
        if body.get("id") != collection_id:
            raise InvalidRequest(
                f"collection id {body.get('id')!r} in the body differs from {collection_id!r} in the path"
            )
        catalog.upsert_collection(body)
        return present_collection(catalog.get_collection(collection_id, viewer=SYSTEM), base_url(request))

    def patch_collection(self, collection_id: str, patch: Any, **kwargs: Any) -> Any:
        catalog, request = self._catalog(kwargs)
        current = catalog.get_collection(collection_id, viewer=SYSTEM)
        merged = _merge(current, _merge_patch(patch, f"collection {collection_id!r}"))
        merged = with_stored_extensions({**merged, "id": collection_id})
        catalog.upsert_collection(_still_valid(merged, Collection, f"collection {collection_id!r}"))
        return present_collection(catalog.get_collection(collection_id, viewer=SYSTEM), base_url(request))

    def delete_collection(self, collection_id: str, **kwargs: Any) -> None:
        catalog, _ = self._catalog(kwargs)
        catalog.delete_collection(collection_id)
        return None


@attr.s
class _PostItem(CollectionUri):
    item: Annotated[dict[str, Any], Body()] = attr.ib(default=None)


@attr.s
class _PutItem(ItemUri):
    item: Annotated[dict[str, Any], Body()] = attr.ib(default=None)


@attr.s
class Transactions(TransactionExtension):
    """stac-fastapi's extension with item bodies taken as JSON objects: our catalog checks
    them (with messages naming the field), where stac-pydantic would refuse e.g. an item
    without `links`, which STAC clients routinely send."""

    def register_create_item(self) -> None:
        self.router.add_api_route(
            name="Create Item", path="/collections/{collection_id}/items", status_code=201,
            methods=["POST"], response_class=GeoJSONResponse,
            endpoint=create_async_endpoint(self.client.create_item, _PostItem),
            dependencies=self.route_dependencies,
        )

    def register_update_item(self) -> None:
        self.router.add_api_route(
            name="Update Item", path="/collections/{collection_id}/items/{item_id}",
            methods=["PUT"], response_class=self.response_class,
            endpoint=create_async_endpoint(self.client.update_item, _PutItem),
            dependencies=self.route_dependencies,
        )
