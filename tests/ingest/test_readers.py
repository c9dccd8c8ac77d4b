from pathlib import Path

import pytest

from datacenter.errors import NotFound, UnsupportedFormat
from ingest import samples
from ingest.readers import discover, find_reader


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("discover")
    entries = samples.make_sample_set(root)
    (root / "geotiff" / "kaguya_tc_ortho_n05e020.tif.aux.xml").write_text("<PAMDataset/>")
    (root / "geotiff" / "kaguya_tc_ortho_n05e020.tif.ovr").write_bytes(b"II*\x00")
    (root / "notes.txt").write_text("field notes")
    samples.make_vicar_image(root / "vicar_img", suffix=".img")
    return root, entries


def test_folder_expands_to_product_entry_files_only(sample_dir: tuple[Path, list[Path]]) -> None:
    root, entries = sample_dir
    found = discover([str(root)])
    assert set(entries) <= set(found)
    names = {p.name for p in found}
    assert "LDEM_16_00N_30N_000_030.LBL" in names and "LDEM_16_00N_30N_000_030.IMG" not in names
    assert "ldem_87s_40m.xml" in names and "ldem_87s_40m.img" not in names
    assert "kaguya_mi_vis_s10e165.img" in names  # VICAR .img with no label beside it
    assert not any(n.endswith((".aux.xml", ".ovr", ".txt")) for n in names)
    assert len(found) == len(entries) + 1


def test_glob_pattern_expands_like_a_folder(sample_dir: tuple[Path, list[Path]]) -> None:
    root, _ = sample_dir
    found = discover([str(root / "pds3" / "*")])
    assert [p.name for p in found] == ["LDEM_16_00N_30N_000_030.LBL"]


def test_explicit_unknown_file_is_returned_as_given(sample_dir: tuple[Path, list[Path]]) -> None:
    root, _ = sample_dir
    assert discover([str(root / "notes.txt")]) == [root / "notes.txt"]


def test_missing_path_raises_not_found_naming_it(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="nowhere.tif"):
        discover([str(tmp_path / "nowhere.tif")])
    with pytest.raises(NotFound, match=r"\*\.cub"):
        discover([str(tmp_path / "*.cub")])


def test_unknown_file_is_unsupported_with_the_formats_we_know(tmp_path: Path) -> None:
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    with pytest.raises(UnsupportedFormat, match=r"notes\.txt.*PDS4.*VICAR"):
        find_reader(odd)


def test_pds3_data_file_points_the_user_at_its_label(tmp_path: Path) -> None:
    label = samples.make_pds3_image(tmp_path)
    with pytest.raises(UnsupportedFormat, match="pass that label instead"):
        find_reader(label.with_suffix(".IMG"))


@pytest.mark.parametrize(
    ("maker", "reader"),
    [
        (samples.make_geotiff, "GeoTIFF"),
        (samples.make_pds4_south_polar_dem, "PDS4"),
        (samples.make_pds3_image, "PDS3"),
        (samples.make_isis3_cube, "ISIS3"),
        (samples.make_vicar_image, "VICAR"),
    ],
)
def test_each_format_finds_its_reader(tmp_path: Path, maker, reader: str) -> None:
    assert find_reader(maker(tmp_path)).name == reader


def test_pds4_label_metadata_is_read_tolerantly(tmp_path: Path) -> None:
    label = samples.make_pds4_south_polar_dem(tmp_path)
    product = find_reader(label).read(label)
    assert product.id == "ldem_87s_40m"
    assert product.mission == "Lunar Reconnaissance Orbiter"
    assert product.platform == "Lunar Reconnaissance Orbiter"
    assert product.instruments == ("Lunar Orbiter Laser Altimeter",)
    assert product.targets == ("Moon",)
    assert product.processing_level == "Derived"
    assert product.files == (label, label.with_suffix(".img"))
    assert product.extra_properties["pds:logical_identifier"].endswith(":ldem_87s_40m")


def test_pds3_attached_label_reads(tmp_path: Path) -> None:
    label = samples.make_pds3_image(tmp_path)
    data = label.with_suffix(".IMG")
    text = label.read_text().replace(f'^IMAGE                    = "{data.name}"', "^IMAGE = 2")
    record_bytes = 960
    head = text.encode().ljust(record_bytes * ((len(text) // record_bytes) + 1), b" ")
    text = text.replace("^IMAGE = 2", f"^IMAGE = {len(head) // record_bytes + 1}")
    head = text.encode().ljust(len(head), b" ")
    attached = tmp_path / "attached" / "LDEM_ATTACHED.IMG"
    attached.parent.mkdir()
    attached.write_bytes(head + data.read_bytes())
    product = find_reader(attached).read(attached)
    assert product.format == "PDS3" and product.id == "ldem_16_00n_30n_000_030"
    assert (product.width, product.height) == (480, 480)
