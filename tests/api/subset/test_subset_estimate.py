"""The size a subset is estimated at (and refused or accepted by) is the size of what it
writes: the uncompressed values of every variable as stored in the file (dtype included:
packed integers stay integers, scale/offset are attributes), and the file itself never
exceeds it by more than its metadata."""

from __future__ import annotations

import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
import xarray as xr
import zarr

from tests.api.subset.conftest import CUBE, MOSAIC, POLAR

CASES = {  # item, query: int16 with scale/offset, a reprojection, a seam, a float cube
    "polar-dem": (POLAR, {"bbox": "-180,-90,180,-89.8"}),
    "polar-dem-reprojected": (POLAR, {"crs": "IAU_2015:30135", "resolution": "120"}),
    "mosaic-across-180": (MOSAIC, {"bbox": "175,-3,-175,3"}),
    "mosaic-lonlat": (MOSAIC, {"bbox": "175,-2,-175,2", "crs": "IAU_2015:30100"}),
    "cube": (CUBE, {"bbox": "21,0,25,3"}),
}


def written_values_bytes(path: Path, fmt: str) -> int:
    """Uncompressed bytes of the data variables as the file stores them."""
    if fmt == "geotiff":
        with rasterio.open(path) as src:
            return src.count * src.width * src.height * np.dtype(src.dtypes[0]).itemsize
    if fmt == "zarr":
        assert zipfile.is_zipfile(path)
        ds = xr.open_zarr(zarr.storage.ZipStore(path, mode="r"), consolidated=False,
                          mask_and_scale=False)
    else:
        ds = xr.open_dataset(path, mask_and_scale=False)
    with ds:
        return int(sum(v.nbytes for v in ds.data_vars.values()))


@pytest.mark.parametrize("fmt", ["netcdf", "geotiff", "zarr"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_estimate_is_the_size_of_the_values_written(
    http: httpx.Client, tmp_path: Path, case: str, fmt: str
) -> None:
    iid, query = CASES[case]
    response = http.get(f"collections/lunar/items/{iid}/subset", params={**query, "format": fmt})
    assert response.status_code == 200, response.text
    estimate = int(response.headers["X-Subset-Estimate-Bytes"])
    out = tmp_path / f"out.{fmt}"
    out.write_bytes(response.content)
    assert written_values_bytes(out, fmt) == estimate
    assert len(response.content) <= estimate * 1.1 + 64 * 1024  # compressed, plus metadata
