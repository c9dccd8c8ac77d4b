"""The agencies that produce a mission's products, as STAC `providers` of a collection.

A collection made by `datacenter ingest` (no definition file) names its producers from the
missions and platforms its items carry (`summaries`, STAC's lower-case ids), so that STAC
Browser, QGIS and pystac show "NASA (producer)" rather than nothing. The API derives them
when it presents a collection, from the summaries the viewer is shown (`api.client`), so a
hidden item's mission never names its agency. Providers a collection's definition gives are
kept first; a derived one whose name is already there is not added again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

NASA = ("NASA", "https://www.nasa.gov")
ESA = ("ESA", "https://www.esa.int")
JAXA = ("JAXA", "https://www.jaxa.jp")
CNSA = ("CNSA", "https://www.cnsa.gov.cn")
ISRO = ("ISRO", "https://www.isro.gov.in")

#: mission or platform id (as `ingest.vocabulary.normalise` writes it) -> (agency, URL)
PRODUCERS: dict[str, tuple[str, str]] = {
    "lro": NASA, "lunar-orbiter": NASA, "clementine": NASA, "lunar-prospector": NASA, "grail": NASA,
    "apollo": NASA, "mars-reconnaissance-orbiter": NASA, "mro": NASA, "2001-mars-odyssey": NASA,
    "mars-odyssey": NASA, "mars-global-surveyor": NASA, "mars-exploration-rover": NASA,
    "mars-science-laboratory": NASA, "viking-orbiter-1": NASA, "viking-orbiter-2": NASA,
    "messenger": NASA, "dawn": NASA, "galileo": NASA, "magellan": NASA, "osiris-rex": NASA,
    "near-earth-asteroid-rendezvous": NASA, "near": NASA,
    "smart-1": ESA, "mars-express": ESA, "trace-gas-orbiter": ESA, "exomars-2016": ESA,
    "selene": JAXA, "hayabusa": JAXA, "hayabusa2": JAXA,
    "chandrayaan-1": ISRO, "chandrayaan-2": ISRO, "chandrayaan-3": ISRO,
    "clep": CNSA, "change-1": CNSA, "change-2": CNSA, "change-3": CNSA, "change-4": CNSA,
    "change-4-lander": CNSA, "yutu-2": CNSA, "change-5": CNSA, "change-6": CNSA, "change-7": CNSA,
    "tianwen-1": CNSA,
}  # fmt: skip


def producers(missions: Iterable[Any]) -> list[dict[str, Any]]:
    """One `producer` provider per agency of `missions` (ids)."""
    out: dict[str, dict[str, Any]] = {}
    for mission in missions:
        known = PRODUCERS.get(str(mission))
        if known is None:
            continue
        name, url = known
        entry = out.setdefault(name, {"name": name, "roles": ["producer"], "url": url, "missions": []})
        if mission not in entry["missions"]:
            entry["missions"].append(mission)
    return [{"name": e["name"], "roles": e["roles"], "url": e["url"],
             "description": "Produced the products of " + ", ".join(e["missions"])}  # fmt: skip
            for e in out.values()]


def with_producers(collection: dict[str, Any]) -> dict[str, Any]:
    """`collection` with the producers of its summaries' missions and platforms added to its
    `providers` (none added twice by name; the collection's own kept first, then the
    derived ones by name)."""
    summaries = collection.get("summaries") or {}
    named = [*(summaries.get("mission") or []), *(summaries.get("platform") or []),
             *(summaries.get("constellation") or [])]  # fmt: skip
    own = [p for p in collection.get("providers") or [] if isinstance(p, dict)]
    have = {str(p.get("name", "")).casefold() for p in own}
    derived = sorted((p for p in producers(named) if p["name"].casefold() not in have), key=lambda p: p["name"])
    if not derived:
        return collection
    return {**collection, "providers": [*own, *derived]}
