"""Map tiles over real HTTP on both catalog backends: pixels equal a nearest-neighbour read
of the COG, polar tiles meet at the pole, hidden items give 404 tiles and never show in a
mosaic, caching headers, TileJSON and clear 400s."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
from rasterio.io import MemoryFile

from api.app import create_app
from api.tiles.grids import tile_matrix_set
from datacenter.access import SYSTEM
from tests.api.browse_site import (
    BASEMAP,
    RESTRICTED_COLLECTION,
    RESTRICTED_ID,
    SAMPLES,
    Site,
    build_site,
)
from tests.api.conftest import serving

R = 1_737_400.0


@pytest.fixture(scope="module", params=["pgstac", "sqlite"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("tiles")
    url = (request.getfixturevalue("pg_cluster").new_database() if request.param == "pgstac"
           else f"sqlite:///{root / 'catalog.sqlite'}")  # fmt: skip
    site = build_site(root, url)
    with serving(create_app(site.catalog, site.store)) as api:
        site.url = api
        yield site
    site.catalog.close()


@pytest.fixture
def http(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=60) as client:
        yield client


def _decode(body: bytes) -> np.ndarray:
    with MemoryFile(body) as mem, mem.open() as img:
        return img.read()


def _cog(site: Site, collection: str, item_id: str) -> str:
    item = site.catalog.get_item(collection, item_id, viewer=SYSTEM)
    return site.store.path(item["assets"]["data"]["href"])


def _centres(tms_id: str, z: int, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    b = tile_matrix_set(tms_id).xy_bounds(x, y, z)
    step = (b.right - b.left) / 256
    xs = b.left + (np.arange(256) + 0.5) * step
    ys = b.top - (np.arange(256) + 0.5) * step
    return np.meshgrid(xs, ys)


def _nearest(data: np.ndarray, transform, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source values at map coordinates by nearest neighbour (pixel containing the point)."""
    cols = np.floor((xs - transform.c) / transform.a).astype(int)
    rows = np.floor((ys - transform.f) / transform.e).astype(int)
    inside = (rows >= 0) & (rows < data.shape[0]) & (cols >= 0) & (cols < data.shape[1])
    values = np.zeros(xs.shape, dtype=data.dtype)
    values[inside] = data[rows[inside], cols[inside]]
    return values, inside


def test_item_tile_pixels_equal_a_nearest_read_of_the_cog(site: Site, http: httpx.Client) -> None:
    # kaguya TC tile: Moon geographic 20-25 E, 0-5 N at 64 px/deg, read into equirectangular metres
    t = tile_matrix_set("MoonEquirectangular").tile(21.0, 1.0, 6)
    z, x, y = t.z, t.x, t.y
    r = http.get(f"collections/{SAMPLES}/items/kaguya_tc_ortho_n05e020/tiles/MoonEquirectangular/{z}/{x}/{y}.png")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    grey, alpha = _decode(r.content)
    with rasterio.open(_cog(site, SAMPLES, "kaguya_tc_ortho_n05e020")) as cog:
        data, transform = cog.read(1), cog.transform
    xs, ys = _centres("MoonEquirectangular", z, x, y)
    lon, lat = np.degrees(xs / R), np.degrees(ys / R)
    expected, inside = _nearest(data, transform, lon, lat)
    assert inside.mean() > 0.2  # the tile really overlaps the product
    np.testing.assert_array_equal(alpha == 255, inside)
    np.testing.assert_array_equal(grey[inside], expected[inside])


def _dem_tile(http: httpx.Client, site: Site, tx: int, ty: int, rescale: str,
              path: str | None = None, **headers: str) -> httpx.Response:  # fmt: skip
    path = path or f"collections/{SAMPLES}/items/ldem_87s_40m/tiles"
    params = {"rescale": rescale}
    if path.startswith("search"):  # the samples and the restricted image, not the basemap
        params["collections"] = f"{SAMPLES},{RESTRICTED_COLLECTION}"
    return http.get(f"{path}/MoonSouthPolar/8/{tx}/{ty}.png", params=params, headers=headers)


def test_south_polar_tiles_of_the_polar_dem_meet_at_the_pole(site: Site, http: httpx.Client) -> None:
    with rasterio.open(_cog(site, SAMPLES, "ldem_87s_40m")) as cog:
        data, transform, nodata = cog.read(1), cog.transform, cog.nodata
    low = int(np.median(data[data != nodata]))  # rescale low..low+255 maps a DN to DN - low exactly
    tms = tile_matrix_set("MoonSouthPolar")
    pole = tms.tile(0.0, -90.0 + 1e-9, 8)
    corners = {(127, 127), (128, 127), (127, 128), (128, 128)}
    assert (pole.x, pole.y) in corners  # the pole is the corner the four tiles share
    for tx, ty in corners:
        r = _dem_tile(http, site, tx, ty, f"{low},{low + 255}")
        assert r.status_code == 200, r.text
        grey, alpha = _decode(r.content)
        xs, ys = _centres("MoonSouthPolar", 8, tx, ty)
        expected, inside = _nearest(data, transform, xs, ys)
        valid = inside & (expected != nodata)
        np.testing.assert_array_equal(alpha == 255, valid)
        exact = valid & (expected >= low) & (expected < low + 255)
        assert exact.sum() > 1000
        np.testing.assert_array_equal(grey[exact].astype(int), expected[exact].astype(int) - low)
        # the pixel next to the pole is the DEM's centre pixel
        row, col = (255 if ty == 127 else 0), (255 if tx == 127 else 0)
        assert alpha[row, col] == 255
        src_row, src_col = (255 if ty == 127 else 256), (255 if tx == 127 else 256)
        if low <= data[src_row, src_col] < low + 255:
            assert int(grey[row, col]) == int(data[src_row, src_col]) - low


def test_a_hidden_item_gives_404_tiles_tilejson_and_thumbnail(site: Site, http: httpx.Client) -> None:
    base = f"collections/{RESTRICTED_COLLECTION}/items/{RESTRICTED_ID}"
    tile = f"{base}/tiles/MoonSouthPolar/8/128/127.png"
    missing = http.get(f"collections/{RESTRICTED_COLLECTION}/items/no-such-item/tiles/MoonSouthPolar/8/128/127.png")
    for key in (None, site.roscosmos_key):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        for path in (tile, f"{base}/tiles/MoonSouthPolar/tilejson.json", f"{base}/assets/thumbnail",
                     f"{base}/assets/overview"):  # fmt: skip
            r = http.get(path, headers=headers)
            assert r.status_code == 404, (path, key, r.status_code)
            assert r.json()["code"] == missing.json()["code"]
    esa = {"Authorization": f"Bearer {site.esa_key}"}
    assert http.get(tile, headers=esa).status_code == 200
    thumb = http.get(f"{base}/assets/thumbnail", headers=esa)
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")


def test_a_mosaic_tile_never_draws_a_hidden_item(site: Site, http: httpx.Client) -> None:
    rescale = "1,255"
    search = "search/tiles"
    anonymous = _decode(_dem_tile(http, site, 128, 127, rescale, search).content)
    dem_only = _decode(_dem_tile(http, site, 128, 127, rescale).content)
    np.testing.assert_array_equal(anonymous, dem_only)  # exactly the public DEM, nothing else
    roscosmos = _decode(_dem_tile(http, site, 128, 127, rescale, search,
                                  Authorization=f"Bearer {site.roscosmos_key}").content)  # fmt: skip
    np.testing.assert_array_equal(roscosmos, dem_only)
    esa = _decode(_dem_tile(http, site, 128, 127, rescale, search,
                            Authorization=f"Bearer {site.esa_key}").content)  # fmt: skip
    restricted = _decode(_dem_tile(http, site, 128, 127, rescale,
                                   f"collections/{RESTRICTED_COLLECTION}/items/{RESTRICTED_ID}/tiles",
                                   Authorization=f"Bearer {site.esa_key}").content)  # fmt: skip
    on_top = restricted[1] == 255
    assert on_top.sum() > 1000
    np.testing.assert_array_equal(esa[:, on_top], restricted[:, on_top])  # newest on top
    assert not np.array_equal(esa, anonymous)
    # the restricted collection's own mosaic is empty (404) for those who may not see it
    r = http.get(f"collections/{RESTRICTED_COLLECTION}/tiles/MoonSouthPolar/8/128/127.png")
    assert r.status_code == 404


def test_tiles_carry_an_etag_and_keyed_answers_are_private(site: Site, http: httpx.Client) -> None:
    path = f"collections/{SAMPLES}/items/ldem_87s_40m/tiles/MoonSouthPolar/8/128/127.png"
    first = http.get(path)
    assert first.headers["cache-control"].startswith("public")
    again = http.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    keyed = http.get(path, headers={"Authorization": f"Bearer {site.esa_key}"})
    assert keyed.headers["cache-control"].startswith("private")
    other = http.get(path, params={"rescale": "0,100"})
    assert other.headers["etag"] != first.headers["etag"]
    mosaic = http.get("search/tiles/MoonSouthPolar/8/128/127.png",
                      headers={"Authorization": f"Bearer {site.esa_key}"})  # fmt: skip
    assert mosaic.headers["cache-control"].startswith("private")
    assert http.get("search/tiles/MoonSouthPolar/8/128/127.png",
                    headers={"If-None-Match": mosaic.headers["etag"]}).status_code == 200  # fmt: skip


def test_webp_colormap_and_bidx(site: Site, http: httpx.Client) -> None:
    base = f"collections/{SAMPLES}/items/ldem_87s_40m/tiles/MoonSouthPolar/8/128/127"
    webp = http.get(f"{base}.webp")
    assert webp.status_code == 200 and webp.headers["content-type"] == "image/webp"
    assert webp.content[8:12] == b"WEBP"
    coloured = _decode(http.get(f"{base}.png", params={"colormap": "viridis", "bidx": "1"}).content)
    assert coloured.shape[0] == 4 and not np.array_equal(coloured[0], coloured[1])


def test_the_basemap_mosaic_covers_each_view(site: Site, http: httpx.Client) -> None:
    for tms in ("MoonEquirectangular", "MoonNorthPolar", "MoonSouthPolar"):
        r = http.get(f"collections/{BASEMAP}/tiles/{tms}/0/0/0.png")
        assert r.status_code == 200, (tms, r.text)
        alpha = _decode(r.content)[-1]
        assert (alpha == 255).mean() > 0.9


def test_tilejson_names_the_template_zooms_and_bounds(site: Site, http: httpx.Client) -> None:
    tj = http.get(f"collections/{SAMPLES}/items/ldem_87s_40m/tiles/MoonSouthPolar/tilejson.json",
                  params={"rescale": "0,10"}).json()  # fmt: skip
    assert tj["tilejson"] == "3.0.0" and tj["crs"] == "IAU_2015:30135"
    assert tj["tiles"][0].endswith("/tiles/MoonSouthPolar/{z}/{x}/{y}.png?rescale=0%2C10")
    assert tj["maxzoom"] == 8 and tj["bounds"][1] == -90
    grids = http.get("tileMatrixSets").json()["tileMatrixSets"]
    assert {g["crs"] for g in grids} == {"IAU_2015:30110", "IAU_2015:30130", "IAU_2015:30135"}
    doc = http.get("tileMatrixSets/MoonSouthPolar").json()
    assert doc["tileMatrices"][0]["matrixWidth"] == 1
    assert math.isclose(doc["tileMatrices"][0]["cellSize"] * 256, 2 * 2 * R * math.tan(math.radians(22.5)))


@pytest.mark.parametrize(("path", "status", "names"), [
    ("collections/lunar-samples/items/ldem_87s_40m/tiles/WebMercatorQuad/0/0/0.png", 400, "MoonSouthPolar"),
    ("collections/lunar-samples/items/ldem_87s_40m/tiles/MoonSouthPolar/0/0/0.png?rescale=1", 400, "min,max"),
    ("collections/lunar-samples/items/ldem_87s_40m/tiles/MoonSouthPolar/0/0/0.png?colormap=nope", 400, "colormap"),
    ("collections/lunar-samples/items/ldem_87s_40m/tiles/MoonSouthPolar/0/0/0.png?bidx=3", 400, "bidx"),
    ("collections/lunar-samples/items/ldem_87s_40m/tiles/MoonSouthPolar/1/5/0.png", 404, "outside"),
    ("collections/lunar-samples/items/ldem_87s_40m/tiles/MoonNorthPolar/8/128/127.png", 404, "no pixels"),
])  # fmt: skip
def test_bad_tile_requests_are_one_line_errors(http: httpx.Client, path: str, status: int, names: str) -> None:
    r = http.get(path)
    assert r.status_code == status, r.text
    assert names in r.json()["description"]


def test_thumbnail_is_served_as_a_png_asset(site: Site, http: httpx.Client, tmp_path: Path) -> None:
    item = http.get(f"collections/{SAMPLES}/items/ldem_87s_40m").json()
    r = http.get(item["assets"]["thumbnail"]["href"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
