"""The decision both backends' count tables share (`catalog.sqlite.counts`,
`catalog.pgstac.counts`): when a search is restricted only by collections and a time span,
what the tables can say about its ``numberMatched``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from catalog.query.temporal import to_us

SCAN = object()  # the tables cannot say: count the rows
NO_TIME = (-(1 << 62), (1 << 62) - 1)  # open ends of a time span, in microseconds


def from_tables(span: tuple[datetime | None, datetime | None] | None, cap: int,
                exact: Callable[[], int | None],
                at_least: Callable[[int, int], int | None]) -> int | None | object:
    """``numberMatched`` of a search restricted only by collections and `span` (None: no
    time), given the backend's exact count of what the viewer sees (`exact`, None if the
    tables cannot give it) and a lower bound of it within a span in microseconds
    (`at_least`). None above `cap` (left out, as a scan stopping there would), `SCAN` when
    only counting rows can say."""
    if span is None:
        total = exact()
        if total is None:
            return SCAN
        return None if total > cap else total
    start, end = span
    lower = at_least(NO_TIME[0] if start is None else to_us(start), NO_TIME[1] if end is None else to_us(end))
    return None if lower is not None and lower > cap else SCAN
