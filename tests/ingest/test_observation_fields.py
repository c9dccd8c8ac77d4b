"""What a planetary user filters by, taken from real PDS3 labels (tests/data/real, from
USGS ISIS3's test data) and searched over HTTP: the orbit number (`sat:absolute_orbit`), the
phase angle (`dc:phase_angle`), the view angles and the local solar time (`ssys:local_time`),
each declared in /queryables with its type and unit; values as the label writes them, read
here with pvl, not with our reader."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pvl
import pytest

from api.app import create_app
from catalog import open_catalog
from datacenter.storage import Store
from ingest.pipeline import ingest_paths
from tests.api.conftest import serving

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "isis3"
NAC = "lronac/nacl.img"  # LRO NAC EDR: ORBIT_NUMBER
TC = "kaguyatc2isis/TC1S2B0_01_00811N526E0443_mini.lbl"  # SELENE TC: angles and PHASE_ANGLE
MI = "isisimport/1M189529263EFF64KCP2977M2F1_cropped.IMG"  # MER Microscopic Imager: LOCAL_TRUE_SOLAR_TIME


def _label(name: str) -> dict[str, Any]:
    return pvl.load(str(REAL / name))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    root = tmp_path_factory.mktemp("observation")
    sources = []
    for name in (NAC, TC, MI):
        for file in (REAL / name).parent.glob(Path(name).stem + ".*"):
            shutil.copy(file, root / file.name)
        sources.append(root / Path(name).name)
    catalog = open_catalog(f"sqlite:///{root / 'catalog.sqlite'}")
    report = ingest_paths(sources, collection_id="real", catalog=catalog, store=Store(str(root / "store")),
                          access={"dc:owner": "ILRS", "dc:access": "public"})  # fmt: skip
    assert report.ok, [r.reason for r in report.failed]
    by_file = {Path(r.path).name: r.id for r in report.results}
    ids = {name: by_file[Path(name).name] for name in (NAC, TC, MI)}
    with serving(create_app(catalog, Store(str(root / "store")))) as url:
        yield url, ids
    catalog.close()


def _search(url: str, cql2: str) -> list[str]:
    got = httpx.get(f"{url}search", params={"filter": cql2, "limit": 100}, timeout=30)
    assert got.status_code == 200, got.text
    return [f["id"] for f in got.json()["features"]]


def _item(url: str, item_id: str) -> dict[str, Any]:
    return httpx.get(f"{url}collections/real/items/{item_id}", timeout=30).json()


def test_the_orbit_number_of_an_lro_nac_image_is_searchable(served, stac_offline) -> None:
    url, ids = served
    orbit = int(_label(NAC)["ORBIT_NUMBER"])
    item = _item(url, ids[NAC])
    assert item["properties"]["sat:absolute_orbit"] == orbit == 1955
    assert "https://stac-extensions.github.io/sat/v1.0.0/schema.json" in item["stac_extensions"]
    assert _search(url, f'"sat:absolute_orbit" = {orbit}') == [ids[NAC]]
    assert _search(url, f'"sat:absolute_orbit" > {orbit}') == []
    assert stac_offline.validate_dict(item) == []


def test_the_phase_and_view_angles_of_a_kaguya_tc_image_are_searchable(served, stac_offline) -> None:
    url, ids = served
    label = _label(TC)
    props = _item(url, ids[TC])["properties"]
    assert props["dc:phase_angle"] == pytest.approx(float(label["PHASE_ANGLE"].value))
    assert props["view:incidence_angle"] == pytest.approx(float(label["INCIDENCE_ANGLE"].value))
    assert props["dc:emission_angle"] == pytest.approx(float(label["EMISSION_ANGLE"].value))
    assert _search(url, '"dc:phase_angle" > 80 AND "view:incidence_angle" > 70') == [ids[TC]]
    assert _search(url, '"dc:phase_angle" < 80') == []
    assert stac_offline.validate_dict(_item(url, ids[TC])) == []


def test_the_local_solar_time_of_a_rover_image_is_kept_as_the_label_writes_it(served) -> None:
    url, ids = served
    written = next(line for line in (REAL / MI).read_bytes().decode("latin-1").splitlines()
                   if line.startswith("LOCAL_TRUE_SOLAR_TIME")).split("=")[1].strip()  # fmt: skip
    assert _item(url, ids[MI])["properties"]["ssys:local_time"] == written == "12:07:38"
    assert _search(url, "\"ssys:local_time\" >= '12:00:00' AND \"ssys:local_time\" < '13:00:00'") == [ids[MI]]


def test_queryables_declare_the_observation_fields_with_type_and_unit(served) -> None:
    url, _ = served
    props = httpx.get(f"{url}queryables", timeout=30).json()["properties"]
    assert props["sat:absolute_orbit"]["type"] == "integer"
    assert props["dc:phase_angle"]["type"] == "number" and props["dc:phase_angle"]["unit"] == "deg"
    assert props["view:incidence_angle"]["unit"] == "deg"
    assert props["ssys:local_time"]["type"] == "string"
