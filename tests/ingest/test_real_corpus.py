"""Every product of the real corpus (tests/data/real) through `datacenter ingest`, as a user
runs it: it goes in with the pixels GDAL / pds4-tools read, the right body, CRS (or none)
and footprint; or it is refused in one line naming the file, the problem and what to do.

The corpus goes in with two CLI runs (one for everything, one with `--datetime` for the
products whose labels carry no acquisition time), each product in a collection named for
its folder (two folders hold the same product id). The manifest says per product what
must happen (`expect`) and, for a refusal, words its reason must hold (`why`).
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.errors import NotGeoreferencedWarning

from catalog import open_catalog
from catalog.base import SearchQuery
from datacenter.access import SYSTEM
from tests.ingest.real_corpus import Entry, copy_corpus, entries, generated_values

ENTRIES = entries()
DATETIME = "2001-01-01T00:00:00Z"
_ADVICE = ("pass --", "fix the", "re-download", "not supported", "ingest ", "copy the", "convert", "add ")
_BARE_EXCEPTION = re.compile(r"^\w*(Error|Exception|Failed)\b|Traceback|Compute Failed")


def _collection(entry: Entry) -> str:
    return "real-" + re.sub(r"[^a-z0-9]+", "-", entry.file.split("/")[-2].lower()).strip("-")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The corpus ingested by two `datacenter ingest` runs; the reports and the catalog."""
    root = tmp_path_factory.mktemp("real")
    corpus = copy_corpus(root / "corpus")
    home = root / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATACENTER_", "AWS_"))}
    env["DATACENTER_HOME"] = str(home)
    runs = {"all": [e for e in ENTRIES], "datetime": [e for e in ENTRIES if e.expect == "ingest-with-datetime"]}
    results: dict[str, dict[str, Any]] = {}
    outputs = {}
    for run, chosen in runs.items():
        manifest = root / f"{run}.csv"
        with manifest.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "collection"])
            writer.writerows([str(corpus / e.file), _collection(e)] for e in chosen)
        report = root / f"{run}.jsonl"
        args = ["ingest", "--manifest", str(manifest), "--report", str(report)]
        if run == "datetime":
            args += ["--datetime", DATETIME]
        proc = subprocess.run(
            [sys.executable, "-m", "datacenter.cli", *args], env=env, cwd=root,
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        outputs[run] = proc.stdout + proc.stderr
        for line in report.read_text().splitlines():
            res = json.loads(line)
            results.setdefault(run, {})[str(Path(res["path"]).relative_to(corpus))] = res
    return {"corpus": corpus, "home": home, "results": results, "outputs": outputs}


def _item(ingested: dict[str, Any], entry: Entry, item_id: str) -> dict[str, Any]:
    url = f"sqlite:///{(ingested['home'] / 'catalog.sqlite').resolve()}"
    with open_catalog(url) as cat:
        return cat.get_item(_collection(entry), item_id, viewer=SYSTEM)


def _stored(ingested: dict[str, Any], href: str) -> Path:
    return ingested["home"] / "store" / href


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.file for e in ENTRIES])
def test_real_product_goes_in_or_is_refused_in_one_line(ingested: dict[str, Any], entry: Entry) -> None:
    first = ingested["results"]["all"][entry.file]
    if entry.expect == "refuse" or entry.expect == "ingest-with-datetime":
        _assert_refused(first, entry)
    if entry.expect == "refuse":
        return
    result = first if entry.expect == "ingest" else ingested["results"]["datetime"][entry.file]
    assert result["status"] == "ingested", result["reason"]
    item = _item(ingested, entry, result["id"])
    source = ingested["corpus"] / entry.file
    _assert_body(item, entry)
    _assert_pixels(ingested, item, source, entry)
    _assert_place(item, source)
    if entry.expect == "ingest-with-datetime":
        assert item["properties"]["datetime"] == DATETIME
    else:
        props = item["properties"]
        assert props.get("datetime") or props.get("start_datetime"), "the label's time is on the item"


def _assert_refused(result: dict[str, Any], entry: Entry) -> None:
    reason = result["reason"] or ""
    assert result["status"] == "failed"
    assert "\n" not in reason and not _BARE_EXCEPTION.search(reason), reason
    assert Path(entry.file).name in reason, f"the reason names the file: {reason}"
    assert entry.why in reason, reason
    assert any(w in reason.lower() for w in _ADVICE), f"the reason says what to do: {reason}"


def _assert_body(item: dict[str, Any], entry: Entry) -> None:
    targets = item["properties"].get("ssys:targets")
    if not entry.target:
        assert targets is None, "no target in the label: none is made up"
        return
    want = entry.target.split("(")[0].strip().lower()
    assert targets and targets[0].lower() == want, (targets, entry.target)


def _assert_place(item: dict[str, Any], source: Path) -> None:
    props = item["properties"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        has_crs = _gdal_crs(source)
    if has_crs:
        assert props.get("proj:code") or props.get("proj:wkt2"), "a map-projected product says its CRS"
        assert item["geometry"] is not None and "bbox" in item
    else:
        assert props["proj:code"] is None and "proj:transform" not in props and "proj:shape" not in props
    if item["geometry"] is not None:
        west, south, east, north = item["bbox"]
        assert -180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90
    else:
        assert "bbox" not in item


def _gdal_crs(source: Path) -> bool:
    try:
        with rasterio.open(source) as ds:
            return ds.crs is not None and bool(ds.crs.to_wkt())
    except rasterio.errors.RasterioError:
        return False


def _assert_pixels(ingested: dict[str, Any], item: dict[str, Any], source: Path, entry: Entry) -> None:
    if "zarr" in item["assets"]:
        ds = xr.open_zarr(_stored(ingested, item["assets"]["zarr"]["href"]), consolidated=True)
        ours = ds["data"].values
        assert "band" in ds["data"].dims and np.all(np.diff(ds["band"].values) != 0)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(_stored(ingested, item["assets"]["data"]["href"])) as cog:
                ours = cog.read()
    reference = _reference(source, entry, ours.shape)
    assert reference is not None, f"no independent reader takes {entry.file}"
    assert ours.shape == reference.shape
    assert np.array_equal(ours, reference.astype(ours.dtype), equal_nan=ours.dtype.kind == "f")


def _reference(source: Path, entry: Entry, shape: tuple[int, ...]) -> np.ndarray | None:
    """The pixels as another reader sees them: GDAL's own driver; pds4-tools for PDS4; the
    values written for generated bodies; for PDS3 labels GDAL misreads, numpy at the
    offsets the label gives (an independent reading of the label, not our VRT)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            with rasterio.open(source) as ds:
                if ds.count * ds.height * ds.width == int(np.prod(shape)):
                    data = ds.read()
                    return data.reshape(shape)
        except rasterio.errors.RasterioError:
            pass
    if source.suffix.lower() == ".xml":
        try:
            return _pds4_tools(source, shape)
        except Exception:  # noqa: BLE001 - pds4-tools refuses some valid labels (CaSSIS)
            if entry.body != "generated":
                raise
            return _by_axis_names(source, generated_values(entry)).reshape(shape)
    if entry.body == "generated":
        return generated_values(entry)[: int(np.prod(shape))].reshape(shape)
    return _numpy_pds3(source, shape)


def _pds4_tools(label: Path, shape: tuple[int, ...]) -> np.ndarray:
    import pds4_tools

    structure = next(s for s in pds4_tools.read(str(label), quiet=True, lazy_load=True) if s.is_array())
    data = np.asarray(structure.data)
    names = [a["axis_name"].lower() for a in structure.meta_data["Axis_Array"]]
    if names.index("line") < names.index("sample"):
        return data.reshape(shape)
    return data.T.reshape(shape)  # Sample stored slowest: rows are lines by name


def _by_axis_names(label: Path, flat: np.ndarray) -> np.ndarray:
    """`flat` values of the label's first 2-D array in storage order, as (line, sample)."""
    from lxml import etree

    local = lambda el: etree.QName(el).localname  # noqa: E731
    axes = [a for a in etree.parse(str(label)).iter() if isinstance(a.tag, str) and local(a) == "Axis_Array"]
    info = sorted((int(a.findtext("{*}sequence_number")), a.findtext("{*}axis_name").lower(),
                   int(a.findtext("{*}elements"))) for a in axes)  # fmt: skip
    if b"First_Index_Fastest" in label.read_bytes():  # storage order reversed (CaSSIS)
        info.reverse()
    data = flat[: info[0][2] * info[1][2]].reshape(info[0][2], info[1][2])
    return data if info[0][1] == "line" else data.T


def _numpy_pds3(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    import pvl

    text = path.read_bytes()[:200_000].decode("latin-1")
    end = re.search(r"^END(?![A-Z_])", text, re.M | re.I)
    label = pvl.loads(text[: end.end()] if end else text)
    name, image = next((k, v) for k, v in _objects(label) if k == "IMAGE" or k.endswith("_IMAGE"))
    pointer = label.get(f"^{name}") or next(v[f"^{name}"] for _, v in _objects(label) if f"^{name}" in v)
    record = int(label.get("RECORD_BYTES", 1))
    file, where = path, pointer
    if isinstance(pointer, str):
        file, where = path.parent / pointer, 1
    elif isinstance(pointer, list | tuple) and not hasattr(pointer, "units"):
        file, where = path.parent / pointer[0], pointer[1]
    units = getattr(where, "units", "")
    offset = int(getattr(where, "value", where)) - 1
    offset = offset if str(units).upper() == "BYTES" else offset * record
    kinds = {"MSB_INTEGER": ">i", "LSB_INTEGER": "<i", "UNSIGNED_INTEGER": ">u", "MSB_UNSIGNED_INTEGER": ">u",
             "LSB_UNSIGNED_INTEGER": "<u", "PC_REAL": "<f", "IEEE_REAL": ">f", "PC_INTEGER": "<i",
             "SUN_INTEGER": ">i", "SUN_UNSIGNED_INTEGER": ">u", "MAC_INTEGER": ">i"}  # fmt: skip
    bits = int(image["SAMPLE_BITS"])
    kind = kinds[str(image["SAMPLE_TYPE"]).replace(" ", "_")]
    dtype = np.dtype(kind[1] + "1") if bits == 8 else np.dtype(f"{kind}{bits // 8}")
    lines, samples, bands = int(image["LINES"]), int(image["LINE_SAMPLES"]), int(image.get("BANDS", 1))
    prefix, suffix = int(image.get("LINE_PREFIX_BYTES", 0)), int(image.get("LINE_SUFFIX_BYTES", 0))
    storage = str(image.get("BAND_STORAGE_TYPE", "BAND_SEQUENTIAL"))
    raw = np.fromfile(file, dtype="u1")[offset:]
    if storage == "LINE_INTERLEAVED":
        rows = raw[: lines * (prefix + bands * samples * dtype.itemsize + suffix)].reshape(lines, -1)
        cube = rows[:, prefix : prefix + bands * samples * dtype.itemsize].copy().view(dtype)
        return cube.reshape(lines, bands, samples).transpose(1, 0, 2).reshape(shape)
    rows = raw[: bands * lines * (prefix + samples * dtype.itemsize + suffix)].reshape(bands * lines, -1)
    return rows[:, prefix : prefix + samples * dtype.itemsize].copy().view(dtype).reshape(shape)


def _objects(label: Any):
    for key, value in label.items():
        if hasattr(value, "items"):
            yield key, value
            yield from _objects(value)


def test_corpus_holds_at_least_60_real_products_of_15_instruments() -> None:
    real = [e for e in ENTRIES if not e.file.startswith(("planetaryimage/", "pvl/", "pds4-tools/"))]
    assert len(real) >= 60
    assert len({e.instrument.upper() for e in real if e.instrument}) >= 15
    for entry in ENTRIES:  # every file the manifest names is in the corpus (or generated)
        assert (Path(__file__).resolve().parents[1] / "data" / "real" / entry.file).is_file()


def test_products_without_a_known_footprint_are_named_in_the_report(ingested: dict[str, Any]) -> None:
    noted = [r for r in ingested["results"]["all"].values() if r.get("notes")]
    assert noted, "raw images without footprint keywords are reported"
    for res in noted:
        assert all("geometry null" in n and Path(res["path"]).name in n for n in res["notes"])
    assert "note" in ingested["outputs"]["all"]


def test_products_without_a_known_footprint_go_into_the_postgresql_catalog_too(
    ingested: dict[str, Any], pg_cluster: Any, tmp_path: Path
) -> None:
    """The placeless raw images of the corpus, ingested by `datacenter ingest` into pgstac:
    each is stored, read back with geometry null and no bbox, found by id and by time, and
    never by place."""
    noted = {rel: r for rel, r in ingested["results"]["all"].items()
             if r.get("notes") and r["status"] == "ingested"}
    entries = [e for e in ENTRIES if e.file in noted]
    assert entries
    url = pg_cluster.new_database()
    manifest = tmp_path / "placeless.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "collection"])
        writer.writerows([str(ingested["corpus"] / e.file), _collection(e)] for e in entries)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATACENTER_", "AWS_"))}
    env |= {"DATACENTER_HOME": str(tmp_path / "home"), "DATACENTER_CATALOG_URL": url}
    proc = subprocess.run([sys.executable, "-m", "datacenter.cli", "ingest", "--manifest", str(manifest)],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    world = (-180.0, -90.0, 180.0, 90.0)
    with open_catalog(url) as cat:
        for entry in entries:
            item_id = noted[entry.file]["id"]
            item = cat.get_item(_collection(entry), item_id, viewer=SYSTEM)
            assert item["geometry"] is None and "bbox" not in item
            mine = [_collection(entry)]
            by_id = cat.search(SearchQuery(collections=mine, ids=[item_id], viewer=SYSTEM)).items
            assert [i["id"] for i in by_id] == [item_id]
            when = datetime.fromisoformat(
                (item["properties"].get("datetime") or item["properties"]["start_datetime"]).replace("Z", "+00:00"))
            by_time = cat.search(SearchQuery(collections=mine, ids=[item_id], datetime=(when, when),
                                             viewer=SYSTEM)).items
            assert [i["id"] for i in by_time] == [item_id]
            assert not cat.search(SearchQuery(collections=mine, ids=[item_id], bbox=world, viewer=SYSTEM)).items
