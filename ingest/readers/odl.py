"""Shared parsing of PVL / ODL labels (PDS3 and ISIS3), attached or detached."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pvl

from datacenter.errors import LabelError

_END = re.compile(rb"^END[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
MAX_LABEL_BYTES = 4 * 1024 * 1024


def load_label(path: Path, fmt: str) -> pvl.PVLModule:
    """Parse the PVL label at the start of `path` (the whole file for a detached label)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_LABEL_BYTES)
    except OSError as exc:
        raise LabelError(f"cannot read the {fmt} label {path}: {exc}") from exc
    end = _END.search(raw)
    if end is None:
        raise LabelError(
            f"{fmt} label {path} has no END statement in its first {MAX_LABEL_BYTES} bytes; "
            "expected a PVL/ODL label ending with END: the label is truncated or not a label"
        )
    text = raw[: end.end()].decode("latin-1")
    try:
        return pvl.loads(text)
    except Exception as exc:  # pvl raises LexerError / ParseError / ValueError variants
        raise LabelError(
            f"{fmt} label {path} is not valid PVL/ODL: {exc}. Expected KEY = VALUE statements "
            "and OBJECT/GROUP blocks: fix the label"
        ) from exc


def plain(value: Any) -> Any:
    """A PVL value without its units (pvl Quantity -> its value)."""
    return getattr(value, "value", value)


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
    items = value if isinstance(value, list | tuple | set) else [value]
    return tuple(
        str(plain(v)).strip() for v in items if str(plain(v)).strip() not in {"", "N/A", "NULL"}
    )
