"""The Aggregation extension on both backends: buckets count exactly what /search returns to
the same caller (anonymous, a partner the restricted items are released to, one they are
not), by collection, mission, platform, instrument, processing level, month and lon/lat cell."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from catalog import open_catalog
from datacenter.storage import Store
from tests.api.conftest import serving


def _item(cid: str, iid: str, bbox: list[float], when: str, mission: str, platform: str,
          instruments: list[str], level: str, access: dict) -> dict:  # fmt: skip
    w, s, e, n = bbox
    return {"type": "Feature", "stac_version": "1.1.0", "id": iid, "collection": cid, "links": [], "assets": {},
            "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
            if w < e else {"type": "MultiPolygon", "coordinates": [
                [[[w, s], [180, s], [180, n], [w, n], [w, s]]], [[[-180, s], [e, s], [e, n], [-180, n], [-180, s]]]]},
            "bbox": bbox, "properties": {"datetime": when, "mission": mission, "platform": platform,
                                         "instruments": instruments, "processing:level": level,
                                         "dc:owner": "CNSA", **access}}  # fmt: skip


PUBLIC = {"dc:access": "public"}
ESA_ONLY = {"dc:access": "restricted", "dc:releasable_to": ["ESA"]}
ITEMS = [
    _item("lro", "a", [10, 0, 20, 10], "2009-07-13T00:00:00Z", "LRO", "lro", ["lola"], "L2", PUBLIC),
    _item("lro", "b", [12, 2, 14, 4], "2009-07-20T00:00:00Z", "LRO", "lro", ["lola", "lroc"], "L3", PUBLIC),
    _item("lro", "c", [175, -5, -175, 5], "2010-01-01T00:00:00Z", "LRO", "lro", ["lroc"], "L2", PUBLIC),
    _item("ce7", "d", [-180, -90, 180, -85], "2026-11-02T00:00:00Z", "Chang'e-7", "ce-7", ["mcam"], "L2", ESA_ONLY),
    _item("ce7", "e", [0, -89, 10, -88], "2026-11-03T00:00:00Z", "Chang'e-7", "ce-7", ["mcam"], "L1", ESA_ONLY),
    _item("ce7", "f", [40, -60, 45, -55], "2026-10-03T00:00:00Z", "Chang'e-7", "ce-7", ["lpr"], "L2", PUBLIC),
]  # fmt: skip


@pytest.fixture(scope="module", params=["pgstac", "sqlite"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    root: Path = tmp_path_factory.mktemp("aggregate")
    url = (request.getfixturevalue("pg_cluster").new_database() if request.param == "pgstac"
           else f"sqlite:///{root / 'catalog.sqlite'}")  # fmt: skip
    catalog = open_catalog(url)
    for cid in ("lro", "ce7"):
        catalog.upsert_collection({"type": "Collection", "id": cid, "description": cid, "license": "other",
                                   "links": [], "dc:owner": "CNSA", "dc:access": "public"})  # fmt: skip
    catalog.upsert_items(ITEMS)
    partners = catalog.partner_store()
    keys = {"anonymous": {}, "ESA": {"Authorization": f"Bearer {partners.add_partner('ESA').secret_text}"},
            "ROSCOSMOS": {"Authorization": f"Bearer {partners.add_partner('ROSCOSMOS').secret_text}"}}  # fmt: skip
    with serving(create_app(catalog, Store(str(root / "store")))) as api:
        yield api, keys
    catalog.close()


ALL = ("total_count,collection_frequency,mission_frequency,platform_frequency,instrument_frequency,"
       "processing_level_frequency,datetime_frequency,centroid_lonlat_grid_frequency")  # fmt: skip


def _buckets(answer: dict, name: str) -> dict[str, int]:
    agg = next(a for a in answer["aggregations"] if a["name"] == name)
    return {b["key"]: b["frequency"] for b in agg["buckets"]}


@pytest.mark.parametrize("who", ["anonymous", "ESA", "ROSCOSMOS"])
def test_buckets_count_exactly_what_the_same_caller_finds(site, who: str) -> None:
    api, keys = site
    with httpx.Client(base_url=api, headers=keys[who], timeout=30) as http:
        found = http.get("search", params={"limit": 100}).json()
        answer = http.get("aggregate", params={"aggregations": ALL}).json()
    features = found["features"]
    assert answer["type"] == "AggregationCollection"
    total = next(a for a in answer["aggregations"] if a["name"] == "total_count")["value"]
    assert total == found["numberMatched"] == len(features) == (6 if who == "ESA" else 4)
    assert _buckets(answer, "collection_frequency") == dict(Counter(f["collection"] for f in features))
    assert _buckets(answer, "mission_frequency") == dict(Counter(f["properties"]["mission"] for f in features))
    assert _buckets(answer, "instrument_frequency") == dict(
        Counter(i for f in features for i in f["properties"]["instruments"]))
    assert _buckets(answer, "processing_level_frequency") == dict(
        Counter(f["properties"]["processing:level"] for f in features))
    months = _buckets(answer, "datetime_frequency")
    assert months["2009-07-01T00:00:00Z"] == 2
    assert sum(months.values()) == total
    if who != "ESA":
        assert "mcam" not in _buckets(answer, "instrument_frequency")  # a hidden item counts nowhere


def test_the_lonlat_grid_places_centres_across_the_antimeridian_and_at_the_pole(site) -> None:
    api, keys = site
    answer = httpx.get(f"{api}aggregate", params={"aggregations": "centroid_lonlat_grid_frequency",
                                                  "grid_size": 10}, headers=keys["ESA"]).json()  # fmt: skip
    cells = _buckets(answer, "centroid_lonlat_grid_frequency")
    assert cells == {"10,0": 2, "-180,0": 1, "0,-90": 2, "40,-60": 1}  # c is centred on 180 E


def test_collection_aggregate_and_post_search_narrow_the_counts(site) -> None:
    api, keys = site
    r = httpx.get(f"{api}collections/ce7/aggregate", params={"aggregations": "total_count,platform_frequency"})
    assert r.status_code == 200
    assert _buckets(r.json(), "platform_frequency") == {"ce-7": 1}  # anonymous sees f only
    posted = httpx.post(f"{api}aggregate", headers=keys["ESA"], json={
        "collections": ["ce7"], "datetime": "2026-11-01T00:00:00Z/..", "aggregations": ["datetime_frequency"],
        "datetime_frequency_interval": "day"}).json()  # fmt: skip
    assert _buckets(posted, "datetime_frequency") == {"2026-11-02T00:00:00Z": 1, "2026-11-03T00:00:00Z": 1}
    names = {a["name"] for a in httpx.get(f"{api}aggregations").json()["aggregations"]}
    assert {"total_count", "collection_frequency", "datetime_frequency", "centroid_lonlat_grid_frequency"} <= names


@pytest.mark.parametrize(("params", "names"), [
    ({"aggregations": "nope"}, "not known"),
    ({"aggregations": "datetime_frequency", "datetime_frequency_interval": "week"}, "datetime_frequency_interval"),
    ({"aggregations": "centroid_lonlat_grid_frequency", "grid_size": "7"}, "grid_size"),
    ({"aggregations": "total_count", "bbox": "1,2"}, "bbox"),
])  # fmt: skip
def test_bad_aggregation_requests_are_400_naming_the_parameter(site, params: dict, names: str) -> None:
    api, _ = site
    r = httpx.get(f"{api}aggregate", params=params)
    assert r.status_code == 400 and names in r.json()["description"]


def test_a_hidden_collection_aggregate_is_404(site) -> None:
    api, _ = site
    assert httpx.get(f"{api}collections/nope/aggregate").status_code == 404
