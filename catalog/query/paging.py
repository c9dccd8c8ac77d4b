"""Opaque keyset paging tokens: urlsafe base64 of JSON naming a sort key and a direction.

A token says "continue after (or before) this row", never "skip N rows", so a page stays
correct when items are inserted or deleted between requests. The key holds the row's values
of every sort expression, ending with the unique tie-breakers; for SQLite's default order it
is ``[datetime_us, collection, id]``. `sort` names the order the key belongs to, so a token
replayed with another `sortby` is refused instead of silently skipping rows.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from datacenter.errors import InvalidRequest

Direction = Literal["next", "prev"]
Scalar = None | int | float | str


@dataclass(frozen=True)
class PageToken:
    key: tuple[Scalar, ...]
    direction: Direction = "next"
    sort: str = ""

    def encode(self) -> str:
        data: dict[str, Any] = {"k": list(self.key), "d": self.direction}
        if self.sort:
            data["s"] = self.sort
        raw = json.dumps(data, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, token: str, *, sort: str = "", length: int | None = 3) -> PageToken:
        """The token, checked against the `sort` signature and key `length` it must have."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data: Any = json.loads(raw)
            key, direction = data["k"], data.get("d", "next")
            if (
                not isinstance(key, list)
                or not all(_scalar(v) for v in key)
                or direction not in ("next", "prev")
                or (length is not None and len(key) != length)
                or data.get("s", "") != sort
                or not isinstance(key[-1], str) or not isinstance(key[-2], str)
            ):
                raise ValueError
        except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError,
                AttributeError, IndexError):
            raise InvalidRequest(
                f"invalid paging token {token[:40]!r}: pass back the next/prev token of a previous "
                "page unchanged, with the same sortby, or drop it to start from the first page"
            ) from None
        return cls(tuple(key), direction, sort)


def _scalar(value: Any) -> bool:
    """A key value a backend can bind: text, a finite float, an integer in 64 bits, None."""
    if value is None or isinstance(value, str):
        return "\x00" not in value if isinstance(value, str) else True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, float) and math.isfinite(value)


def page_tokens(
    keys: list[tuple[Any, ...]], *, more: bool, after_token: bool, forward: bool, sort: str
) -> tuple[str | None, str | None]:
    """(next, prev) tokens of a page whose rows have sort `keys` (in page order).

    `more`: rows exist beyond the page in the walking direction; `after_token`: the page was
    reached through a token (so rows exist before it when walking forward)."""
    if not keys:
        return None, None
    first, last = PageToken(keys[0], "prev", sort).encode(), PageToken(keys[-1], "next", sort).encode()
    if forward:
        return (last if more else None), (first if after_token else None)
    return last, (first if more else None)
