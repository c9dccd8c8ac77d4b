"""Changing the access metadata of a stored collection, item or asset (`datacenter access set`).

The change is a write of the record through the catalog contract, so the backend's access
columns follow at once and the next request on every path sees it (nothing is cached).
An item may only narrow its collection's access, and an asset its item's.
"""

from __future__ import annotations

from typing import Any

from catalog.base import Catalog
from datacenter.access import (
    SYSTEM,
    AccessMeta,
    asset_meta,
    dc_fields,
    narrowing_problem,
    with_fields,
)
from datacenter.errors import AssetNotFound, InvalidRequest


def check_narrows(inner_fields: dict[str, Any], outer_fields: dict[str, Any], what: str, of: str) -> None:
    problem = narrowing_problem(AccessMeta.from_fields(inner_fields), AccessMeta.from_fields(outer_fields))
    if problem:
        raise InvalidRequest(
            f"{what} may only narrow the access of {of}, but its {problem}; change {of} first "
            "(`datacenter access set`) or give narrower options"
        )


def set_access(
    catalog: Catalog,
    fields: dict[str, Any],
    collection_id: str,
    item_id: str | None = None,
    asset_key: str | None = None,
) -> dict[str, Any]:
    """Lay `fields` over the record's ``dc:`` fields and store it; returns the record's new fields."""
    collection = catalog.get_collection(collection_id, viewer=SYSTEM)
    if item_id is None:
        if asset_key is not None:
            raise InvalidRequest("--asset needs --item COLLECTION_ID/ITEM_ID (assets belong to items)")
        updated = with_fields(collection, fields)
        AccessMeta.from_fields(updated)
        catalog.upsert_collection(updated)
        return dc_fields(updated)
    item = catalog.get_item(collection_id, item_id, viewer=SYSTEM)
    props = item.get("properties") or {}
    if asset_key is None:
        new_props = with_fields(props, fields)
        check_narrows(dc_fields(new_props), dc_fields(collection), f"item {collection_id}/{item_id}",
                      f"collection {collection_id}")
        catalog.upsert_items([{**item, "properties": new_props}])
        return dc_fields(new_props)
    assets = dict(item.get("assets") or {})
    if asset_key not in assets:
        raise AssetNotFound(
            f"item {collection_id}/{item_id} has no asset {asset_key!r}; its assets are: "
            + (", ".join(sorted(assets)) or "none")
        )
    asset = with_fields(assets[asset_key], fields)
    effective = asset_meta(props, asset)
    check_narrows(effective.to_fields(), dc_fields(props), f"asset {asset_key!r}",
                  f"item {collection_id}/{item_id}")
    assets[asset_key] = asset
    catalog.upsert_items([{**item, "assets": assets}])
    return dc_fields(asset)
