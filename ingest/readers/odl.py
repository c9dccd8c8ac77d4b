"""Shared parsing of PVL / ODL labels (PDS3 and ISIS3), attached or detached."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pvl
import pvl.decoder
import pvl.grammar

from datacenter.errors import LabelError

#: the END statement alone on its line, or at the start of a line directly followed by the
#: binary data of an attached label (no newline); the first wins; never END_OBJECT / ENDIAN
_END = re.compile(rb"^[ \t]*END[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_END_THEN_DATA = re.compile(rb"^END(?![A-Za-z0-9_])", re.IGNORECASE | re.MULTILINE)
MAX_LABEL_BYTES = 4 * 1024 * 1024


class _QuickDecoder(pvl.decoder.OmniDecoder):
    """pvl's decoder, minus its slowest habit: trying a dozen `strptime` formats on every
    value. A time needs a digit first and a ``-`` or ``:`` (ISIS labels hold thousands of
    plain numbers in their NaifKeywords group; a cube's label parsed 10x faster)."""

    def decode_datetime(self, value: str):  # type: ignore[no-untyped-def]
        if not value[:1].isdigit() or not ("-" in value or ":" in value):
            raise ValueError(f"{value!r} is not a time")
        return super().decode_datetime(value)


def load_label(path: Path, fmt: str) -> pvl.PVLModule:
    """Parse the PVL label at the start of `path` (the whole file for a detached label).

    Parsed once per file version (the readers of a format, and `can_open` of the cube
    reader, ask for the same label): treat the result as read-only."""
    try:
        stat = Path(path).stat()
    except OSError as exc:
        raise LabelError(f"cannot read the {fmt} label {path}: {exc}") from exc
    return _load_label(str(path), fmt, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _load_label(path: str, fmt: str, mtime_ns: int, size: int) -> pvl.PVLModule:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_LABEL_BYTES)
    except OSError as exc:
        raise LabelError(f"cannot read the {fmt} label {path}: {exc}") from exc
    found = [m for m in (_END.search(raw), _END_THEN_DATA.search(raw)) if m is not None]
    end = min(found, key=lambda m: m.start()) if found else None
    if end is None:
        raise LabelError(
            f"{fmt} label {path} has no END statement in its first {MAX_LABEL_BYTES} bytes; "
            "expected a PVL/ODL label ending with END: the label is truncated or not a label"
        )
    text = raw[: end.end()].decode("latin-1")
    try:
        grammar = pvl.grammar.OmniGrammar()
        return pvl.loads(text, grammar=grammar, decoder=_QuickDecoder(grammar=grammar))
    except Exception as exc:  # pvl raises LexerError / ParseError / ValueError variants
        raise LabelError(
            f"{fmt} label {path} is not valid PVL/ODL: {exc}. Expected KEY = VALUE statements "
            "and OBJECT/GROUP blocks: fix the label"
        ) from exc


def is_quantity(value: Any) -> bool:
    """A pvl `Quantity` (``600 <nm>``): a namedtuple of value and units, not a sequence."""
    return isinstance(value, tuple) and hasattr(value, "units") and hasattr(value, "value")


def is_sequence(value: Any) -> bool:
    """A PVL sequence or set (``(a, b)``, ``{a, b}``); a `Quantity` is one value, not two."""
    return isinstance(value, list | tuple | set | frozenset) and not is_quantity(value)


def plain(value: Any) -> Any:
    """A PVL value without its units (pvl Quantity -> its value)."""
    return value.value if is_quantity(value) else value


def units(value: Any) -> str | None:
    """The units of a PVL value (``"nm"`` for ``600 <nm>``), None when it has none."""
    return str(value.units).strip() or None if is_quantity(value) else None


def values(value: Any) -> list[Any]:
    """A PVL value as a list: a sequence's items, one value (a Quantity too) as one item."""
    if value is None:
        return []
    return list(value) if is_sequence(value) else [value]


def as_int(block: Any, key: str, *, label: Path, fmt: str, default: int | None = None) -> int:
    value = plain(block.get(key, default)) if hasattr(block, "get") else default
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise LabelError(
            f"{fmt} label {label} has {key} = {value!r}; expected a whole number: fix the label"
        ) from exc


def names(value: Any) -> tuple[str, ...]:
    """One or several label names (a string or a PVL sequence) as a tuple of strings."""
    if value is None:
        return ()
    items = values(value)
    return tuple(
        str(plain(v)).strip() for v in items if str(plain(v)).strip() not in {"", "N/A", "NULL"}
    )
