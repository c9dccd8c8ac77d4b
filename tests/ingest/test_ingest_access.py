"""Access options through the batch engine: COG and Zarr products take the command line's
`dc:` fields (a new collection keeps them as defaults), manifest rows may narrow but never
widen them, and changing only the access rewrites the item, not the bytes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from catalog import open_catalog
from catalog.base import SearchQuery
from datacenter.access import SCHEMA_URL, SYSTEM
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from ingest import samples

runner = CliRunner()


def _items(collection: str) -> dict[str, dict]:
    with open_catalog(get_settings().resolved_catalog_url) as catalog:
        page = catalog.search(SearchQuery(collections=[collection], limit=100, viewer=SYSTEM))
    return {i["id"]: i for i in page.items}


def test_cog_and_zarr_products_take_the_access_options_and_only_narrowing_changes_rewrite_items(
    tmp_path, clean_env
) -> None:
    cog = samples.make_geotiff(tmp_path / "p")
    series = samples.make_lander_series_csv(tmp_path / "p")  # a series: goes to Zarr
    args = ["ingest", str(cog), str(series), "-c", "ce4", "--owner", "CNSA", "--access", "partners",
            "--export-control", "EAR99"]
    first = runner.invoke(load_commands(), args)
    assert first.exit_code == 0, first.output
    items = _items("ce4")
    assert len(items) == 2
    kinds = {a["type"] for i in items.values() for a in i["assets"].values()}
    assert any("tiff" in k for k in kinds) and any("zarr" in k for k in kinds)
    for item in items.values():
        props = item["properties"]
        assert (props["dc:owner"], props["dc:access"], props["dc:export_control"]) == ("CNSA", "partners", "EAR99")
        assert SCHEMA_URL in item["stac_extensions"]
    with open_catalog(get_settings().resolved_catalog_url) as catalog:
        assert catalog.get_collection("ce4", viewer=SYSTEM)["dc:access"] == "partners"

    # narrower access for the same bytes: the items change, the stored assets stay
    narrower = runner.invoke(load_commands(), [*args[:-4], "--access", "restricted",
                                               "--releasable-to", "ESA"])
    assert narrower.exit_code == 0, narrower.output
    again = _items("ce4")
    for iid, item in again.items():
        assert item["properties"]["dc:access"] == "restricted"
        assert item["properties"]["dc:releasable_to"] == ["ESA"]
        assert item["assets"] == items[iid]["assets"]


def test_manifest_rows_may_narrow_the_collection_access_but_not_widen_it(tmp_path, clean_env) -> None:
    lander = samples.make_lander_series_csv(tmp_path / "a")
    spectra = samples.make_vnis_spectra_csv(tmp_path / "b")
    manifest = tmp_path / "tonight.jsonl"
    manifest.write_text(
        json.dumps({"path": "a/" + lander.name, "dc:access": "owner"}) + "\n"
        + json.dumps({"path": "b/" + spectra.name, "dc:access": "public"}) + "\n"
    )  # fmt: skip
    result = runner.invoke(load_commands(), ["ingest", "--manifest", str(manifest), "-c", "ce4",
                                             "--owner", "CNSA", "--access", "partners"])
    assert result.exit_code == 1
    assert "may only narrow" in result.output and spectra.name in result.output
    (item,) = _items("ce4").values()
    assert (item["properties"]["dc:owner"], item["properties"]["dc:access"]) == ("CNSA", "owner")
