"""Collections: created from a definition file, kept up to date as items arrive.

A definition (YAML or JSON)::

    id: ce4-lander
    title: Chang'e-4 lander and rover products
    description: Environmental series, spectra and radargrams from the far side.
    license: CC-BY-4.0
    providers: [{name: CNSA, roles: [producer, licensor], url: "https://www.cnsa.gov.cn"}]
    keywords: [Moon, Chang'e-4]
    mission: Chang'e-4
    instruments: [LPR, VNIS, APXS, LND]
    access: {owner: cnsa, level: partners, releasable_to: [esa, roscosmos], embargo_until: 2027-01-01}

`access` fields become the collection's `dc:` defaults (`dc:owner`, `dc:access`,
`dc:releasable_to`, `dc:embargo_until`); mission and instruments seed its summaries.
Extent and summaries (platform, instruments, mission, processing:level, ssys:targets)
grow as items arrive.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from catalog.base import SUMMARISED, Catalog, StacCollection
from datacenter.access import SYSTEM
from datacenter.errors import InvalidRequest, NotFound
from ingest.pipeline import ensure_collection, new_collection
from ingest.product import stac_id
from ingest.vocabulary import normalise

__all__ = ["create_collection", "ensure_collection", "load_definition", "refresh_collection"]

_ACCESS = {"owner": "dc:owner", "level": "dc:access", "access": "dc:access",
           "releasable_to": "dc:releasable_to", "embargo_until": "dc:embargo_until"}  # fmt: skip


def load_definition(path: Path) -> StacCollection:
    """A STAC Collection from a definition file; InvalidRequest naming what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidRequest(f"cannot read the collection definition {path}: {exc}") from exc
    if not isinstance(data, dict) or not data.get("id"):
        raise InvalidRequest(f"collection definition {path} has no 'id'; expected a mapping with id, description, license")
    cid = str(data["id"])
    if stac_id(cid) != cid:
        raise InvalidRequest(f"collection id {cid!r} in {path} has characters outside [a-z0-9._-]; use {stac_id(cid)!r}")
    missing = [k for k in ("description", "license") if not data.get(k)]
    if missing:
        raise InvalidRequest(f"collection definition {path} lacks {', '.join(missing)}; a STAC collection needs both")
    coll = new_collection(cid, data.get("title"))
    coll.update({"description": str(data["description"]), "license": str(data["license"])})
    links = data.get("links") or []
    if not any(link.get("rel") == "license" for link in links if isinstance(link, dict)):
        links = [*links, *license_links(str(data["license"]))]
    coll["links"] = links
    for key in ("providers", "keywords"):
        if data.get(key):
            coll[key] = data[key]
    summaries = coll["summaries"]
    if data.get("mission"):
        summaries["mission"] = [normalise(str(data["mission"]))]
    instruments = data.get("instruments") or data.get("instrument")
    if instruments:
        summaries["instruments"] = [normalise(str(i)) for i in (instruments if isinstance(instruments, list) else [instruments])]
    for key, value in (data.get("access") or {}).items():
        if key not in _ACCESS:
            raise InvalidRequest(f"collection definition {path} has access field {key!r}; expected one of {', '.join(_ACCESS)}")
        coll[_ACCESS[key]] = value if not hasattr(value, "isoformat") else value.isoformat()
    return coll


def create_collection(catalog: Catalog, path: Path) -> StacCollection:
    """Create (or update, keeping its extent and summaries) the collection defined in `path`."""
    coll = load_definition(path)
    try:
        old = catalog.get_collection(coll["id"], viewer=SYSTEM)
    except NotFound:
        old = None
    if old is not None:
        coll["extent"] = old.get("extent", coll["extent"])
        coll["summaries"] = _merge(old.get("summaries") or {}, coll["summaries"])
    catalog.upsert_collection(coll)
    return coll


def refresh_collection(catalog: Catalog, collection_id: str, item_ids: Sequence[str] = ()) -> None:
    """Recompute the extent; merge the items' summarised fields into the summaries."""
    coll = catalog.get_collection(collection_id, viewer=SYSTEM)
    coll = {**coll, "extent": catalog.collection_extent(collection_id, viewer=SYSTEM)}
    for item_id in item_ids:
        try:
            item = catalog.get_item(collection_id, item_id, viewer=SYSTEM)
        except NotFound:
            continue
        props = item.get("properties") or {}
        found = {k: props[k] if isinstance(props[k], list) else [props[k]] for k in SUMMARISED if props.get(k)}
        coll["summaries"] = _merge(coll.get("summaries") or {}, found)
        coll["item_assets"] = _item_assets(coll.get("item_assets") or {}, item)
    catalog.upsert_collection(coll)


def _item_assets(known: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """STAC 1.1 `item_assets`: each asset key an item has, with its media type and roles
    (what STAC Browser and odc-stac show before opening an item)."""
    out = dict(known)
    for key, asset in (item.get("assets") or {}).items():
        if key not in out:
            out[key] = {k: asset[k] for k in ("type", "roles") if asset.get(k)} | {"title": key}
    return out


def license_links(license_id: str) -> list[dict[str, Any]]:
    """A `license` link for an SPDX identifier (STAC asks for one); none for 'other'."""
    if not license_id or license_id in ("other", "proprietary", "various"):
        return []
    return [{"rel": "license", "href": f"https://spdx.org/licenses/{license_id}.html",
             "type": "text/html", "title": f"{license_id} (SPDX)"}]


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = dict(old)
    for key, values in new.items():
        have = list(out.get(key) or [])
        out[key] = have + [v for v in values if v not in have]
    return out
