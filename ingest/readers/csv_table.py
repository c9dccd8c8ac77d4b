"""Lander and rover tables as CSV: environmental series and APXS / VNIS-like spectra.

A CSV product starts with ``# key: value`` lines, then a header row and the records::

    # id: ce4_lnd_temperature_0001
    # mission: Chang'e-4
    # platform: Chang'e-4 lander
    # instrument: LND
    # longitude: 177.5991
    # latitude: -45.4446
    # kind: series                      (or: spectra)
    # units: temperature=K, dose_rate=uGy/h
    # channel_units: nm                 (spectra: the unit of the channel header values)
    time,temperature,dose_rate
    2019-01-03T02:26:00Z,290.5,60.1

A series is indexed by its `time` column; a spectra table has one spectrum per row and
one column per channel, named by the channel's value (a wavelength, an energy, a number).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from datacenter.errors import CorruptProduct, LabelError
from ingest.product import ArrayProduct, body_name, stac_id
from ingest.readers.base import Reader, label_time, text_or_none
from ingest.readers.geometry import track_geometry
from ingest.readers.table_data import series_dataset


def _header(path: Path) -> tuple[dict[str, str], list[list[str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptProduct(f"cannot read CSV product {path} as UTF-8 text: {exc}") from exc
    meta: dict[str, str] = {}
    body = []
    for line in text.splitlines():
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                meta[key.strip().lower()] = value.strip()
        elif line.strip():
            body.append(line)
    rows = list(csv.reader(io.StringIO("\n".join(body))))
    if len(rows) < 2:
        raise CorruptProduct(
            f"CSV product {path} has {len(rows)} rows after its '#' header; expected a header row "
            "and at least one record: the file is truncated or empty"
        )
    return meta, rows


class CsvReader(Reader):
    name = "CSV"
    extensions = (".csv",)

    def can_open(self, path: Path) -> bool:
        return path.suffix.lower() == ".csv"

    def read(self, path: Path) -> ArrayProduct:
        meta, rows = _header(path)
        names, records = [c.strip() for c in rows[0]], rows[1:]
        bad = next((i for i, r in enumerate(records) if len(r) != len(names)), None)
        if bad is not None:
            raise CorruptProduct(
                f"CSV product {path} record {bad + 1} has {len(records[bad])} values for "
                f"{len(names)} columns; the file is truncated or malformed: re-export it"
            )
        table = np.array(records, dtype=object).reshape(len(records), len(names))
        units = dict(u.split("=", 1) for u in meta.get("units", "").replace(" ", "").split(",") if "=" in u)
        kind = meta.get("kind", "series").lower()
        if kind not in ("series", "spectra"):
            raise LabelError(f"CSV product {path} has '# kind: {kind}'; expected series or spectra")
        try:
            if kind == "spectra":
                channel_cols = [i for i, n in enumerate(names) if _is_number(n)]
                columns = {n: _column(table[:, i], n) for i, n in enumerate(names) if i not in channel_cols}
                group = table[:, channel_cols].astype("float64")
                channel_values = np.array([float(names[i]) for i in channel_cols])
            else:
                columns = {n: _column(table[:, i], n) for i, n in enumerate(names)}
                group, channel_values = None, None
        except ValueError as exc:
            raise CorruptProduct(f"CSV product {path} holds a value that is not a number: {exc}") from exc
        ds, start, end, lonlat = series_dataset(
            columns, units=units, descriptions={}, group=group,
            group_dims=("spectrum", "channel") if group is not None else None,
            group_name=meta.get("variable", "counts" if group is not None else None),
            group_unit=meta.get("variable_units"), group_values=channel_values, source=str(path),
        )  # fmt: skip
        if group is not None and meta.get("channel_units"):
            ds["channel"].attrs["units"] = meta["channel_units"]
        site = None
        if "longitude" in meta and "latitude" in meta:
            try:
                site = (float(meta["longitude"]), float(meta["latitude"]))
            except ValueError as exc:
                raise LabelError(f"CSV product {path} has a longitude/latitude that is not a number") from exc
        platform = text_or_none(meta.get("platform"))
        geometry = track_geometry(lonlat, site=site, line="rover" in (platform or "").lower(), source=str(path))
        label_start = label_time(meta.get("start"), key="start", label=path, fmt="CSV")
        label_end = label_time(meta.get("end"), key="end", label=path, fmt="CSV")
        instruments = tuple(i.strip() for i in meta.get("instrument", "").split(",") if i.strip())
        return ArrayProduct(
            id=stac_id(meta.get("id") or path.stem), path=path, format="CSV", kind=kind,  # type: ignore[arg-type]
            open_dataset=lambda: ds, files=(path,), start=label_start or start,
            end=label_end or end, title=meta.get("title") or path.stem, platform=platform,
            instruments=instruments, mission=text_or_none(meta.get("mission")),
            targets=(body_name(meta.get("target", "Moon")),),
            processing_level=text_or_none(meta.get("processing_level")), geometry=geometry,
        )  # fmt: skip


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column(values: np.ndarray, name: str) -> np.ndarray:
    text = values.astype(str)
    if name.lower() in ("time", "utc") or name.lower().endswith("date_time"):
        return text
    try:
        as_int = text.astype(np.int64)
        return as_int
    except ValueError:
        return text.astype(np.float64)
