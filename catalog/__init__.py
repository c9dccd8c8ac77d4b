"""The STAC catalog: one contract (`catalog.base.Catalog`), one module per backend."""

from catalog.base import Catalog, SearchPage, SearchQuery, open_catalog

__all__ = ["Catalog", "SearchPage", "SearchQuery", "open_catalog"]
