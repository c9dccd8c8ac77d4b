from pathlib import Path

import pytest

from datacenter.errors import InvalidKey, NotFound
from datacenter.storage import Store, check_key, file_sha256, multihash_sha256


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(str(tmp_path / "store"))


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "a/../../b", "/etc/passwd", "s3://other-bucket/x", "file:///etc/passwd",
     "a//b", "./a", "a\\..\\b", "", "a/\x00b"],
)
def test_keys_that_could_leave_the_store_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey):
        check_key(key)


def test_put_then_read_ranges_gives_the_exact_bytes(store: Store) -> None:
    data = bytes(range(256)) * 100
    info = store.put_bytes(data, "coll/item/data.bin")
    assert info.size == len(data)
    assert b"".join(store.iter_range("coll/item/data.bin", 10, 19)) == data[10:20]
    assert b"".join(store.iter_range("coll/item/data.bin", 0, len(data) - 1, chunk=1000)) == data


def test_put_file_leaves_no_temporary_object_behind(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "x.tif"
    src.write_bytes(b"x" * 1000)
    store.put_file(src, "c/i/x.tif")
    names = [p.name for p in (Path(store.root) / "c" / "i").iterdir()]
    assert names == ["x.tif"]
    assert store.sha256("c/i/x.tif") == file_sha256(src)
    assert multihash_sha256(file_sha256(src)).startswith("1220") and len(multihash_sha256("0" * 64)) == 68


def test_missing_object_is_not_found_naming_the_key(store: Store) -> None:
    with pytest.raises(NotFound, match="nope/x.tif"):
        store.info("nope/x.tif")


def test_unsupported_store_scheme_is_refused() -> None:
    from datacenter.errors import StorageError

    with pytest.raises(StorageError, match="s3://bucket/prefix"):
        Store("ftp://host/x")


def test_a_key_through_an_object_is_not_found(store: Store) -> None:
    store.put_bytes(b"data", "c/i/x.tif")
    with pytest.raises(NotFound):
        store.info("c/i/x.tif/inside")
    assert not store.exists("c/i/x.tif/inside")
