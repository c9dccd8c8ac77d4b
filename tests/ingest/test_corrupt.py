"""Broken inputs raise the right ProductError naming the file, and leave no output."""

from __future__ import annotations

from pathlib import Path

import pytest

from datacenter.errors import CorruptProduct, LabelError, ProductError
from ingest import samples
from ingest.cog import write_cog
from ingest.readers import find_reader


def _ingest(path: Path, out: Path) -> None:
    product = find_reader(path).read(path)
    write_cog(product, out)


def _no_output(out: Path) -> None:
    assert not out.exists()
    assert list(out.parent.glob("*")) == [] if out.parent.exists() else True


def test_truncated_pds3_image_is_corrupt(tmp_path: Path) -> None:
    label = samples.make_truncated_pds3(tmp_path / "in")
    out = tmp_path / "out" / "x.tif"
    with pytest.raises(
        CorruptProduct, match=r"LDEM_16_00N_30N_000_030\.IMG holds 230400 bytes.*460800"
    ):
        _ingest(label, out)
    _no_output(out)


def test_pds3_label_claiming_more_lines_than_the_file_has_is_corrupt(tmp_path: Path) -> None:
    label = samples.make_pds3_label_claiming_more_lines(tmp_path / "in")
    with pytest.raises(CorruptProduct, match="truncated"):
        _ingest(label, tmp_path / "out" / "x.tif")


@pytest.mark.parametrize(
    ("maker", "data_file"),
    [
        (samples.make_pds4_south_polar_dem, lambda p: p.with_suffix(".img")),
        (samples.make_isis3_cube, lambda p: p),
        (samples.make_vicar_image, lambda p: p),
    ],
    ids=["PDS4", "ISIS3", "VICAR"],
)
def test_truncated_raw_data_is_corrupt_for_every_labelled_format(
    tmp_path: Path, maker, data_file
) -> None:
    entry = maker(tmp_path / "in")
    samples.truncate(data_file(entry), 0.7)
    out = tmp_path / "out" / "x.tif"
    with pytest.raises(CorruptProduct, match=data_file(entry).name):
        _ingest(entry, out)
    _no_output(out)


def test_garbage_tif_is_corrupt_and_says_what_it_found(tmp_path: Path) -> None:
    path = samples.make_garbage_tif(tmp_path)
    with pytest.raises(CorruptProduct, match=r"garbage\.tif.*TIFF header"):
        _ingest(path, tmp_path / "out" / "x.tif")


def test_truncated_geotiff_fails_during_conversion_with_gdal_message(tmp_path: Path) -> None:
    path = samples.make_truncated_geotiff(tmp_path / "in")
    out = tmp_path / "out" / "truncated.tif"
    with pytest.raises(CorruptProduct, match=r"truncated_tc\.tif") as err:
        _ingest(path, out)
    assert "GDAL" in str(err.value)
    _no_output(out)


def test_malformed_pds4_label_is_a_label_error(tmp_path: Path) -> None:
    label = samples.make_pds4_south_polar_dem(tmp_path)
    label.write_text(label.read_text()[:500])
    with pytest.raises(LabelError, match=r"ldem_87s_40m\.xml.*not well-formed"):
        _ingest(label, tmp_path / "out.tif")


def test_pds3_label_without_end_is_a_label_error(tmp_path: Path) -> None:
    label = samples.make_pds3_image(tmp_path)
    label.write_text(label.read_text().replace("\nEND\n", "\n"))
    with pytest.raises(LabelError, match="no END statement"):
        _ingest(label, tmp_path / "out.tif")


def test_pds3_label_with_a_bad_time_is_a_label_error(tmp_path: Path) -> None:
    label = samples.make_pds3_image(tmp_path)
    label.write_text(
        label.read_text().replace(
            "START_TIME                = 2009", 'START_TIME = "yesterday"\n/* */ X = 2009'
        )
    )
    with pytest.raises(LabelError, match="START_TIME"):
        _ingest(label, tmp_path / "out.tif")


def test_cube_that_is_not_an_isis_cube_is_a_product_error(tmp_path: Path) -> None:
    cube = tmp_path / "noise.cub"
    cube.write_bytes(b"\x00\x01" * 500)
    with pytest.raises(ProductError, match=r"noise\.cub"):
        _ingest(cube, tmp_path / "out.tif")
