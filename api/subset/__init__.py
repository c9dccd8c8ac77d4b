"""Subsetting: one item synchronously (`routes`), many items as jobs (`jobs`, `job_routes`).

    request.py   the subset options (bbox, datetime, variables/bands, step/resolution, crs, format)
    source.py    an item's assets as a lazy, chunk-aligned xarray Dataset (COG, Zarr)
    select.py    options -> a lazy selection, and its size estimate
    write.py     NetCDF / COG / zipped Zarr writers, chunk by chunk
    compute.py   select + write on the Dask scheduler, with progress and cancel
"""
