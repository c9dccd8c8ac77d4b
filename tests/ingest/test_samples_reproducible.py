"""Every sample product is byte-for-byte the same each time it is generated (so that
re-running `datacenter demo` finds its products unchanged and writes nothing)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from ingest import samples

MAKERS = sorted(n for n, f in vars(samples).items() if n.startswith("make_") and callable(f))


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def generated_twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Every maker run into `first`, then (over a second later) again into `second`."""
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    for root in (first, second):
        if root == second:
            time.sleep(1.1)  # labels that carry a time (to the second) would now differ
        for maker in MAKERS:
            getattr(samples, maker)(root / maker)
    return first, second


@pytest.mark.parametrize("maker", MAKERS)
def test_sample_is_byte_for_byte_the_same_when_generated_again(
    maker: str, generated_twice: tuple[Path, Path]
) -> None:
    one, two = (_digests(root / maker) for root in generated_twice)
    assert one, f"{maker} wrote nothing"
    assert one == two, sorted(k for k in one if one[k] != two.get(k))


def test_every_sample_maker_is_checked() -> None:
    assert {"make_sample_set", "make_array_sample_set", "make_isis3_cube",
            "make_isis3_spectral_cube"} <= set(MAKERS)  # fmt: skip
