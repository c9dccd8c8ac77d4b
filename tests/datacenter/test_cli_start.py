"""A CLI start loads only what every command needs: the object-store client, the Dask
cluster client and the cube stack (dask.array, zarr) load when a command or a product
needs them (each costs every `datacenter ...` start 0.1-0.5 s)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LATER = ("s3fs", "aiobotocore", "distributed", "dask.array", "zarr", "h5netcdf")


def test_starting_the_cli_loads_no_store_client_cluster_or_cube_stack() -> None:
    code = ("import json, sys; import datacenter.cli as c; c.load_commands(); "
            f"print(json.dumps(sorted(m for m in {LATER!r} if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[2], check=True)
    assert json.loads(done.stdout) == []
