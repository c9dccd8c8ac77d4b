"""Every ingested item keeps the original product beside its conversion: label and data
files byte for byte, checksummed, with roles, the label's identifiers and provenance links."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog import open_catalog
from datacenter.access import SYSTEM
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from datacenter.storage import Store
from ingest import samples
from ingest.samples import make_pds4_spectral_cube
from ingest.vocabulary import normalise

runner = CliRunner()


def _ingest(path: Path, report: Path, *extra: str) -> list[dict]:
    result = runner.invoke(load_commands(), ["ingest", str(path), "-c", "moon", "--report", str(report), *extra])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in report.read_text().splitlines()]


def _item(item_id: str) -> dict:
    with open_catalog(get_settings().resolved_catalog_url) as cat:
        return cat.get_item("moon", item_id, viewer=SYSTEM)


def _sha(data: bytes) -> str:
    return "1220" + hashlib.sha256(data).hexdigest()


def _assert_kept_byte_for_byte(item: dict, originals: dict[str, Path]) -> None:
    store = Store.from_settings(get_settings())
    for key, source in originals.items():
        asset = item["assets"][key]
        with store.open(asset["href"]) as fh:
            stored = fh.read()
        assert stored == source.read_bytes(), key
        assert asset["file:size"] == source.stat().st_size
        assert asset["file:checksum"] == _sha(source.read_bytes())
        assert asset["href"].endswith(f"/original/{source.name}")
        assert "data" not in asset["roles"], "the role data stays with the analysis-ready asset"


def test_a_pds4_product_keeps_its_label_and_data_file_with_its_lidvid(tmp_path: Path, stac_offline) -> None:
    label = samples.make_pds4_south_polar_dem(tmp_path / "pds4", size=64)
    data = next(p for p in label.parent.iterdir() if p != label)
    (line,) = _ingest(label, tmp_path / "r.jsonl")
    item = _item(line["id"])
    assert set(item["assets"]) == {"data", "thumbnail", "overview", "label", "original"}
    _assert_kept_byte_for_byte(item, {"label": label, "original": data})
    assert item["assets"]["label"]["roles"] == ["metadata"]
    assert item["assets"]["label"]["type"] == "application/xml"
    assert item["assets"]["original"]["roles"] == ["source"]
    lid = f"urn:nasa:pds:lro_lola:data_derived:{line['id']}"
    props = item["properties"]
    assert props["pds:lid"] == lid and props["pds:lidvid"] == f"{lid}::1.0"
    links = {link["rel"]: link for link in item["links"]}
    assert links["derived_from"]["href"] == f"{lid}::1.0"
    assert links["via"]["href"] == f"https://pds.nasa.gov/api/search/1/products/{lid}::1.0"
    info = samples.SAMPLES["pds4"]
    assert props["mission"] and props["instruments"] == [normalise(info.instrument)]
    assert props["dc:label_instruments"] == [info.instrument]  # the label's own spelling kept
    assert sorted(line["assets"]) == sorted(a["href"] for a in item["assets"].values())
    assert stac_offline.validate_dict(item) == []


def test_a_pds3_product_keeps_label_and_image_and_names_its_product_id(tmp_path: Path, stac_offline) -> None:
    label = samples.make_pds3_image(tmp_path / "pds3")
    image = label.with_suffix(".IMG")
    (line,) = _ingest(label, tmp_path / "r.jsonl", "--owner", "CNSA", "--access", "public")
    item = _item(line["id"])
    _assert_kept_byte_for_byte(item, {"label": label, "original": image})
    assert item["assets"]["label"]["type"] == "text/plain"
    assert item["assets"]["original"]["type"] == "application/octet-stream"
    assert item["properties"]["dc:product_id"] == label.stem  # as the label writes it, not the item id
    assert item["properties"]["processing:level"] or item["properties"]["instruments"]
    assert line["bytes"] == sum(a["file:size"] for a in item["assets"].values())
    assert stac_offline.validate_dict(item) == []


@pytest.mark.parametrize("make", [samples.make_isis3_cube, samples.make_geotiff], ids=["isis3", "geotiff"])
def test_a_single_file_product_is_kept_whole(make, tmp_path: Path, stac_offline) -> None:
    source = make(tmp_path / "in")
    (line,) = _ingest(source, tmp_path / "r.jsonl")
    item = _item(line["id"])
    assert set(item["assets"]) == {"data", "thumbnail", "overview", "original"}
    _assert_kept_byte_for_byte(item, {"original": source})
    roles = item["assets"]["original"]["roles"]
    assert roles == (["source", "metadata"] if source.suffix == ".cub" else ["source"])
    assert stac_offline.validate_dict(item) == []


def test_a_zarr_item_keeps_its_originals_too(tmp_path: Path, stac_offline) -> None:
    label = make_pds4_spectral_cube(tmp_path / "cube")
    (line,) = _ingest(label, tmp_path / "r.jsonl")
    item = _item(line["id"])
    assert {"zarr", "label", "original"} <= set(item["assets"])
    data = next(p for p in label.parent.iterdir() if p != label)
    _assert_kept_byte_for_byte(item, {"label": label, "original": data})
    assert item["properties"]["pds:lidvid"].endswith("::1.0")
    assert stac_offline.validate_dict(item) == []


def test_re_ingest_writes_nothing_and_a_lost_original_is_put_back(tmp_path: Path) -> None:
    label = samples.make_pds3_image(tmp_path / "pds3")
    (first,) = _ingest(label, tmp_path / "r1.jsonl")
    store = Store.from_settings(get_settings())
    stored = {k: store.info(k).size for k in store.list("moon")}
    (again,) = _ingest(label, tmp_path / "r2.jsonl")
    assert again["status"] == "unchanged"
    assert {k: store.info(k).size for k in store.list("moon")} == stored
    original = _item(first["id"])["assets"]["original"]["href"]
    store.delete(original)
    (repaired,) = _ingest(label, tmp_path / "r3.jsonl")
    assert repaired["status"] == "ingested"
    with store.open(original) as fh:
        assert fh.read() == label.with_suffix(".IMG").read_bytes()
    assert sorted(store.list("moon")) == sorted(stored)


def test_a_changed_original_replaces_the_old_version_whole(tmp_path: Path) -> None:
    label = samples.make_pds3_image(tmp_path / "pds3")
    (first,) = _ingest(label, tmp_path / "r1.jsonl")
    image = label.with_suffix(".IMG")
    data = bytearray(image.read_bytes())
    data[:2] = b"\x01\x00"
    image.write_bytes(bytes(data))
    (second,) = _ingest(label, tmp_path / "r2.jsonl")
    assert second["status"] == "ingested"
    store = Store.from_settings(get_settings())
    item = _item(first["id"])
    assert sorted(store.list("moon")) == sorted(a["href"] for a in item["assets"].values())
    assert set(first["assets"]).isdisjoint(second["assets"])
    _assert_kept_byte_for_byte(item, {"label": label, "original": image})
