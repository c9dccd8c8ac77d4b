"""`--datetime` fills only what is missing: a label's own time always wins."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from catalog import open_catalog
from datacenter.access import SYSTEM
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from ingest import samples

runner = CliRunner()


def test_datetime_option_dates_only_the_product_without_a_time(tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    timed = samples.make_pds4_south_polar_dem(batch / "timed", size=64)
    undated = samples.make_pds3_image(batch / "undated", with_times=False)
    report = tmp_path / "report.jsonl"
    result = runner.invoke(load_commands(), [
        "ingest", str(batch), "-c", "moon", "--datetime", "2020-01-01T00:00:00Z", "--report", str(report),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = {Path(line["path"]).name: line for line in map(json.loads, report.read_text().splitlines())}
    assert lines[timed.name]["took_datetime_option"] is False
    assert lines[undated.name]["took_datetime_option"] is True
    assert "1 product(s) carry no acquisition time and took --datetime" in result.output
    summary = result.output.split("took --datetime", 1)[1]
    assert undated.name in summary and timed.name not in summary

    info = samples.SAMPLES["pds4"]
    with open_catalog(get_settings().resolved_catalog_url) as cat:
        timed_item = cat.get_item("moon", lines[timed.name]["id"], viewer=SYSTEM)["properties"]
        undated_item = cat.get_item("moon", lines[undated.name]["id"], viewer=SYSTEM)["properties"]
    assert timed_item["start_datetime"] == info.start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert timed_item["end_datetime"] == info.end.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert not str(timed_item.get("datetime")).startswith("2020-01-01")
    assert undated_item["datetime"] == "2020-01-01T00:00:00Z"


def test_another_datetime_option_leaves_a_timed_product_unchanged(tmp_path: Path) -> None:
    timed = samples.make_pds4_south_polar_dem(tmp_path / "timed", size=64)
    app = load_commands()
    first = runner.invoke(app, ["ingest", str(timed), "-c", "moon"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["ingest", str(timed), "-c", "moon", "--datetime", "2020-01-01T00:00:00Z"])
    assert again.exit_code == 0, again.output
    assert "unchanged" in again.output and "took --datetime" not in again.output
