"""Synthetic lunar STAC items for `bench/search.py`: deterministic, streamed in batches.

Item `n` of `count`: collection ``COLLECTIONS[n % 4]``; a footprint that is a south or
north polar cap (1 in 100), splits at the antimeridian into a MultiPolygon (1 in 100) or is
a small lon/lat rectangle; a datetime uniform over 2010-2025 (15 years); realistic
properties (platform, instruments, gsd, sun elevation, `proj:code`, `ssys:targets`,
processing level) and the access fields: mostly ``dc:access: public``, 1 in 10
``partners``, 1 in 20 ``restricted`` to two partners, 1 in 50 under an embargo until 2099,
so an access filter has something to do. Everything follows from `n` and the seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np

START = datetime(2010, 1, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)
EXTENSIONS = [
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/ssys/v1.1.0/schema.json",
]
# id, platform, instrument, owner, gsd range (m)
COLLECTIONS = (
    ("lro-lroc-nac", "lro", "lroc-nac", "NASA", (0.5, 2.0)),
    ("lro-lroc-wac", "lro", "lroc-wac", "NASA", (75.0, 100.0)),
    ("kaguya-tc", "kaguya", "tc", "JAXA", (7.0, 10.0)),
    ("ce2-ccd", "chang-e-2", "ccd", "CNSA", (1.5, 50.0)),
)


def is_public(n: int) -> bool:
    """Whether item `n` is visible to an anonymous user (public and not embargoed)."""
    return access_of(n)[0] == "public" and n % 50 != 7


def access_of(n: int) -> tuple[str, list[str] | None]:
    if n % 20 == 3:
        return "restricted", ["ESA", "ROSCOSMOS"]
    if n % 10 == 5:
        return "partners", None
    return "public", None


def item_id(n: int) -> str:
    return f"{COLLECTIONS[n % len(COLLECTIONS)][0]}-{n:08d}"


def collections() -> list[dict]:
    out = []
    for cid, platform, instrument, owner, _ in COLLECTIONS:
        out.append({
            "type": "Collection", "stac_version": "1.1.0", "id": cid,
            "title": f"{platform.upper()} {instrument.upper()} (synthetic bench)",
            "description": "Synthetic lunar products for the search benchmark.",
            "license": "CC-BY-4.0", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                       "temporal": {"interval": [[START.isoformat(), END.isoformat()]]}},
            "dc:owner": owner, "dc:access": "public",
        })
    return out


def _poly(w: float, s: float, e: float, n: float) -> list:
    return [[[w, s], [e, s], [e, n], [w, n], [w, s]]]


def batches(count: int, size: int = 10_000, seed: int = 42) -> Iterator[list[dict]]:
    """The `count` items in lists of `size`."""
    span = (END - START).total_seconds()
    for first in range(0, count, size):
        k = min(size, count - first)
        rng = np.random.default_rng([seed, first])
        lon = rng.uniform(-180, 180, k)
        lat = rng.uniform(-84, 84, k)
        width = rng.uniform(0.2, 4.0, k)
        height = rng.uniform(0.2, 4.0, k)
        cap = rng.uniform(75, 88, k)
        secs = rng.uniform(0, span, k)
        frac = rng.uniform(0, 1, k)
        sun = rng.uniform(-5, 85, k)
        batch = []
        for j in range(k):
            n = first + j
            cid, platform, instrument, owner, (g0, g1) = COLLECTIONS[n % len(COLLECTIONS)]
            if n % 100 == 0:  # polar cap
                south = (n // 100) % 2 == 0
                s, north = (-90.0, -float(cap[j])) if south else (float(cap[j]), 90.0)
                geometry = {"type": "Polygon", "coordinates": _poly(-180, s, 180, north)}
                bbox = [-180.0, s, 180.0, north]
            elif n % 100 == 1:  # across the antimeridian, split per RFC 7946
                s, north = float(lat[j]), float(lat[j] + height[j])
                w, e = 180 - float(width[j]) / 2, -180 + float(width[j]) / 2
                geometry = {"type": "MultiPolygon",
                            "coordinates": [_poly(w, s, 180, north), _poly(-180, s, e, north)]}
                bbox = [w, s, e, north]
            else:
                w = min(float(lon[j]), 180 - float(width[j]))
                s = float(lat[j])
                bbox = [round(w, 6), round(s, 6), round(w + float(width[j]), 6), round(s + float(height[j]), 6)]
                geometry = {"type": "Polygon", "coordinates": _poly(*bbox)}
            when = datetime.fromtimestamp(START.timestamp() + float(secs[j]), UTC)
            access, releasable = access_of(n)
            props = {
                "datetime": when.isoformat().replace("+00:00", "Z"),
                "platform": platform, "instruments": [instrument],
                "gsd": round(g0 + (g1 - g0) * float(frac[j]), 3),
                "view:sun_elevation": round(float(sun[j]), 2),
                "proj:code": "IAU_2015:30100", "ssys:targets": ["Moon"], "ssys:target_class": "satellite",
                "processing:level": "L2" if n % 3 else "L1",
                "dc:owner": owner, "dc:access": access,
            }
            if releasable:
                props["dc:releasable_to"] = releasable
            if n % 50 == 7:
                props["dc:embargo_until"] = "2099-01-01T00:00:00Z"
            iid = item_id(n)
            batch.append({
                "type": "Feature", "stac_version": "1.1.0", "stac_extensions": EXTENSIONS,
                "id": iid, "collection": cid, "geometry": geometry, "bbox": bbox,
                "properties": props, "links": [],
                "assets": {
                    "data": {"href": f"{cid}/{iid}.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                             "roles": ["data"], "title": "calibrated image"},
                    "thumbnail": {"href": f"{cid}/{iid}.png", "type": "image/png", "roles": ["thumbnail"]},
                },
            })
        yield batch
