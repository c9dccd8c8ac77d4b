"""`datacenter ingest` as an operator runs it: a folder of good and bad products."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog import open_catalog
from catalog.base import SearchQuery
from datacenter.access import SYSTEM
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from datacenter.storage import Store
from ingest.samples import make_pds3_image, make_sample_set

runner = CliRunner()


def _truncated_pds3(folder: Path) -> Path:
    """A PDS3 product whose .img lost its second half (an interrupted transfer)."""
    label = make_pds3_image(folder)
    for sibling in folder.iterdir():
        if sibling.stem.lower() == label.stem.lower() and sibling.suffix.lower() != ".lbl":
            data = sibling.read_bytes()
            sibling.write_bytes(data[: len(data) // 2])
    return label


@pytest.fixture
def products(tmp_path: Path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    make_sample_set(folder)
    return folder


def _stored_objects(store: Store) -> list[str]:
    root = Path(store.root)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_ingesting_a_folder_puts_every_product_in_catalog_and_store(products: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    result = runner.invoke(
        load_commands(), ["ingest", str(products), "--collection", "moon", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert lines and all(line["status"] == "ingested" for line in lines)
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as cat:
        page = cat.search(SearchQuery(collections=["moon"], limit=100, viewer=SYSTEM))
        assert sorted(i["id"] for i in page.items) == sorted(line["id"] for line in lines)
        stored = _stored_objects(Store.from_settings(settings))
        for item in page.items:
            assert item["assets"]["data"]["href"] in stored
        extent = cat.get_collection("moon", viewer=SYSTEM)["extent"]
        assert extent["temporal"]["interval"][0][0] is not None


def test_running_the_same_ingest_twice_changes_nothing(products: Path) -> None:
    app = load_commands()
    assert runner.invoke(app, ["ingest", str(products), "-c", "moon"]).exit_code == 0
    store = Store.from_settings(get_settings())
    before = _stored_objects(store)
    again = runner.invoke(app, ["ingest", str(products), "-c", "moon"])
    assert again.exit_code == 0, again.output
    assert "unchanged" in again.output
    assert _stored_objects(store) == before


def test_bad_products_are_reported_one_line_each_and_leave_nothing_behind(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    good = make_sample_set(tmp_path / "good")[0]
    shutil.copy(good, folder / good.name) if good.suffix.lower() in (".tif", ".tiff") else None
    (folder / "garbage.tif").write_bytes(b"this is not a tiff at all" * 10)
    truncated = _truncated_pds3(folder)
    result = runner.invoke(load_commands(), ["ingest", str(folder), "-c", "moon"])
    assert result.exit_code == 1
    failed = [line for line in result.output.splitlines() if line.startswith("failed")]
    assert any("garbage.tif" in line for line in failed), result.output
    assert any(truncated.name in line for line in failed), result.output
    settings = get_settings()
    with open_catalog(settings.resolved_catalog_url) as cat:
        ids = [i["id"] for i in cat.search(SearchQuery(collections=["moon"], limit=100, viewer=SYSTEM)).items]
    stored = _stored_objects(Store.from_settings(settings))
    # only the good product (if one was copied) made it, with exactly its one COG
    assert len(stored) == len(ids)
    assert not any(".tmp-" in key for key in stored)


def test_an_unknown_file_given_by_name_is_reported_as_unsupported(tmp_path: Path) -> None:
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    result = runner.invoke(load_commands(), ["ingest", str(odd), "-c", "moon"])
    assert result.exit_code == 1
    assert "notes.txt" in result.output


def test_a_bad_datetime_option_names_the_option(products: Path) -> None:
    result = runner.invoke(load_commands(), ["ingest", str(products), "-c", "moon", "--datetime", "yesterday"])
    assert result.exit_code != 0
    assert "--datetime" in str(result.exception or "") + result.output
