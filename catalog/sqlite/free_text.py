"""Free text on the SQLite catalog: an FTS5 index over each item's title, description and
keywords, kept in step by triggers on ``item_data`` (so upserts, deletes, access edits and
``catalog import`` change it in their own transaction), and `q` compiled to MATCH queries.

The FTS5 table stores its own copy of the indexed text (SQLite 3.40 has no
``contentless_delete``, and an external-content table would need the old text to delete a
row, which ``INSERT OR REPLACE`` does not give its triggers). The unicode61 tokenizer splits
on everything but letters and digits and folds case, like `catalog.query.free_text.words`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from catalog.query.free_text import And, FreeText, Not, Or, Phrase, parse_free_text

# title, description and keywords (a JSON array reads as its JSON text: brackets and quotes
# are separators to the tokenizer), one line per item
# (content SQLite cannot read as JSON, such as NaN that Python's json writes, is indexed as
# no words rather than failing the write)
_TEXT = ("CASE WHEN json_valid({c}) THEN"
         " coalesce(json_extract({c}, '$.properties.title'), '') || ' ' ||"
         " coalesce(json_extract({c}, '$.properties.description'), '') || ' ' ||"
         " coalesce(json_extract({c}, '$.properties.keywords'), '') ELSE '' END")

_INDEX_ROW = f"INSERT INTO items_fts (rowid, body) VALUES (new.pk, {_TEXT.format(c='new.content')});"
FREE_TEXT_SCHEMA = (
    "CREATE VIRTUAL TABLE items_fts USING fts5 (body, tokenize = 'unicode61 remove_diacritics 0')",
    "CREATE TRIGGER items_fts_insert AFTER INSERT ON item_data BEGIN"
    f" DELETE FROM items_fts WHERE rowid = new.pk; {_INDEX_ROW} END",
    "CREATE TRIGGER items_fts_update AFTER UPDATE OF pk, content ON item_data BEGIN"
    f" DELETE FROM items_fts WHERE rowid = old.pk; {_INDEX_ROW} END",
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON item_data BEGIN"
    " DELETE FROM items_fts WHERE rowid = old.pk; END",
)


def create_free_text_index(c: sqlite3.Connection) -> None:
    """Create the FTS5 table and its triggers and index every stored item (the migration
    step of schema version 3: run inside the caller's transaction)."""
    for statement in FREE_TEXT_SCHEMA:
        c.execute(statement)
    c.execute(f"INSERT INTO items_fts (rowid, body) SELECT pk, {_TEXT.format(c='content')} FROM item_data")


def free_text_sql(terms: str | Sequence[str], params: dict[str, Any], *, prefix: str = "q") -> str:
    """`q` (a string, or entries ORed) as SQL over ``items i``, backed by the FTS5 index;
    `InvalidRequest` if it is malformed. Values land in `params`."""
    return _Compiler(params, prefix).sql(parse_free_text(terms))


class _Compiler:
    def __init__(self, params: dict[str, Any], prefix: str) -> None:
        self.params = params
        self.prefix = prefix
        self.n = 0

    def sql(self, expr: FreeText) -> str:
        match = _fts5(expr)
        if match is not None:
            key = f"{self.prefix}{self.n}"
            self.n += 1
            self.params[key] = match
            return f"i.pk IN (SELECT rowid FROM items_fts WHERE items_fts MATCH :{key})"
        if isinstance(expr, Not):
            return f"NOT ({self.sql(expr.child)})"
        assert isinstance(expr, And | Or)
        joiner = " AND " if isinstance(expr, And) else " OR "
        return "(" + joiner.join(f"({self.sql(c)})" for c in expr.children) + ")"


def _fts5(expr: FreeText) -> str | None:
    """One FTS5 query for `expr`, or None if FTS5 cannot say it (a NOT with nothing to
    subtract from: those are composed in SQL instead)."""
    if isinstance(expr, Phrase):
        return '"' + " ".join(expr.words) + '"'  # words are letters and digits only
    if isinstance(expr, Not):
        return None
    if isinstance(expr, Or):
        parts = [_fts5(c) for c in expr.children]
        return None if any(p is None for p in parts) else "(" + " OR ".join(parts) + ")"  # type: ignore[arg-type]
    positive = [_fts5(c) for c in expr.children if not isinstance(c, Not)]
    negative = [_fts5(c.child) for c in expr.children if isinstance(c, Not)]
    if not positive or any(p is None for p in (*positive, *negative)):
        return None
    out = "(" + " AND ".join(positive) + ")"  # type: ignore[arg-type]
    for n in negative:
        out = f"({out} NOT {n})"
    return out
