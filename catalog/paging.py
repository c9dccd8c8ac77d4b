"""Opaque keyset paging tokens: urlsafe base64 of JSON naming a sort key and a direction.

A token says "continue after (or before) this row", never "skip N rows", so a page stays
correct when items are inserted or deleted between requests. The sort key is whatever the
backend orders by; for SQLite it is ``[datetime_us, collection, id]``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal

from datacenter.errors import InvalidRequest

Direction = Literal["next", "prev"]


@dataclass(frozen=True)
class PageToken:
    key: tuple[int, str, str]
    direction: Direction = "next"

    def encode(self) -> str:
        raw = json.dumps({"k": list(self.key), "d": self.direction}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, token: str) -> PageToken:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data: Any = json.loads(raw)
            key, direction = data["k"], data.get("d", "next")
            dt, coll, item_id = key
            if (
                not isinstance(dt, int) or isinstance(dt, bool)
                or not isinstance(coll, str) or not isinstance(item_id, str)
                or direction not in ("next", "prev")
            ):
                raise ValueError
        except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError, AttributeError):
            raise InvalidRequest(
                f"invalid paging token {token[:40]!r}: pass back the next/prev token of a previous "
                "page unchanged, or drop it to start from the first page"
            ) from None
        return cls((dt, coll, item_id), direction)
