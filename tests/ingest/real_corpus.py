"""The real-product corpus of tests/data/real: its manifest, and the bodies it generates.

Most products are committed byte for byte as their projects publish them. A few real
labels point at data files that are large or absent upstream (LOLA `LDEM_4.IMG`, NEAR MSI
FITS files, CaSSIS frames): the manifest gives each such file's name, size, data offset
and sample type, and `generate_bodies` writes it at test time (a deterministic ramp of
the declared type after zero header bytes), so the label reads as published.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parents[1] / "data" / "real"
MANIFEST = CORPUS / "MANIFEST.csv"


@dataclass(frozen=True)
class Entry:
    file: str
    instrument: str
    mission: str
    target: str
    body: str
    generated_file: str
    generated_bytes: int
    generated_offset: int
    generated_dtype: str
    expect: str  # "ingest", "ingest-with-datetime" or "refuse"
    why: str  # for a refusal: words the one-line reason must contain


def entries() -> list[Entry]:
    with MANIFEST.open(newline="", encoding="utf-8") as fh:
        return [
            Entry(
                file=row["file"], instrument=row["instrument"], mission=row["mission"],
                target=row["target"], body=row["body"], generated_file=row["generated_file"],
                generated_bytes=int(row["generated_bytes"] or 0),
                generated_offset=int(row["generated_offset"] or 0),
                generated_dtype=row["generated_dtype"], expect=row["expect"], why=row["why"],
            )  # fmt: skip
            for row in csv.DictReader(fh)
        ]


def generated_values(entry: Entry) -> np.ndarray:
    """The pixel values `generate_bodies` writes for `entry` (flat, in file order)."""
    dtype = np.dtype(entry.generated_dtype)
    count = (entry.generated_bytes - entry.generated_offset) // dtype.itemsize
    ramp = np.arange(count, dtype="int64") % 997 - 300
    return (ramp * 0.25).astype(dtype) if dtype.kind == "f" else ramp.astype(dtype)


def generate_bodies(root: Path) -> None:
    """Write the generated data files of the corpus copied under `root`."""
    for entry in entries():
        if entry.body != "generated":
            continue
        target = (root / entry.file).parent / entry.generated_file
        data = generated_values(entry).tobytes()
        body = bytes(entry.generated_offset) + data
        target.write_bytes(body + bytes(entry.generated_bytes - len(body)))


def copy_corpus(dest: Path) -> Path:
    """The corpus copied to `dest` with its generated bodies written; returns `dest`."""
    shutil.copytree(CORPUS, dest, ignore=shutil.ignore_patterns("MANIFEST.*", "README*"))
    generate_bodies(dest)
    return dest
