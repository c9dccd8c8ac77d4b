"""`sortby` as both backends read it: validated, normalised, with the signature tokens carry.

A request names fields and directions; this module refuses what neither backend can sort
(with one message for both), strips ``properties.`` prefixes, drops repeated fields and
computes the `signature` a page token carries, so a token replayed with another sortby is
refused by `catalog.query.paging.PageToken` on both backends alike. Each backend turns the
fields into its own ORDER BY (`catalog.sqlite.sort`, `catalog.pgstac.sort`), ending with the
unique pair (collection, id) so that rows never tie.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from datacenter.errors import InvalidRequest

DEFAULT_SORT = (("datetime", "desc"),)
TIES = ("collection", "id")  # (collection, id) is unique: every order ends with them
CORE_FIELDS = frozenset({"datetime", "id", "collection", "start_datetime", "end_datetime"})


@dataclass(frozen=True)
class SortField:
    position: int  # the entry's place in the request (names a parameter)
    name: str  # without a ``properties.`` prefix
    descending: bool


@dataclass(frozen=True)
class SortRequest:
    fields: tuple[SortField, ...]  # each name once, in request order
    signature: str  # "" for the default order (keeps old tokens valid)


def sort_request(sortby: tuple[tuple[str, str], ...] | None) -> SortRequest:
    """The fields of `sortby` ((field, "asc"|"desc"), ...); default datetime desc.
    `InvalidRequest` naming the first entry neither backend can sort by."""
    entries = tuple(sortby) if sortby else DEFAULT_SORT
    fields: list[SortField] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries):
        try:
            name, direction = entry
        except (TypeError, ValueError):
            raise InvalidRequest(f"sortby entry {entry!r} is not (field, direction)") from None
        if not isinstance(name, str) or not name.strip():
            raise InvalidRequest(f"sortby field {name!r} is empty; name a property such as datetime")
        if direction not in ("asc", "desc"):
            raise InvalidRequest(f"sortby direction {direction!r} of {name!r} must be 'asc' or 'desc'")
        name = name.strip().removeprefix("properties.")
        if name in seen:
            continue
        seen.add(name)
        if name in ("geometry", "bbox", "assets", "links"):
            raise InvalidRequest(f"sortby field {name!r} cannot be sorted; use a property")
        if name not in CORE_FIELDS and '"' in name:
            raise InvalidRequest(f"sortby field {name!r} is not usable")
        fields.append(SortField(n, name, direction == "desc"))
    if entries == DEFAULT_SORT:
        signature = ""
    else:
        signature = hashlib.sha1(json.dumps(entries).encode()).hexdigest()[:8]
    return SortRequest(tuple(fields), signature)
