"""Each client of docs/clients.md, run from the page's own example against a live server on
both catalog backends, gets the values of the COG (or Zarr store) it reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr

from tests.clients.conftest import ORTHO, POLAR, ClientsServer

DEBIAN_PYTHON = Path("/usr/bin/python3")  # Debian's, with python3-qgis (see .ci/run)
DEBIAN_GDALINFO = Path("/usr/bin/gdalinfo")  # Debian 12's GDAL 3.6 (gdal-bin, with QGIS)


def cog_pixels(server: ClientsServer, collection: str, item_id: str) -> np.ndarray:
    """Band 1 of the COG the pipeline wrote for `item_id`, read from the store's folder (not
    the kept original, which may be a GeoTIFF of the same name)."""
    (path,) = (p for p in (server.root / "store" / collection).rglob(f"{item_id}*.tif") if "original" not in p.parts)
    with rasterio.open(path) as cog:
        return cog.read(1)


def run_example(server: ClientsServer, name: str, **replace: str) -> dict[str, Any]:
    code = server.example(name)
    for old, new in replace.items():
        code = code.replace(old, new)
    namespace: dict[str, Any] = {"__name__": f"docs_clients_{name}"}
    exec(compile(code, f"docs/clients.md:{name}", "exec"), namespace)  # noqa: S102 - our own doc
    return namespace


@pytest.fixture
def celestial_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """PROJ's body check back as it was after the test (examples set it), transformers uncached."""
    monkeypatch.delenv("PROJ_IGNORE_CELESTIAL_BODY", raising=False)
    monkeypatch.setenv("PROJ_IGNORE_CELESTIAL_BODY", "NO")
    monkeypatch.delenv("PROJ_IGNORE_CELESTIAL_BODY")
    from odc.geo import crs as odc_crs

    odc_crs._make_crs_transform.cache_clear()
    yield monkeypatch
    odc_crs._make_crs_transform.cache_clear()


def test_pystac_client_example_finds_the_polar_dem(clients_server: ClientsServer) -> None:
    assert run_example(clients_server, "pystac-client")["polar_ids"] == [POLAR]


def test_odc_stac_without_the_body_override_fails_as_documented(
    clients_server: ClientsServer, celestial_env: pytest.MonkeyPatch
) -> None:
    import odc.stac
    import pystac_client
    from pyproj.exceptions import ProjError

    items = list(pystac_client.Client.open(clients_server.url).search(ids=[POLAR]).items())
    with pytest.raises(ProjError, match="same celestial body"):
        odc.stac.load(items, bands=["data"])


def test_odc_stac_example_loads_the_polar_dem_with_the_cog_values(
    clients_server: ClientsServer, celestial_env: pytest.MonkeyPatch
) -> None:
    ns = run_example(clients_server, "odc-stac")
    np.testing.assert_array_equal(ns["heights"], cog_pixels(clients_server, "lunar-samples", POLAR))
    assert ns["dem"].odc.geobox.crs.to_epsg() is None
    assert ns["dem"].odc.geobox.crs._crs.to_authority("IAU_2015") == ("IAU_2015", "30135")
    assert str(ns["dem"]["time"].values[0]).startswith("2009-07-13")  # the product's start


def test_stackstac_refuses_lunar_items_without_an_epsg_as_documented(clients_server: ClientsServer) -> None:
    import pystac_client
    import stackstac

    items = list(pystac_client.Client.open(clients_server.url).search(ids=[POLAR, ORTHO]).items())
    with pytest.raises(ValueError, match="Cannot pick a common CRS"):
        stackstac.stack(items, assets=["data"])


def test_stackstac_example_reads_a_geographic_item_with_the_cog_values(
    clients_server: ClientsServer, celestial_env: pytest.MonkeyPatch
) -> None:
    ns = run_example(clients_server, "stackstac")
    np.testing.assert_array_equal(ns["pixels"], cog_pixels(clients_server, "lunar-samples", ORTHO))


def test_xarray_example_opens_the_zarr_cube_with_the_source_values(clients_server: ClientsServer) -> None:
    ns = run_example(clients_server, "xarray")
    with rasterio.open(clients_server.sources["cube"]) as src:
        np.testing.assert_array_equal(ns["cube"]["data"].values, src.read())
    assert isinstance(ns["cube"], xr.Dataset) and ns["cube"]["band"].attrs["units"] == "nm"


def _run_gdal(code: str, tmp_path: Path, key: str | None) -> subprocess.CompletedProcess[str]:
    """`code` in a new Python: rasterio holds the GIL while it opens a dataset, which would
    starve the test server answering in this process's thread."""
    save = "\nimport numpy as np\n" + "".join(
        f"if '{name}' in dir():\n    np.save({str(tmp_path / name)!r}, {name})\n"
        for name in ("mosaic_pixels", "cog_pixels"))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "DATACENTER_KEY"} | ({"DATACENTER_KEY": key} if key else {})
    return subprocess.run([sys.executable, "-c", code + save], capture_output=True, text=True, timeout=120,
                          env=env, cwd=tmp_path)  # fmt: skip


def test_gdal_example_reads_stacit_and_vsicurl_with_the_cog_values(
    clients_server: ClientsServer, tmp_path: Path
) -> None:
    assert tuple(int(p) for p in rasterio.__gdal_version__.split(".")[:2]) >= (3, 10)
    run = _run_gdal(clients_server.example("gdal"), tmp_path, None)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "IAU_2015:30100" in run.stdout
    expected = cog_pixels(clients_server, "lunar-samples", ORTHO)
    np.testing.assert_array_equal(np.load(tmp_path / "mosaic_pixels.npy"), expected)
    np.testing.assert_array_equal(np.load(tmp_path / "cog_pixels.npy"), expected)


def test_gdal_example_sends_a_partner_key_in_gdal_http_headers(
    clients_server: ClientsServer, tmp_path: Path
) -> None:
    code = clients_server.example("gdal").replace("/lunar-samples/", "/cnsa-only/")
    code = code.split("with rasterio.open(f'STACIT", 1)[0] + code.split("mosaic_pixels = mosaic.read(1)\n", 1)[1]
    run = _run_gdal(code, tmp_path, clients_server.keys["ESA"])
    assert run.returncode == 0, run.stderr[-3000:]
    np.testing.assert_array_equal(np.load(tmp_path / "cog_pixels.npy"), cog_pixels(clients_server, "cnsa-only", ORTHO))
    refused = _run_gdal(code, tmp_path, clients_server.keys["JAXA"])  # not cleared: 404
    assert refused.returncode != 0 and "RasterioIOError" in refused.stderr


def test_debian_gdal_3_6_stacit_finds_no_asset_as_documented(clients_server: ClientsServer) -> None:
    assert DEBIAN_GDALINFO.is_file(), "Debian's gdal-bin is missing (.ci/run installs it with python3-qgis)"
    search = f"{clients_server.url}search?collections=lunar-samples&ids={ORTHO}"
    run = subprocess.run([str(DEBIAN_GDALINFO), f'STACIT:"{search}"'], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "GDAL_HTTP_HEADERS": ""})  # fmt: skip
    version = subprocess.run([str(DEBIAN_GDALINFO), "--version"], capture_output=True, text=True).stdout
    if version.startswith("GDAL 3.6"):
        assert run.returncode != 0 and "No compatible asset found" in run.stderr
    else:  # a newer Debian GDAL: the documented minimum is what matters
        assert "Driver: VRT" in run.stdout or run.returncode != 0, run.stderr


def _qgis(server: ClientsServer, collection: str, key: str | None, tmp_path: Path) -> list[str]:
    assert DEBIAN_PYTHON.is_file() and subprocess.run(
        [str(DEBIAN_PYTHON), "-c", "import qgis.core"], capture_output=True).returncode == 0, (
        "Debian's python3-qgis is missing (.ci/run installs it)")  # fmt: skip
    code = server.example("qgis").replace("/lunar-samples/", f"/{collection}/")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "GDAL_HTTP"))}
    env |= {"QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path)}
    if key:
        env["DATACENTER_KEY"] = key
    run = subprocess.run([str(DEBIAN_PYTHON), "-c", code], capture_output=True, text=True, timeout=120,
                         env=env, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout.strip().splitlines()[-1].split()


def test_qgis_headless_reads_a_pixel_of_a_restricted_cog_with_a_partner_key(
    clients_server: ClientsServer, tmp_path: Path
) -> None:
    valid, *crs, value = _qgis(clients_server, "cnsa-only", clients_server.keys["ESA"], tmp_path)
    assert valid == "True" and " ".join(crs) == "Moon (2015) - Sphere / Ocentric"
    assert float(value) == float(cog_pixels(clients_server, "cnsa-only", ORTHO)[0, 0])


def test_qgis_without_clearance_cannot_open_the_restricted_cog(
    clients_server: ClientsServer, tmp_path: Path
) -> None:
    valid, *_ = _qgis(clients_server, "cnsa-only", clients_server.keys["JAXA"], tmp_path)
    assert valid == "False"


def test_curl_example_searches_and_reads_a_byte_range(clients_server: ClientsServer, tmp_path: Path) -> None:
    run = subprocess.run(["bash", "-c", clients_server.example("curl")], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env={**os.environ, "DATACENTER_KEY": ""})  # fmt: skip
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert [f["id"] for f in found["features"]] == [POLAR]
    assert (tmp_path / "head.bin").read_bytes() == b"II*\x00"
