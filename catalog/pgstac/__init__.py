"""The PostgreSQL + pgstac catalog backend (`catalog.pgstac.catalog`).

Imports only the contracts (`catalog.base`, `catalog.items`, `catalog.partners`,
`catalog.audit`, `catalog.jobs`), the neutral core (`catalog.query`) and `datacenter`;
never `catalog.sqlite`.
"""

from catalog.pgstac.catalog import PgstacCatalog, migrate
from catalog.pgstac.pool import redact

__all__ = ["PgstacCatalog", "migrate", "redact"]
