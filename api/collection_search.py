"""Collection Search: ``GET /collections?bbox=&datetime=&q=&limit=&token=``.

Collections are few (hundreds, not millions), so the search runs over the list the catalog
contract already returns (`Catalog.list_collections`, which applies the viewer's access),
on each collection's served extent; this keeps it identical on every backend. Paging is
keyset on the collection id (ordered by id), so inserts between pages never skip or repeat.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from api.params import BBox, Interval, parse_instant
from catalog.query.free_text import FreeText, matches, parse_free_text
from datacenter.errors import InvalidRequest


def encode_token(direction: str, collection_id: str) -> str:
    raw = json.dumps({"d": direction, "id": collection_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")


def decode_token(token: str) -> tuple[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        direction, cid = data["d"], data["id"]
        if direction not in ("next", "prev") or not isinstance(cid, str):
            raise ValueError
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError, AttributeError):
        raise InvalidRequest(
            f"invalid collections paging token {token[:40]!r}: pass back the token of a "
            "next/prev link unchanged, or drop it to start from the first page"
        ) from None
    return direction, cid


def _boxes(w: float, s: float, e: float, n: float) -> list[tuple[float, float, float, float]]:
    return [(w, s, 180.0, n), (-180.0, s, e, n)] if w > e else [(w, s, e, n)]


def _bbox_matches(collection: dict[str, Any], bbox: BBox) -> bool:
    try:
        extents = collection["extent"]["spatial"]["bbox"]
        w, s, e, n = (extents[0][0], extents[0][1], extents[0][-2], extents[0][-1])
    except (KeyError, IndexError, TypeError):
        return True  # no usable extent: cannot rule it out
    return any(
        a[0] <= b[2] and a[2] >= b[0] and a[1] <= b[3] and a[3] >= b[1]
        for a in _boxes(w, s, e, n) for b in _boxes(*bbox)
    )


def _time(value: Any) -> datetime | None:
    return parse_instant(value) if isinstance(value, str) else None


def _datetime_matches(collection: dict[str, Any], interval: Interval) -> bool:
    try:
        start, end = collection["extent"]["temporal"]["interval"][0]
    except (KeyError, IndexError, TypeError, ValueError):
        return True
    try:
        c_start, c_end = _time(start), _time(end)
    except InvalidRequest:
        return True
    q_start, q_end = interval
    if q_end is not None and c_start is not None and c_start > q_end:
        return False
    return not (q_start is not None and c_end is not None and c_end < q_start)


def _text_matches(collection: dict[str, Any], q: FreeText) -> bool:
    """`q` over the collection's id, title, description and keywords (the words and rules
    of item search: catalog.query.free_text)."""
    text = " ".join(
        str(collection.get(k) or "") for k in ("id", "title", "description")
    ) + " " + " ".join(str(k) for k in collection.get("keywords") or [])
    return matches(q, text)


def search_collections(
    collections: list[dict[str, Any]],
    *,
    bbox: BBox | None,
    interval: Interval | None,
    q: str | Sequence[str] | None,
    limit: int,
    token: str | None,
) -> tuple[list[dict[str, Any]], int, str | None, str | None]:
    """(page, number matched, next token, prev token) over `collections` (with extents)."""
    text = parse_free_text(q) if q else None
    matched = sorted(
        (c for c in collections
         if (bbox is None or _bbox_matches(c, bbox))
         and (interval is None or _datetime_matches(c, interval))
         and (text is None or _text_matches(c, text))),
        key=lambda c: c["id"],
    )
    if token:
        direction, cid = decode_token(token)
    else:
        direction, cid = "next", None
    if direction == "next":
        rest = [c for c in matched if cid is None or c["id"] > cid]
        page, more_after = rest[:limit], len(rest) > limit
        more_before = cid is not None and any(c["id"] <= cid for c in matched)
    else:
        rest = [c for c in matched if c["id"] < cid]
        page, more_before = rest[-limit:], len(rest) > limit
        more_after = any(c["id"] >= cid for c in matched)
    next_token = encode_token("next", page[-1]["id"]) if page and more_after else None
    prev_token = encode_token("prev", page[0]["id"]) if page and more_before else None
    return page, len(matched), next_token, prev_token
