"""Free text on the pgstac catalog: a GIN expression index on pgstac's ``items`` over
`datacenter.item_text(content)` (title, description and keywords as a ``tsvector``), and
`q` compiled to one ``tsquery`` that the index answers.

pgstac 0.10's own `q` (``stac_search_to_where``) stems English words, skips stop words,
drops items that have no description, and has no index, so it is not used. The ``simple``
configuration only folds case; punctuation is turned into spaces first, so the words are
those of `catalog.query.free_text.words` and of the SQLite FTS5 index. An index on the partitioned
``items`` table is created on every partition, present and future.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from catalog.query.free_text import And, FreeText, Not, Or, Phrase, parse_free_text

# STRICT is left out: an item without any of the three fields still gets an (empty) vector.
_FUNCTION = r"""
CREATE OR REPLACE FUNCTION datacenter.item_text(content jsonb) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector('simple'::regconfig, regexp_replace(lower(
        coalesce(content->'properties'->>'title', '') || ' ' ||
        coalesce(content->'properties'->>'description', '') || ' ' ||
        coalesce(content->'properties'->>'keywords', '')), '[[:space:][:punct:]]+', ' ', 'g'))
$$
"""
_INDEX = "CREATE INDEX IF NOT EXISTS items_free_text ON pgstac.items USING gin (datacenter.item_text(content))"
# The matching rows are found by the index in a subquery, and the search keeps rows whose
# key is among them: as a plain WHERE term the planner would rather walk the datetime index
# for a page and evaluate the (not cheap: ~15 us) expression on every row it passes.
_MATCH = ("(collection, id) IN (SELECT t.collection, t.id FROM items t"
          " WHERE datacenter.item_text(t.content) @@ %({key})s::tsquery)")  # the indexed expression


def create_free_text_index(conn: psycopg.Connection[Any]) -> None:
    """The text function and the index (a migration step; safe to run again)."""
    with conn.transaction():
        conn.execute("CREATE SCHEMA IF NOT EXISTS datacenter")
        conn.execute(_FUNCTION)  # type: ignore[arg-type]
        conn.execute(_INDEX)
        roles = [r[0] for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname IN ('pgstac_ingest', 'pgstac_read')")]
        for role in roles:
            conn.execute(f"GRANT USAGE ON SCHEMA datacenter TO {role}")  # type: ignore[arg-type]
            conn.execute(f"GRANT EXECUTE ON FUNCTION datacenter.item_text(jsonb) TO {role}")  # type: ignore[arg-type]


def free_text_pg(terms: str | Sequence[str], params: dict[str, Any], *, prefix: str = "q") -> str:
    """`q` (a string, or entries ORed) as SQL over ``items``; `InvalidRequest` if it is
    malformed. The tsquery lands in `params`."""
    key = f"{prefix}0"
    params[key] = tsquery(parse_free_text(terms))
    return _MATCH.format(key=key)


def tsquery(expr: FreeText) -> str:
    """`expr` in ``tsquery`` syntax (words are letters and digits only: quoting is safe)."""
    if isinstance(expr, Phrase):
        return "(" + " <-> ".join(f"'{w}'" for w in expr.words) + ")"
    if isinstance(expr, Not):
        return f"!{tsquery(expr.child)}"
    joiner = " & " if isinstance(expr, And) else " | "
    assert isinstance(expr, And | Or)
    return "(" + joiner.join(tsquery(c) for c in expr.children) + ")"
