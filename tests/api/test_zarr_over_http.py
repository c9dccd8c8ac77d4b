"""A Zarr asset ingested by `datacenter ingest` opens with `xarray.open_zarr` at the href
the API serves (fsspec's HTTP filesystem, one request per key through the download route)."""

from __future__ import annotations

import warnings

import httpx
import numpy as np
import pystac_client
import rasterio
import xarray as xr
from typer.testing import CliRunner

from api.app import create_app
from catalog import open_catalog
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from datacenter.storage import Store
from ingest import samples
from tests.api.conftest import serving


def test_open_zarr_over_http_at_the_asset_href_gives_back_the_source_cube(tmp_path, clean_env):
    source = samples.make_pds4_spectral_cube(tmp_path / "cube")
    result = CliRunner().invoke(load_commands(), ["ingest", str(source), "-c", "cubes", "--access", "public"])
    assert result.exit_code == 0, result.output
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as catalog, serving(
        create_app(catalog, Store.from_settings(settings))
    ) as url:
        item = next(pystac_client.Client.open(url).search(collections=["cubes"]).items())
        href = item.assets["zarr"].href
        assert href.startswith(url.rstrip("/") + "/collections/cubes/items/")
        assert httpx.get(href + "/zarr.json").json()["zarr_format"] == 3
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = xr.open_zarr(href, consolidated=True, zarr_format=3)
        with rasterio.open(source) as src:
            np.testing.assert_array_equal(ds["data"].values, src.read())
        assert ds["band"].attrs["units"] == "nm"
        assert httpx.get(href + "/../../../../other/zarr.json").status_code in (400, 404)
