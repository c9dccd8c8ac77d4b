"""Time as both backends compare it, and the CQL2 temporal operators as SQL templates.

Times are integer microseconds since 1970-01-01T00:00:00Z (negative for Apollo-era data):
exact, sortable and cheap to compare in SQL (`to_us`, `from_us`).

Allen relations on intervals a = [as, ae] (the item) and b = [bs, be] (the literal),
CQL2 section 6.3; each backend fills the four placeholders with its own column and
parameter expressions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def to_us(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (naive ones are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // _ONE_US


def from_us(us: int) -> str:
    """RFC 3339 UTC text (``...Z``) of microseconds since the epoch."""
    text = (EPOCH + timedelta(microseconds=us)).isoformat()
    return text.removesuffix("+00:00") + "Z"


TEMPORAL_SQL: dict[str, str] = {
    "t_after": "{as_} > {be}",
    "t_before": "{ae} < {bs}",
    "t_contains": "{as_} < {bs} AND {ae} > {be}",
    "t_disjoint": "({ae} < {bs} OR {as_} > {be})",
    "t_during": "{as_} > {bs} AND {ae} < {be}",
    "t_equals": "{as_} = {bs} AND {ae} = {be}",
    "t_finishedby": "{as_} < {bs} AND {ae} = {be}",
    "t_finishes": "{as_} > {bs} AND {ae} = {be}",
    "t_intersects": "{as_} <= {be} AND {ae} >= {bs}",
    "t_meets": "{ae} = {bs}",
    "t_metby": "{as_} = {be}",
    "t_overlappedby": "{as_} > {bs} AND {as_} < {be} AND {ae} > {be}",
    "t_overlaps": "{as_} < {bs} AND {ae} > {bs} AND {ae} < {be}",
    "t_startedby": "{as_} = {bs} AND {ae} > {be}",
    "t_starts": "{as_} = {bs} AND {ae} < {be}",
}
