"""No reader lets a raw exception out: every damaged product is reported in one line.

For every reader of the registry, a product it takes is damaged in the ways transfers and
hand edits damage files (label cut short, bytes of the label garbled, data file emptied);
each must come back from `ingest_product` as a result (never an exception), refused with
a sentence that names the file, never a traceback or a bare exception name. An error no
reader foresaw reads "<file>: could not read <format> product: <what> (please report it
with the label)".
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from catalog import open_catalog
from datacenter.storage import Store
from ingest import samples
from ingest.pipeline import ensure_collection, ingest_product, unexpected_reason
from ingest.readers import READERS, find_reader

CORPUS = Path(__file__).resolve().parents[1] / "data" / "real"
_BARE = re.compile(r"^\w*(Error|Exception)\b|Traceback|Compute Failed|^\w+Error: ")


def _corpus(rel: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        source = CORPUS / rel
        for sibling in source.parent.iterdir():  # the label and its data files
            if sibling.stem.split(".")[0].lower() == source.stem.split(".")[0].lower():
                shutil.copy(sibling, folder / sibling.name)
        return folder / source.name

    return make


#: one product each reader of the registry takes
PRODUCTS: dict[str, Callable[[Path], Path]] = {
    "GeoTIFF": samples.make_geotiff,
    "PDS4 cube": samples.make_pds4_spectral_cube,
    "PDS4 table": samples.make_diviner_series,
    "PDS4": _corpus("isis3/tgoCassis/tgocassis2isis/MY36_015782_024_0_PAN_cropped.xml"),
    "PDS3": _corpus("isis3/kaguyatc2isis/TC1S2B0_01_00811N526E0443_mini.lbl"),
    "ISIS3 cube": _corpus("isis3/lrowac2pds/color/wac0000983c.vis.even.cal.reduced.cub"),
    "ISIS3": _corpus("isis3/lronaccal/truth/M1333276014R.default.crop.cub"),
    "VICAR": samples.make_vicar_image,
    "NetCDF": samples.make_cf_netcdf,
    "CSV": samples.make_lander_series_csv,
}


def _damages(entry: Path) -> dict[str, Callable[[], None]]:
    data = entry.read_bytes()
    label_end = min(len(data), 4096)
    others = [p for p in entry.parent.iterdir() if p != entry]

    def cut(fraction: float) -> Callable[[], None]:
        return lambda: entry.write_bytes(data[: int(label_end * fraction)])

    def garble(at: float) -> Callable[[], None]:
        k = int(label_end * at)
        return lambda: entry.write_bytes(data[:k] + b"\xff\x00=(\"'<>{}END\x00" + data[k + 16 :])

    def empty_data() -> None:
        for other in others or [entry]:
            other.write_bytes(b"")

    return {"cut-10%": cut(0.1), "cut-60%": cut(0.6), "garbled-start": garble(0.02),
            "garbled-middle": garble(0.5), "garbled-late": garble(0.9), "data-emptied": empty_data}  # fmt: skip


def test_every_reader_of_the_registry_has_a_product_here() -> None:
    assert {r.name for r in READERS} == set(PRODUCTS)


@pytest.mark.parametrize("reader_name", list(PRODUCTS))
def test_a_damaged_product_is_refused_in_one_line_by_every_reader(tmp_path: Path, reader_name: str) -> None:
    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    store = Store(str(tmp_path / "store"))
    ensure_collection(catalog, "damaged")
    pristine = tmp_path / "pristine"
    pristine.mkdir()
    entry = PRODUCTS[reader_name](pristine)
    assert find_reader(entry).name == reader_name
    refused = 0
    for damage in _damages(entry):
        folder = tmp_path / damage
        shutil.copytree(pristine, folder)
        target = folder / entry.relative_to(pristine)
        _damages(target)[damage]()
        result = ingest_product(target, collection_id="damaged", catalog=catalog, store=store)
        if result.status == "failed":
            refused += 1
            reason = result.reason or ""
            assert "\n" not in reason and not _BARE.search(reason), f"{damage}: {reason}"
            assert target.name in reason or str(target.parent) in reason, f"{damage}: {reason}"
    assert refused >= 2, "the damages reach the reader"


def test_an_error_no_reader_foresaw_reads_as_a_report_request() -> None:
    reason = unexpected_reason(Path("/data/x.lbl"), "PDS3", KeyError("LINES"))
    assert reason == "/data/x.lbl: could not read PDS3 product: 'LINES' (please report it with the label)"
    silent = unexpected_reason("/data/x.lbl", "PDS3", ValueError())
    assert "ValueError without a message" in silent and "\n" not in silent
