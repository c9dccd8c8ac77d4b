"""Badly shaped CQL2 that made cql2's validator run for seconds and gigabytes (exponential in
the nesting of the bad part; found by tests/api/test_fuzz_server.py) is a 400 naming the
problem, answered at once over HTTP, on a server that keeps serving; well-shaped filters of
every kind still pass."""

from __future__ import annotations

import httpx
import pytest

NOTS = {"op": "not", "args": [{"op": "not", "args": [{"op": "not", "args": [{"op": "not", "args": [
    {"op": "t_after", "args": [{"property": "datetime"}, {"timestamp": "not a time"}]}]}]}]}]}

OR_DEEP: dict = {"op": "a_contains", "args": [4.04e16, -1.99e159]}
for _ in range(9):
    OR_DEEP = {"op": "or", "args": [OR_DEEP, True]}

BAD = [
    ("- - - S_INTERSECTS(geometry, POLYGON((0 0, 30 0, 30 30, 0 30, 0 0)))", "expected a predicate"),
    ("gsd = - - - S_INTERSECTS(geometry, POINT(0 0))", "cannot take a predicate (S_INTERSECTS)"),
    ({"op": "+", "args": [{"op": "unknown", "args": [True, [False, 1]]}, 1]}, "expected a predicate"),
    ({"op": "=", "args": [{"op": "unknown", "args": [1]}, 1]}, "'unknown' is not supported"),
    ("NOT (NOT (NOT (NOT (S_INTERSECTS(1, 2)))))", "S_INTERSECTS compares geometries"),
    ("casei(a = 1) = 'x'", "CASEI cannot take a predicate"),
    ("a LIKE 1 AND a LIKE 1", "LIKE takes text"),
    ("--CASEI(platform) = CASEI('LRO')", "* takes numbers, got CASEI"),  # 29 s and 9 GB before
    ("1 + 'x' = 2", "+ takes numbers"),
    ("T_AFTER(1, 2) OR T_AFTER(1, 2)", "T_AFTER compares instants or intervals"),
    ("a BETWEEN (b = 1) AND 2", "BETWEEN cannot take a predicate"),
    (NOTS, "TIMESTAMP 'not a time' is not an RFC 3339 time"),
    ({"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [0, 0, 1]}]}, "BBOX takes 4 or 6 numbers"),
    ({"op": "t_during", "args": [{"property": "datetime"}, {"interval": ["2020-01-01", "later"]}]},
     "INTERVAL end 'later'"),
    # nine ORs around A_CONTAINS of two numbers: 0.64 s and +457 MB in cql2's validator, growing
    # with each OR (a CI fuzz run left the server at 3.3 GB)
    (OR_DEEP, "A_CONTAINS takes arrays"),
    ({"op": "a_equals", "args": [{"property": "instruments"}, "lola"]}, "A_EQUALS takes arrays"),
    ({"op": "or", "args": [{"op": "like", "args": [{"property": "platform"}, {"property": "gsd"}]}, True]},
     "LIKE takes a pattern"),
    # three NOTs around a bare property: 4.6 s and +2.7 GB before cql2 refused it
    ({"op": "not", "args": [{"op": "not", "args": [{"op": "not", "args": [{"property": "gsd"}]}]}]},
     "a property alone is not a predicate"),
]
GOOD = [
    "S_INTERSECTS(geometry, POINT(0 0)) AND gsd > 1",
    "T_AFTER(datetime, TIMESTAMP('2020-01-01T00:00:00Z'))",
    "T_DURING(datetime, INTERVAL('2008-01-01', '..'))",
    "- - - - gsd > -1",
    "A_CONTAINS(instruments, ('lola'))",
    "A_OVERLAPS(('lola', 'lroc'), instruments) OR A_EQUALS(instruments, ('lola'))",
    "S_INTERSECTS(geometry, BBOX(0, 0, 1, 1)) OR NOT (gsd IS NULL)",
    "platform LIKE 'lr%' AND gsd BETWEEN 1 AND 1000 AND platform IN ('lro', 'selene')",
    "casei(platform) = casei('LRO')",
    "platform LIKE 'l_o'",
]


@pytest.mark.parametrize("cql2", BAD, ids=[str(i) for i in range(len(BAD))])
def test_a_badly_shaped_filter_is_a_400_naming_the_problem(live_server: str, cql2: tuple) -> None:
    bad, named = cql2
    if isinstance(bad, str):
        got = httpx.get(f"{live_server}search", params={"filter": bad}, timeout=30)
    else:
        got = httpx.post(f"{live_server}search", json={"filter": bad, "filter-lang": "cql2-json"}, timeout=30)
    assert got.status_code == 400, got.text
    assert named in got.json()["description"]
    assert httpx.get(f"{live_server}search", params={"limit": 1}, timeout=30).status_code == 200  # still serving


@pytest.mark.parametrize("cql2", GOOD)
def test_well_shaped_filters_of_every_kind_still_run(live_server: str, cql2: str) -> None:
    got = httpx.get(f"{live_server}search", params={"filter": cql2, "limit": 5}, timeout=30)
    assert got.status_code == 200, got.text


def test_arithmetic_on_a_time_property_is_never_a_server_error(live_server: str) -> None:
    """`-datetime` passes the shape check (a property may be a number); PostgreSQL then has no
    operator for it, which is the filter's fault: a 400 naming it (found by the fuzz test)."""
    got = httpx.get(f"{live_server}search", params={"filter": "-datetime > TIMESTAMP('0001-01-01T00:00:00Z')"},
                    timeout=30)  # fmt: skip
    assert got.status_code in (200, 400), got.text
    if got.status_code == 400:
        assert "arithmetic needs numbers" in got.json()["description"]
