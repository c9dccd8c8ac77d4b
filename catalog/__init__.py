"""The STAC catalog: one contract (`catalog.base.Catalog`), one subpackage per backend.

This module is the registry: `open_catalog` and `open_job_store` pick the backend a URL
names, and are the only place that names both backends (`catalog.sqlite`,
`catalog.pgstac`); each is imported only when its URL is opened. The backends share the
contracts (`catalog.base`, `catalog.items`, `catalog.partners`, `catalog.audit`,
`catalog.jobs`) and the neutral query core (`catalog.query`), and never import each other.
"""

from __future__ import annotations

from catalog.base import DEFAULT_COUNT_LIMIT, Catalog, SearchPage, SearchQuery
from catalog.jobs import JobStore
from datacenter.errors import ConfigError

__all__ = ["Catalog", "SearchPage", "SearchQuery", "open_catalog", "open_job_store"]


def open_catalog(url: str, *, count_limit: int = DEFAULT_COUNT_LIMIT) -> Catalog:
    """The catalog backend named by `url`: ``sqlite:///path`` or ``postgresql://...`` (pgstac).

    Searches count their matches exactly up to `count_limit` (0: never); above it a page's
    `number_matched` is None.
    """
    if url.startswith("sqlite://"):
        from catalog.sqlite.catalog import SQLiteCatalog

        return SQLiteCatalog.from_url(url, count_limit=count_limit)
    if url.startswith(("postgresql://", "postgres://")):
        from catalog.pgstac.catalog import PgstacCatalog

        return PgstacCatalog.from_url(url, count_limit=count_limit)
    raise ConfigError(
        f"catalog URL {url!r} names no backend this install has: use sqlite:///path/to/catalog.sqlite"
        " or postgresql://user@host:port/dbname"
    )


def _sqlite_path(url: str) -> str:
    rest = url[len("sqlite://"):].split("?", 1)[0]
    return rest[1:] if rest.startswith("//") else rest


def open_job_store(catalog_url: str) -> JobStore:
    """The job store living in the catalog database named by `catalog_url`."""
    if catalog_url.startswith("sqlite://"):
        from catalog.sqlite.jobs import SQLiteJobStore

        return SQLiteJobStore(_sqlite_path(catalog_url))
    if catalog_url.startswith(("postgresql://", "postgres://")):
        from catalog.pgstac.jobs import PgJobStore

        return PgJobStore(catalog_url)
    raise ConfigError(f"catalog URL {catalog_url!r} has no job store; use sqlite:///path "
                      "or postgresql://user@host:port/dbname")
