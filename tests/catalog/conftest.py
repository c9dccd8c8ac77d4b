"""Fixtures for the catalog contract: every backend runs the same behaviour tests.

`catalog` is a fresh catalog of each backend with one collection, "lro-nac": SQLite on a
real file in `tmp_path`, pgstac in a fresh database of the session's throw-away PostgreSQL
cluster. `catalog_url` is the URL `open_catalog` takes for that same catalog.
`make_item` builds a minimal valid STAC Item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from catalog import open_catalog
from catalog.base import Catalog

COLLECTION = "lro-nac"


def rect(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def make_item_dict(
    item_id: str,
    geometry: dict[str, Any] | None = None,
    *,
    datetime: str | None = "2024-01-01T00:00:00Z",
    start: str | None = None,
    end: str | None = None,
    collection: str = COLLECTION,
    bbox: list[float] | None = None,
    **properties: Any,
) -> dict[str, Any]:
    geometry = rect(0, 0, 1, 1) if geometry is None else geometry
    # public unless the test says otherwise: these tests are about place, time and paging
    props: dict[str, Any] = {"datetime": datetime, "dc:access": "public", **properties}
    if start is not None:
        props["start_datetime"] = start
    if end is not None:
        props["end_datetime"] = end
    item: dict[str, Any] = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": item_id,
        "collection": collection,
        "geometry": geometry,
        "properties": props,
        "links": [],
        "assets": {"data": {"href": f"{collection}/{item_id}.tif"}},
    }
    if bbox is not None:
        item["bbox"] = bbox
    return item


BACKENDS = ("pgstac", "sqlite")


@pytest.fixture
def catalog_path(tmp_path: Any) -> Any:
    return tmp_path / "nested" / "catalog.sqlite"


@pytest.fixture(params=BACKENDS)
def catalog_url(request: pytest.FixtureRequest, catalog_path: Any) -> str:
    if request.param == "pgstac":
        return str(request.getfixturevalue("pgstac_dsn"))
    return f"sqlite:///{catalog_path}"


@pytest.fixture
def backend(catalog_url: str) -> Callable[[], Catalog]:
    return lambda: open_catalog(catalog_url)


@pytest.fixture
def catalog(backend: Callable[[], Catalog]) -> Iterator[Catalog]:
    with backend() as cat:
        cat.upsert_collection({"id": COLLECTION, "type": "Collection", "dc:access": "public", "title": "LRO NAC"})
        yield cat


@pytest.fixture
def make_item() -> Callable[..., dict[str, Any]]:
    return make_item_dict


@pytest.fixture(name="rect")
def rect_fixture() -> Callable[[float, float, float, float], dict[str, Any]]:
    return rect
