"""Map a lunar (or other IAU body) CRS to its `IAU_2015:NNNNN` code by what it *is*.

A CRS read back from a PDS3, PDS4 or ISIS3 file (and many GeoTIFFs) carries no
authority, and GDAL rewrites projections into equivalent forms (polar stereographic
variant A with scale 1 comes back as variant B with standard parallel -90;
equirectangular as "Equidistant Cylindrical (Spherical)"). So we compare a normalised
signature -- kind, body radii, longitude direction, projection method and parameters --
against every IAU_2015 CRS PROJ knows, never names.
"""

from __future__ import annotations

import copy
import math
import os
import sqlite3
from contextlib import closing
from functools import lru_cache
from typing import Any

import pyproj
from pyproj.database import query_crs_info
from pyproj.datadir import get_data_dir

Signature = tuple[Any, ...]

#: projection methods that are the same map on a sphere, by EPSG method code
_METHOD_ALIASES = {
    9829: 9810,  # Polar Stereographic (variant B) -> (variant A), see _polar_variant_b
    1029: 1028,  # Equidistant Cylindrical (Spherical) -> Equidistant Cylindrical
    1026: 9804,  # Mercator (Spherical) -> Mercator (variant A)
}
#: parameter codes that mean the same thing across those methods
_PARAM_ALIASES = {8833: 8802}  # Longitude of origin -> Longitude of natural origin
_SCALE_PARAMS = {8805, 8815, 8819}
_LONGITUDE_PARAMS = {8802, 8822, 8812, 8833}
_PARAM_BY_NAME = {
    "latitude of natural origin": 8801, "longitude of natural origin": 8802,
    "scale factor at natural origin": 8805, "false easting": 8806, "false northing": 8807,
    "latitude of 1st standard parallel": 8823, "latitude of 2nd standard parallel": 8824,
    "latitude of false origin": 8821, "longitude of false origin": 8822,
    "easting at false origin": 8826, "northing at false origin": 8827,
    "latitude of standard parallel": 8832, "longitude of origin": 8833,
    "latitude of projection centre": 8811, "longitude of projection centre": 8812,
}  # fmt: skip


def crs_key(crs: Any) -> str | None:
    """A string that names `crs` exactly (its WKT, or the text it was built from), to cache
    what is derived from it: PROJ's lookups (an authority match, a transformer) take 10-50 ms,
    and a batch meets the same few CRSs again and again."""
    if isinstance(crs, pyproj.CRS):
        return crs.srs or None
    if hasattr(crs, "to_wkt"):  # rasterio.crs.CRS
        return str(crs.to_wkt())
    return crs if isinstance(crs, str) else None


def lunar_proj_code(crs: Any) -> str | None:
    """The `IAU_2015:NNNNN` code of `crs` (rasterio CRS, pyproj CRS, WKT, PROJJSON...).

    Returns None when no IAU_2015 CRS has the same body, projection and parameters
    (then describe the CRS by `proj:wkt2` / `proj:projjson` instead). When several codes
    are equivalent (a sphere's ocentric and ographic forms) the lowest code wins.
    """
    key = crs_key(crs)
    return _code_of_key(key) if key is not None else _lunar_proj_code(to_pyproj(crs))


@lru_cache(maxsize=256)
def _code_of_key(key: str) -> str | None:
    return _lunar_proj_code(pyproj.CRS.from_user_input(key))


def _lunar_proj_code(pcrs: pyproj.CRS) -> str | None:
    auth = pcrs.to_authority("IAU_2015", min_confidence=100)
    if auth:
        return f"{auth[0]}:{auth[1]}"
    try:
        signature = crs_signature(pcrs)
    except (KeyError, ValueError, TypeError):
        return None
    return _iau_signatures(signature[1], signature[2]).get(signature)


def projection_fields(crs: Any) -> dict[str, Any]:
    """`proj:code`, `proj:wkt2` and `proj:projjson` of `crs`, all three on every item with a CRS.

    The code is the matched `IAU_2015:NNNNN` (None when no IAU_2015 CRS is the same map);
    the WKT2 and PROJJSON are PROJ's definition of that code when there is one (so they
    carry its identifier, which GDAL's STACIT and odc-stac read), else of `crs` itself.
    """
    key = crs_key(crs)
    fields = _fields_of_key(key) if key is not None else _projection_fields(crs)
    return copy.deepcopy(fields)  # callers may edit the PROJJSON; the cached one stays


@lru_cache(maxsize=256)
def _fields_of_key(key: str) -> dict[str, Any]:
    return _projection_fields(key)


def _projection_fields(crs: Any) -> dict[str, Any]:
    code = lunar_proj_code(crs)
    described = pyproj.CRS.from_user_input(code) if code else to_pyproj(crs)
    return {
        "proj:code": code,
        "proj:wkt2": described.to_wkt("WKT2_2019"),
        "proj:projjson": described.to_json_dict(),
    }


def gsd_metres(crs: Any, pixel_width: float, pixel_height: float) -> float | None:
    """Ground sample distance in metres on the body: the pixel's larger side, converted from
    degrees with the body's radius for a geographic CRS (at the equator); None when the CRS
    unit is neither degrees nor metres."""
    pcrs = to_pyproj(crs)
    size = max(abs(pixel_width), abs(pixel_height))
    unit = pcrs.axis_info[0].unit_name if pcrs.axis_info else ""
    if pcrs.is_geographic and unit == "degree":
        radius = pcrs.ellipsoid.semi_major_metre if pcrs.ellipsoid else None
        return round(math.radians(size) * radius, 3) if radius else None
    if unit in ("metre", "meter"):
        return round(size, 3)
    return None


def to_pyproj(crs: Any) -> pyproj.CRS:
    """A pyproj CRS from a rasterio CRS, pyproj CRS, WKT / PROJJSON / authority string."""
    if isinstance(crs, pyproj.CRS):
        return crs
    if hasattr(crs, "to_wkt"):  # rasterio.crs.CRS
        return pyproj.CRS.from_wkt(crs.to_wkt())
    return pyproj.CRS.from_user_input(crs)


@lru_cache(maxsize=64)
def _iau_signatures(a: float, b: float) -> dict[Signature, str]:
    """The signatures of the IAU_2015 CRSs on the body of radii `a`, `b` (metres, rounded as
    in a signature). Only that body's few dozen CRSs are built: building all ~2,200 took
    0.9 s in every ingest process, for products that each name one body."""
    table: dict[Signature, str] = {}
    codes = _iau_codes_by_radii()
    for code in (codes.get((a, b), []) if codes is not None else _all_iau_codes()):
        try:
            signature = crs_signature(pyproj.CRS.from_authority("IAU_2015", code))
        except (KeyError, ValueError, TypeError, pyproj.exceptions.CRSError):
            continue
        table.setdefault(signature, f"IAU_2015:{code}")
    return table


def _all_iau_codes() -> list[str]:
    return sorted((info.code for info in query_crs_info(auth_name="IAU_2015")), key=int)


@lru_cache(maxsize=1)
def _iau_codes_by_radii() -> dict[tuple[float, float], list[str]] | None:
    """IAU_2015 CRS codes (geographic and projected, in code order) by their body's radii,
    read from PROJ's database (ellipsoid -> datum -> geodetic CRS -> projected CRS); None
    when that database cannot be read so (then every code is tried)."""
    path = os.path.join(get_data_dir(), "proj.db")
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = db.execute("""
                SELECT g.code, e.semi_major_axis * u.conv_factor, e.semi_minor_axis * u.conv_factor,
                       e.inv_flattening
                FROM geodetic_crs g
                JOIN geodetic_datum d ON d.auth_name = g.datum_auth_name AND d.code = g.datum_code
                JOIN ellipsoid e ON e.auth_name = d.ellipsoid_auth_name AND e.code = d.ellipsoid_code
                JOIN unit_of_measure u ON u.auth_name = e.uom_auth_name AND u.code = e.uom_code
                WHERE g.auth_name = 'IAU_2015'""").fetchall()
            projected = db.execute("SELECT code, geodetic_crs_code FROM projected_crs"
                                   " WHERE auth_name = 'IAU_2015' AND geodetic_crs_auth_name = 'IAU_2015'").fetchall()
    except sqlite3.Error:
        return None
    radii: dict[str, tuple[float, float]] = {}
    for code, a, b, inv_f in rows:
        if b is None:
            b = a * (1 - 1 / inv_f) if inv_f else a
        radii[str(code)] = (round(a, 1), round(b, 1))
    by_radii: dict[tuple[float, float], list[str]] = {}
    for code, base in [*((c, c) for c in radii), *((str(c), str(g)) for c, g in projected)]:
        if base in radii:
            by_radii.setdefault(radii[base], []).append(str(code))
    return {k: sorted(v, key=int) for k, v in by_radii.items()}


def crs_signature(crs: pyproj.CRS) -> Signature:
    """What makes two CRSs the same map: kind, body radii, longitude direction, method, parameters."""
    doc = crs.to_json_dict()
    kind = doc["type"]
    if kind in ("GeographicCRS", "GeodeticCRS"):
        return ("geographic", *_geodetic_signature(doc))
    if kind != "ProjectedCRS":
        raise ValueError(f"unsupported CRS type {kind}")
    base = _geodetic_signature(doc["base_crs"])
    conversion = doc["conversion"]
    method_code = _code(conversion["method"]) or conversion["method"]["name"].lower()
    params: dict[Any, float] = {}
    for p in conversion.get("parameters", []):
        code = _code(p) or _PARAM_BY_NAME.get(p["name"].lower(), p["name"].lower())
        params[code] = _si_value(p)
    if method_code == 9829:
        params = _polar_variant_b(params)
    method_code = _METHOD_ALIASES.get(method_code, method_code)
    normal = []
    for code, value in params.items():
        code = _PARAM_ALIASES.get(code, code)
        default = 1.0 if code in _SCALE_PARAMS else 0.0
        if code in _LONGITUDE_PARAMS:
            value = _wrap_lon(value)
        if math.isclose(value, default, abs_tol=1e-9):
            continue  # absent and default parameters compare equal
        normal.append((code, round(value, 6)))
    return ("projected", *base, method_code, tuple(sorted(normal, key=str)))


def _geodetic_signature(doc: dict[str, Any]) -> tuple[Any, ...]:
    datum = doc.get("datum") or doc.get("datum_ensemble") or {}
    ellipsoid = datum["ellipsoid"]
    a = ellipsoid.get("semi_major_axis", ellipsoid.get("radius"))
    b = ellipsoid.get("semi_minor_axis")
    if b is None and "inverse_flattening" in ellipsoid:
        inv_f = ellipsoid["inverse_flattening"]
        b = a * (1 - 1 / inv_f) if inv_f else a
    b = a if b is None else b
    a, b = _metres(a), _metres(b)
    pm = (datum.get("prime_meridian") or {}).get("longitude", 0)
    cs = doc.get("coordinate_system", {})
    lon_dir = next(
        (ax["direction"] for ax in cs.get("axis", []) if ax["direction"] in ("east", "west")),
        "east",
    )
    return (round(a, 1), round(b, 1), round(float(_plain(pm)), 6), cs.get("subtype"), lon_dir)


def _polar_variant_b(params: dict[Any, float]) -> dict[Any, float]:
    """Polar stereographic variant B (standard parallel) as variant A (scale at the pole).

    On a sphere k0 = (1 + sin|lat_ts|) / 2, so lat_ts = -90 is the pole with k0 = 1.
    """
    out = dict(params)
    lat_ts = out.pop(8832, -90.0)
    out[8801] = math.copysign(90.0, lat_ts)
    out[8805] = (1 + math.sin(math.radians(abs(lat_ts)))) / 2
    return out


def _code(obj: dict[str, Any]) -> int | None:
    ident = obj.get("id") or {}
    if ident.get("authority") == "EPSG":
        return int(ident["code"])
    return None


def _plain(value: Any) -> float:
    return float(value["value"] if isinstance(value, dict) else value)


def _metres(value: Any) -> float:
    if isinstance(value, dict):  # {"value": v, "unit": {...}}
        unit = value.get("unit", {})
        factor = unit.get("conversion_factor", 1.0) if isinstance(unit, dict) else 1.0
        return float(value["value"]) * factor
    return float(value)


def _si_value(param: dict[str, Any]) -> float:
    """A parameter in degrees (angles), metres (lengths) or unity (scales)."""
    value = float(param["value"])
    unit = param.get("unit", "unity")
    if isinstance(unit, dict):
        factor = float(unit.get("conversion_factor", 1.0))
        if unit.get("type") == "AngularUnit":
            return math.degrees(value * factor)
        return value * factor
    if unit in ("radian",):
        return math.degrees(value)
    if unit in ("kilometre",):
        return value * 1000.0
    return value


def _wrap_lon(lon: float) -> float:
    """Longitude in (-180, 180]; 180 and -180 are the same meridian."""
    wrapped = (lon + 180.0) % 360.0 - 180.0
    return 180.0 if math.isclose(wrapped, -180.0) else wrapped
