"""The catalog contract every backend fulfils, and the typed search request / page.

Items and collections cross this boundary as STAC JSON dicts (``StacItem``,
``StacCollection``): they are stored and served as JSON, and parsing every item into a
pystac object on the search hot path would cost more than the query itself. The request
and the page around them are typed.

Asset ``href``s inside stored items are *store keys* (relative paths in the object store);
the API rewrites them into download URLs of its own, so where bytes live stays internal.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from catalog.audit import AuditLog
from catalog.partners import PartnerStore
from datacenter.access import ANONYMOUS, Viewer
from datacenter.errors import ConfigError

StacItem = dict[str, Any]
StacCollection = dict[str, Any]

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 10
# `numberMatched` is exact up to this many matches and left out above it (counting a broad
# search costs more than the page itself); `DATACENTER_SEARCH_COUNT_LIMIT`.
DEFAULT_COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class SearchQuery:
    """A validated item search. Times are timezone-aware UTC; open ends are None.

    `bbox` is (west, south, east, north) in degrees on the body; west > east means the
    box crosses the antimeridian (RFC 7946 / STAC convention).
    `datetime` matches items whose [start_datetime, end_datetime] (or `datetime`)
    intersects the closed interval.
    `token` is the opaque value of a previous page's `next_token`.
    `filter` is a CQL2 JSON expression (the API turns cql2-text and the Query extension
    into it); `sortby` is ((field, "asc"|"desc"), ...); `q` is free text in the syntax of
    `catalog.query.free_text` (one string, or several ORed).
    `viewer` is who asks: backends return only what `datacenter.access` lets them see,
    inside the query (pages stay full, counts exact). Least privilege by default:
    internal callers that must see everything pass `datacenter.access.SYSTEM`.
    """

    collections: Sequence[str] | None = None
    ids: Sequence[str] | None = None
    bbox: tuple[float, float, float, float] | None = None
    intersects: dict[str, Any] | None = None
    datetime: tuple[datetime | None, datetime | None] | None = None
    limit: int = DEFAULT_LIMIT
    token: str | None = None
    filter: dict[str, Any] | None = None
    sortby: tuple[tuple[str, str], ...] | None = None
    q: str | Sequence[str] | None = None
    viewer: Viewer = ANONYMOUS


@dataclass
class SearchPage:
    """One page. `number_matched` is exact, or None when more items match than the
    backend's `count_limit` (the page and its tokens are complete either way)."""

    items: list[StacItem]
    number_matched: int | None = None
    next_token: str | None = None
    prev_token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


#: item properties a collection's `summaries` list (ingest merges them in as items arrive;
#: the API serves a non-administrator the values of the items that viewer may see)
SUMMARISED: tuple[str, ...] = ("platform", "instruments", "mission", "constellation", "processing:level",
                               "gsd", "ssys:targets")


class Catalog(abc.ABC):
    """What the ingest pipeline and the API need from a catalog backend."""

    #: Item lookups (and the audit write beside them) are local and take microseconds, so the
    #: API may answer them on its event loop instead of in its thread pool.
    inline_lookups: bool = False
    #: Seconds one `search` may run its SQL (0: no bound); past it `SearchTimeout`.
    #: SQLite: a progress handler; PostgreSQL: ``statement_timeout`` for that search.
    search_timeout: float = 0.0

    # collections -----------------------------------------------------------------
    @abc.abstractmethod
    def upsert_collection(self, collection: StacCollection) -> None:
        """Insert or replace a collection (by its `id`)."""

    @abc.abstractmethod
    def get_collection(self, collection_id: str, *, viewer: Viewer = ANONYMOUS) -> StacCollection:
        """The collection, or `CollectionNotFound` (also when `viewer` may not see it)."""

    @abc.abstractmethod
    def list_collections(self, *, viewer: Viewer = ANONYMOUS) -> list[StacCollection]:
        """The collections `viewer` may see, ordered by id."""

    @abc.abstractmethod
    def delete_collection(self, collection_id: str) -> None:
        """Delete a collection and all its items; `CollectionNotFound` if absent."""

    # items -----------------------------------------------------------------------
    @abc.abstractmethod
    def upsert_items(self, items: Iterable[StacItem]) -> int:
        """Insert or replace items in one transaction; returns how many were written.

        Every item's `collection` must exist (`CollectionNotFound` otherwise) and nothing is
        written if any item is invalid.
        """

    @abc.abstractmethod
    def get_item(self, collection_id: str, item_id: str, *, viewer: Viewer = ANONYMOUS) -> StacItem:
        """The item, or `ItemNotFound` / `CollectionNotFound` (also when `viewer` may not see it:
        a hidden record is indistinguishable from a missing one)."""

    @abc.abstractmethod
    def delete_item(self, collection_id: str, item_id: str) -> None:
        """Delete one item; `ItemNotFound` if absent."""

    @abc.abstractmethod
    def search(self, query: SearchQuery) -> SearchPage:
        """One page of items matching `query`, newest first (datetime desc, then id)."""

    @abc.abstractmethod
    def collection_extent(self, collection_id: str, *, viewer: Viewer = ANONYMOUS) -> dict[str, Any]:
        """The STAC `extent` computed from the collection's items that `viewer` may see."""

    @abc.abstractmethod
    def collection_summaries(
        self, collection_id: str, fields: Sequence[str], *, viewer: Viewer = ANONYMOUS
    ) -> dict[str, list[Any]]:
        """The distinct values of each property in `fields` over the collection's items that
        `viewer` may see (each element of a list-valued property counts; a field no such item
        has is left out), sorted; `CollectionNotFound` as for `collection_extent`."""

    def partner_store(self) -> PartnerStore:
        """Partners and API keys, kept in the catalog's database."""
        raise ConfigError(f"{type(self).__name__} keeps no partners; use a backend that does")

    def audit_log(self) -> AuditLog:
        """The append-only audit log, kept in the catalog's database."""
        raise ConfigError(f"{type(self).__name__} keeps no audit log; use a backend that does")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_count_limit(count_limit: int) -> int:
    if not isinstance(count_limit, int) or count_limit < 0:
        raise ConfigError(
            f"search count limit {count_limit!r} is not a whole number >= 0; use e.g. 10000 "
            "(0: never count, numberMatched left out)"
        )
    return count_limit

