"""The SQLite catalog backend: one file, WAL, an R*Tree of footprint boxes (`catalog.sqlite.catalog`).

Imports only the contracts (`catalog.base`, `catalog.items`, `catalog.partners`,
`catalog.audit`, `catalog.jobs`), the neutral core (`catalog.query`) and `datacenter`;
never `catalog.pgstac`.
"""

from catalog.sqlite.catalog import SQLiteCatalog
from catalog.sqlite.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "SQLiteCatalog"]
