"""The backend-neutral query core: what a search means, written once for both backends.

`cql2` (the CQL2 JSON compiler core and its dialect hooks), `free_text` (the q parser),
`paging` (keyset tokens), `sort` (the sortby plan), `counts` (the count-table decision),
`temporal` (microsecond times and the Allen relations) and `spatial` (boxes and query
geometries). Nothing here imports a backend (`catalog.sqlite`, `catalog.pgstac`).
"""
