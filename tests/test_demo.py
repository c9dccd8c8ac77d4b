"""The README's first command, driven the way a newcomer runs it: `datacenter demo`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pystac_client
import pytest

from tests.conftest import free_port


def _start_demo(home: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`datacenter demo` on a free port, its output to `log` (a pipe nobody reads would fill
    and stall the server); another free port if this one was taken in the meantime."""
    env = {**os.environ, "DATACENTER_HOME": str(home)}
    for _ in range(3):
        port = free_port()
        with log.open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "datacenter.cli", "demo", "--port", str(port)],
                env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while proc.poll() is None:
            try:
                if httpx.get(url + "/", timeout=2).status_code == 200:
                    return proc, url
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"datacenter demo did not serve within 180 s:\n{log.read_text()}")
            time.sleep(0.5)
        if "address already in use" not in log.read_text().lower():
            break
    pytest.fail(f"datacenter demo exited with {proc.returncode}:\n{log.read_text()}")


@pytest.fixture
def demo_server(clean_env: Path, tmp_path: Path):
    proc, url = _start_demo(clean_env, tmp_path / "demo.log")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_demo_ingests_samples_and_serves_them_to_pystac_client(demo_server: str) -> None:
    client = pystac_client.Client.open(demo_server)
    every = list(client.search(collections=["lunar-samples"], max_items=100).items())
    assert len(every) >= 5
    south_polar = [
        i.id for i in client.search(collections=["lunar-samples"], bbox=[-180, -90, 180, -85]).items()
    ]  # (the global basemap collection lies there too)
    crossing = [i.id for i in client.search(bbox=[175, -5, -175, 5]).items()]
    assert south_polar, "the south-polar DEM must be found around the south pole"
    assert crossing, "the antimeridian mosaic must be found by a crossing bbox"
    item = client.get_collection("lunar-samples").get_item(south_polar[0])
    assert item is not None
    assert item.properties["proj:code"] == "IAU_2015:30135"
    href = item.assets["data"].href
    assert href.startswith(demo_server)
    head = httpx.get(href, headers={"Range": "bytes=0-3"}, timeout=10)
    assert head.status_code == 206
    assert head.content in (b"II*\x00", b"MM\x00*")


def test_demo_serves_array_products_as_zarr_over_http(demo_server: str) -> None:
    import xarray as xr

    client = pystac_client.Client.open(demo_server)
    items = list(client.search(collections=["lunar-array-samples"], max_items=100).items())
    assert len(items) == 5
    cube = next(i for i in items if "cube:dimensions" in i.properties and "band" in i.properties["cube:dimensions"])
    (asset,) = (a for a in cube.assets.values() if "data" in (a.roles or []))  # beside label, original
    assert asset.href.startswith(demo_server)
    with xr.open_zarr(asset.href) as ds:
        band = cube.properties["cube:dimensions"]["band"]
        assert ds["band"].values.tolist() == band["values"]  # band centres in nm, item and data agree
        assert ds["band"].attrs.get("units") == "nm"


def _printed_examples(log: str) -> list[str]:
    """The commands `datacenter demo` prints under "Try it", one a line (comments kept)."""
    lines = log[log.index("Try it"):].splitlines()[1:]
    return [line.strip() for line in lines if line.startswith("  ") and line.strip()]


def _imported_modules(code: str) -> set[str]:
    """Top-level modules that Python `code` imports."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def _main_requirements() -> set[str]:
    """Distributions that `pip install -e .` installs directly: this checkout's
    pyproject.toml `dependencies` (no extras), normalised names."""
    import re
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    return {_normalise(re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0]) for req in project["dependencies"]}


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_every_example_the_demo_prints_runs_with_only_the_main_dependencies(
    demo_server: str, tmp_path: Path
) -> None:
    import shlex
    from importlib.metadata import packages_distributions

    examples = _printed_examples((tmp_path / "demo.log").read_text())
    assert any(e.startswith("curl ") for e in examples) and any(e.startswith("python ") for e in examples)
    installed, required = packages_distributions(), _main_requirements()
    for example in examples:
        if example.startswith("python "):
            code = shlex.split(example.split("  #")[0])[2]  # python -c CODE
            modules = _imported_modules(code)
            for module in modules:
                dists = {_normalise(d) for d in installed.get(module, [])}
                assert dists & required, f"{module!r} of the demo's example is not installed by pip install -e .: {example}"
            example = example.replace("python ", shlex.quote(sys.executable) + " ", 1)
        run = subprocess.run(["bash", "-c", example], capture_output=True, text=True, timeout=120,
                             cwd=tmp_path)  # fmt: skip
        assert run.returncode == 0, f"{example}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
        assert run.stdout.strip() or list(tmp_path.glob("*.nc")), f"{example} printed nothing"
        if example.startswith("curl ") and "-o " not in example:
            assert '"features"' in run.stdout and '"id"' in run.stdout, run.stdout[:2000]
