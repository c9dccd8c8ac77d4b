"""Search parameters parsed once, with messages that name the parameter and what it expects.

stac-fastapi's own parsers answer a bad `bbox` or `datetime` with an `HTTPException` whose
body is ``{"detail": ...}`` and whose text does not always say which parameter was wrong
("Invalid RFC3339 datetime."), and stac-pydantic rejects antimeridian-free but valid boxes
only by WGS84 rules. These functions raise `InvalidRequest` (400 through the status table)
and are used by the GET query models and by the client for POST bodies alike.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pydantic import TypeAdapter, ValidationError
from stac_pydantic.api.search import Intersection

from datacenter.errors import InvalidRequest

BBox = tuple[float, float, float, float]
Interval = tuple[datetime | None, datetime | None]

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)
_DATETIME_HELP = (
    "expected an RFC 3339 date-time with a time zone (2024-01-31T12:00:00Z), "
    "a closed interval start/end, or an open one ../end or start/.."
)
_BBOX_HELP = (
    "expected 4 numbers west,south,east,north in degrees (or 6 with minimum and maximum "
    "height); west > east is allowed and means the box crosses the antimeridian"
)
_INTERSECTS: TypeAdapter[Any] = TypeAdapter(Intersection)


def parse_bbox(value: str | Sequence[Any] | None) -> BBox | None:
    """(west, south, east, north) from ``"w,s,e,n"`` or a list; 6-value boxes drop heights."""
    if value is None or value == "":
        return None
    raw = value.split(",") if isinstance(value, str) else list(value)
    try:
        numbers = [float(v) for v in raw]
    except (TypeError, ValueError):
        raise InvalidRequest(f"bbox {value!r} holds something that is not a number; {_BBOX_HELP}") from None
    if len(numbers) not in (4, 6) or not all(math.isfinite(n) for n in numbers):
        raise InvalidRequest(f"bbox {value!r} has {len(numbers)} values; {_BBOX_HELP}")
    if len(numbers) == 6:
        west, south, _, east, north, _ = numbers
    else:
        west, south, east, north = numbers
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise InvalidRequest(f"bbox {value!r} has a latitude outside -90..90; {_BBOX_HELP}")
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise InvalidRequest(f"bbox {value!r} has a longitude outside -180..180; {_BBOX_HELP}")
    if south > north:
        raise InvalidRequest(
            f"bbox {value!r} has south ({south}) greater than north ({north}); {_BBOX_HELP}"
        )
    return (west, south, east, north)


def parse_instant(text: str) -> datetime:
    """One RFC 3339 date-time as an aware UTC datetime (fractions past microseconds dropped)."""
    match = _RFC3339.match(text)
    if not match:
        raise InvalidRequest(f"datetime {text!r} is not an RFC 3339 date-time; {_DATETIME_HELP}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micro = int(((match[7] or "") + "000000")[:6])
    if second == 60:  # a leap second: the last representable instant of that minute
        second, micro = 59, 999_999
    zone = match[8]
    try:
        if zone in ("Z", "z"):
            tz = UTC
        else:
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            if hours > 23 or minutes > 59:
                raise ValueError("time zone offset out of range")
            sign = -1 if zone[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError as exc:
        raise InvalidRequest(f"datetime {text!r} is not a real date-time ({exc}); {_DATETIME_HELP}") from None
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+23:59 is in year 0 once in UTC
        raise InvalidRequest(
            f"datetime {text!r} falls outside the years 0001-9999 once converted to UTC; "
            f"{_DATETIME_HELP}"
        ) from None


def parse_datetime(value: str | None) -> Interval | None:
    """A closed or half-open interval; a single instant t becomes (t, t)."""
    if value is None:
        return None
    if not value.strip():
        raise InvalidRequest(f"datetime is empty; {_DATETIME_HELP}")
    parts = value.split("/")
    if len(parts) == 1:
        moment = parse_instant(parts[0])
        return (moment, moment)
    if len(parts) != 2:
        raise InvalidRequest(f"datetime {value!r} has more than one '/'; {_DATETIME_HELP}")
    start = None if parts[0] in ("", "..") else parse_instant(parts[0])
    end = None if parts[1] in ("", "..") else parse_instant(parts[1])
    if start is None and end is None:
        raise InvalidRequest(f"datetime {value!r} is open at both ends; {_DATETIME_HELP}")
    if start is not None and end is not None and end < start:
        raise InvalidRequest(
            f"datetime {value!r} ends before it starts; {_DATETIME_HELP}"
        )
    return (start, end)


def parse_intersects(value: str | dict[str, Any] | Any | None) -> dict[str, Any] | None:
    """A GeoJSON geometry as a dict, from a JSON string (GET) or a parsed model (POST)."""
    if value is None or value == "":
        return None
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)  # type: ignore[no-any-return]
    try:
        data = json.loads(value) if isinstance(value, str) else value
        geometry = _INTERSECTS.validate_python(data)
    except (ValueError, ValidationError) as exc:
        first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise InvalidRequest(
            f"intersects is not a GeoJSON geometry ({first}); expected e.g. "
            '{"type": "Polygon", "coordinates": [[[lon, lat], ...]]}'
        ) from None
    return geometry.model_dump(mode="json", exclude_none=True)


def split_list(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``"a,b"`` or ``["a", "b"]`` as a tuple, None when absent or empty."""
    if not value:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    cleaned = tuple(v.strip() for v in items if v and v.strip())
    return cleaned or None
