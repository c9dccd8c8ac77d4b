"""Free-text search (`q`): the STAC API Free-Text extension's advanced form, parsed once.

What a user writes (GET ``q=...``; a POST list ``["a", "b"]`` ORs its entries):

* ``crater`` - the word, in any case; ``south pole`` - the adjacent words in that order;
  ``"south pole"`` - the same, quoted;
* ``,`` and ``OR`` - either side matches; ``AND`` - both sides match;
* ``+word`` (or ``+"a phrase"``, ``+(...)``) - must match; ``-word`` - must not match;
  neighbours that are not both plain words are ANDed: ``crater -"south pole"``;
* ``(...)`` groups; ``AND`` binds tighter than ``OR``/``,``.

Words are runs of letters and digits; everything else (punctuation, ``_``, ``%``, ``*``)
separates them, so there are no wildcards. Both backends index the same text per item: its
title, description and keywords (`item_text` in the SQLite FTS5 table and in the PostgreSQL
expression index), and collections are matched in Python by `matches` with the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from datacenter.errors import InvalidRequest

_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'\s*(?:(?P<punct>[(),])|(?P<sign>[+-])?(?:"(?P<quoted>[^"]*)(?P<close>")?|(?P<group>\()'
                    r'|(?P<word>[^\s(),"]+)))')
_HELP = ('write words, "quoted phrases", +required, -excluded, AND, OR (or a comma) and '
         "parentheses, e.g. q=crater,(south pole AND -mosaic)")


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]  # lower case, adjacent in this order


@dataclass(frozen=True)
class Not:
    child: FreeText


@dataclass(frozen=True)
class And:
    children: tuple[FreeText, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[FreeText, ...]


FreeText = Phrase | Not | And | Or


def words(text: str) -> list[str]:
    """The words of `text` as the indexes hold them: lower-case runs of letters and digits."""
    return _WORD.findall(text.lower())


def parse_free_text(q: str | Sequence[str]) -> FreeText:
    """One expression from a `q` string, or the OR of a list of them; `InvalidRequest`
    naming the problem (an unclosed quote or parenthesis, an operator with nothing to join,
    a term without letters or digits)."""
    if isinstance(q, str):
        return _Parser(q).parse()
    entries = [e for e in q]
    if not entries:
        raise InvalidRequest(f"q is an empty list; {_HELP}")
    for entry in entries:
        if not isinstance(entry, str):
            raise InvalidRequest(f"q entry {entry!r} is not text; {_HELP}")
    parsed = tuple(_Parser(e).parse() for e in entries)
    return parsed[0] if len(parsed) == 1 else Or(parsed)


def matches(expr: FreeText, text: str) -> bool:
    """Whether `text` matches `expr` (for records matched in Python, such as collections)."""
    return _match(expr, words(text))


def _match(expr: FreeText, have: list[str]) -> bool:
    if isinstance(expr, Phrase):
        n = len(expr.words)
        return any(tuple(have[k:k + n]) == expr.words for k in range(len(have) - n + 1))
    if isinstance(expr, Not):
        return not _match(expr.child, have)
    if isinstance(expr, And):
        return all(_match(c, have) for c in expr.children)
    return any(_match(c, have) for c in expr.children)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenise(text)
        self.pos = 0

    def _fail(self, problem: str) -> InvalidRequest:
        return InvalidRequest(f"q {self.text!r} {problem}; {_HELP}")

    def _tokenise(self, text: str) -> list[tuple[str, str, str]]:
        """(kind, value, sign): kind is punct, quoted, group (an opening parenthesis with a
        sign), word, or op (AND / OR)."""
        out: list[tuple[str, str, str]] = []
        at = 0
        while at < len(text):
            if not text[at:].strip():
                break
            m = _TOKEN.match(text, at)
            if m is None or m.end() == at:  # not reached: every character starts a token
                raise self._fail(f"cannot be read at position {at}")
            sign = m["sign"] or ""
            if m["punct"]:
                out.append(("punct", m["punct"], ""))
            elif m["quoted"] is not None:
                if m["close"] is None:
                    raise self._fail(f'has a quote at position {m.start("quoted") - 1} that is never closed')
                out.append(("quoted", m["quoted"], sign))
            elif m["group"]:
                out.append(("group", "(", sign))
            elif sign == "" and m["word"] in ("AND", "OR"):
                out.append(("op", m["word"], ""))
            else:
                out.append(("word", m["word"], sign))
            at = m.end()
        return out

    def _peek(self) -> tuple[str, str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> FreeText:
        if not self.tokens:
            raise self._fail("holds nothing to look for")
        expr = self._or()
        if (token := self._peek()) is not None:
            raise self._fail("has a ')' without a matching '('" if token[1] == ")"
                             else f"has an unexpected {token[1]!r}")
        return expr

    def _or(self) -> FreeText:
        children = [self._and()]
        while (token := self._peek()) is not None and token[1] in (",", "OR"):
            self.pos += 1
            children.append(self._and(after=token[1]))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def _and(self, after: str | None = None) -> FreeText:
        children: list[FreeText] = []
        run: list[str] = []  # adjacent plain words: one phrase

        def close_run() -> None:
            if run:
                children.append(self._phrase(" ".join(run)))
                run.clear()

        while (token := self._peek()) is not None:
            kind, value, sign = token
            if kind == "punct" and value in (",", ")") or (kind == "op" and value == "OR"):
                break
            self.pos += 1
            if kind == "op":  # AND
                close_run()
                if not children or self._peek() is None or self._peek()[1] in (",", ")", "OR", "AND"):  # type: ignore[index]
                    raise self._fail("has an AND without a term on both sides")
                continue
            if kind == "word" and not sign:
                run.append(value)
                continue
            close_run()
            if kind in ("punct", "group"):  # '(' or a signed '+(' / '-('
                item = self._group()
            elif kind == "quoted":
                item = self._phrase(value, quoted=True)
            else:
                item = self._phrase(value)
            children.append(Not(item) if sign == "-" else item)
        close_run()
        if not children:
            where = f"after {after!r}" if after else "before an operator"
            raise self._fail(f"has nothing to look for {where}")
        return children[0] if len(children) == 1 else And(tuple(children))

    def _group(self) -> FreeText:
        if (token := self._peek()) is not None and token[1] == ")":
            raise self._fail("has an empty group '()'")
        inner = self._or()
        token = self._peek()
        if token is None or token[1] != ")":
            raise self._fail("has a '(' that is never closed")
        self.pos += 1
        return inner

    def _phrase(self, text: str, *, quoted: bool = False) -> Phrase:
        found = words(text)
        if not found:
            shown = f'"{text}"' if quoted else text
            raise self._fail(f"has the term {shown!r}, which holds no letters or digits to look for")
        return Phrase(tuple(found))
