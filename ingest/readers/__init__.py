"""The reader registry: which reader takes a file, and which files are products.

reader = find_reader(path)       # UnsupportedFormat when none does
product = reader.read(path)
entries = discover(["data/", "more/*.lbl", "one.tif"])
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable
from pathlib import Path

from datacenter.errors import NotFound, UnsupportedFormat
from ingest.readers.base import Reader, head
from ingest.readers.csv_table import CsvReader
from ingest.readers.cube import Isis3CubeReader, Pds4CubeReader
from ingest.readers.geotiff import GeoTiffReader
from ingest.readers.isis3 import Isis3Reader
from ingest.readers.netcdf import NetcdfReader
from ingest.readers.pds3 import Pds3Reader
from ingest.readers.pds4 import Pds4Reader
from ingest.readers.pds4_table import Pds4TableReader
from ingest.readers.vicar import VicarReader

__all__ = ["READERS", "Reader", "discover", "find_reader"]

_PDS4 = Pds4Reader()
#: first match wins: the array readers look inside PDS4 labels and ISIS3 cubes before the
#: raster readers of the same extension take them
READERS: tuple[Reader, ...] = (
    GeoTiffReader(),
    Pds4CubeReader(),
    Pds4TableReader(),
    _PDS4,
    Pds3Reader(),
    Isis3CubeReader(),
    Isis3Reader(),
    VicarReader(),
    NetcdfReader(),
    CsvReader(),
)

KNOWN_FORMATS = (
    "GeoTIFF (.tif/.tiff), PDS4 (.xml label), PDS3 (.lbl label, or .img with an attached label), "
    "ISIS3 (.cub), VICAR (.vic, or .img starting with LBLSIZE=), NetCDF-4/HDF5 (.nc/.h5), "
    "CSV tables (.csv)"
)
_SIDECARS = (".aux.xml", ".ovr", ".msk", ".tfw", ".prj")
_PDS4_FILE_NAME = re.compile(rb"<(?:\w+:)?file_name>\s*([^<\s]+)\s*</")


def find_reader(path: Path) -> Reader:
    """The reader that takes `path`; UnsupportedFormat (or NotFound) when none does."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"input {path} does not exist or is not a file: check the path")
    for reader in READERS:
        if reader.can_open(path):
            return reader
    hint = "pass a product's label or image file"
    labels = [
        p
        for p in path.parent.glob(f"{glob.escape(path.stem)}.*")
        if p.suffix.lower() in (".lbl", ".xml")
    ]
    if labels and path.suffix.lower() not in (".lbl", ".xml"):
        hint = f"it looks like the data file of {labels[0].name}: pass that label instead"
    raise UnsupportedFormat(
        f"{path} is not a product we can read (extension {path.suffix or 'none'!r}, "
        f"starts with {head(path, 16)!r}); expected one of {KNOWN_FORMATS}: {hint}"
    )


def discover(args: Iterable[str]) -> list[Path]:
    """Expand files, folders (recursively) and glob patterns into product entry files.

    Explicit files come back as given, known or not, so the caller reports unknown ones
    as unsupported. Folder and glob expansion keep only files a reader takes, and skip
    the data files of labels (PDS3 `.img` beside its `.lbl`, the data file a PDS4 label
    names) and sidecars (`.aux.xml`, `.ovr`). A path or pattern that matches nothing
    raises NotFound. Order is stable and duplicates are dropped.
    """
    found: dict[Path, None] = {}
    for arg in args:
        path = Path(arg)
        if path.is_file():
            found[path] = None
        elif path.is_dir():
            found.update(dict.fromkeys(_entries(sorted(p for p in path.rglob("*") if p.is_file()))))
        elif glob.has_magic(arg):
            matches = sorted(Path(p) for p in glob.glob(arg, recursive=True))
            if not matches:
                raise NotFound(
                    f"the pattern {arg!r} matches no file: check the pattern and the folder"
                )
            files = [p for m in matches for p in ([m] if m.is_file() else sorted(m.rglob("*")))]
            found.update(dict.fromkeys(_entries([f for f in files if f.is_file()])))
        else:
            raise NotFound(
                f"input {arg!r} does not exist: pass an existing file, folder or glob pattern"
            )
    return list(found)


def _entries(files: list[Path]) -> list[Path]:
    """The product entry files among `files`: those a reader takes, minus labels' data files."""
    names = {f.name.lower() for f in files}
    data_files: set[Path] = set()
    for f in files:
        if f.suffix.lower() == ".xml" and _PDS4.can_open(f):
            data_files.update(
                f.parent / m.decode("utf-8", "replace")
                for m in _PDS4_FILE_NAME.findall(head(f, 1 << 20))
            )
    entries = []
    for f in files:
        lower = f.name.lower()
        if f.name.startswith(".") or lower.endswith(_SIDECARS) or f in data_files:
            continue
        if f.suffix.lower() != ".lbl" and f"{f.stem.lower()}.lbl" in names:
            continue  # the data file of a detached PDS3 label
        if any(reader.can_open(f) for reader in READERS):
            entries.append(f)
    return entries
