"""NetCDF output compressed chunk by chunk by the Dask tasks (HDF5 direct chunk writes):
the same values, filters and metadata as xarray's own writer, on Dask threads and on a
dask.distributed cluster of worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from api.subset.compute import write_subset
from api.subset.request import OutputFormat, SubsetOptions
from api.subset.select import select
from api.subset.source import open_source
from api.subset.write import decorate, provenance
from datacenter.compute import Compute, local_cluster, local_threads
from tests.api.subset.conftest import CUBE, POLAR, SubsetData


def without_fill(attrs: dict) -> dict:
    return {k: v for k, v in attrs.items() if k != "_FillValue"}


def same_fill(a: object, b: object) -> bool:
    return a == b or (a is not None and b is not None and bool(np.isnan(a)) and bool(np.isnan(b)))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Compute]:
    compute = local_cluster(2, memory_limit="1GiB")
    yield compute
    compute.close()


@pytest.mark.parametrize("iid, options", [
    (CUBE, {"bbox": [21, 0, 25, 3]}),  # float32 (time, band, y, x), edge chunks
    (POLAR, {"bbox": [-180, -90, 180, -89.7]}),  # int16 with scale/offset and a fill value
])
@pytest.mark.parametrize("scheduler", ["threads", "distributed"])
def test_netcdf_chunks_written_by_the_tasks_read_back_as_xarray_writes_them(
    subset_data: SubsetData, tmp_path: Path, request: pytest.FixtureRequest, iid: str,
    options: dict, scheduler: str
) -> None:
    compute = local_threads() if scheduler == "threads" else request.getfixturevalue("cluster")
    sel = select(open_source(subset_data.item(iid), subset_data.store), SubsetOptions(**options))
    out = write_subset([sel], OutputFormat.NETCDF, tmp_path / "ours.nc", compute)
    # xarray's own writer, for the reference file
    reference = decorate(sel.dataset, sel.crs, provenance([sel]))
    for name in reference.data_vars:
        var = reference[name]
        if "_FillValue" in var.attrs:
            var.encoding["_FillValue"] = var.attrs.pop("_FillValue")
    reference.to_netcdf(tmp_path / "xarray.nc", engine="h5netcdf")
    with xr.open_dataset(out.path, mask_and_scale=False) as ours, \
            xr.open_dataset(tmp_path / "xarray.nc", mask_and_scale=False) as theirs:
        assert set(ours.variables) == set(theirs.variables)
        for name in theirs.data_vars:
            np.testing.assert_array_equal(ours[name].values, theirs[name].values)
            assert ours[name].dtype == theirs[name].dtype
            assert without_fill(ours[name].attrs) == without_fill(theirs[name].attrs)
            assert same_fill(ours[name].attrs.get("_FillValue"), theirs[name].attrs.get("_FillValue"))
            enc = ours[name].encoding
            assert (enc["zlib"], enc["shuffle"], enc["complevel"]) == (True, True, 1)
            assert enc["coordinates"] == "spatial_ref"
        assert ours["spatial_ref"].attrs == theirs["spatial_ref"].attrs
        assert ours.attrs["source_items"] == theirs.attrs["source_items"]
    with xr.open_dataset(out.path) as decoded, xr.open_dataset(tmp_path / "xarray.nc") as expected:
        for name in expected.data_vars:  # decoded (scale, offset, mask) alike too
            np.testing.assert_array_equal(decoded[name].values, expected[name].values)
