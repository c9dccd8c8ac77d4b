"""STAC's lower-case vocabulary for `platform`, `instruments`, `mission` and `constellation`.

STAC's common metadata asks for lower-case identifiers with dashes (`sentinel-2a`, `oli`),
so that `platform = 'lro'` or `platform LIKE 'change%'` finds every product whatever its label
called the spacecraft ("LUNAR RECONNAISSANCE ORBITER", "Lunar Reconnaissance Orbiter",
"LRO"). Known names map to the short form the community uses; any other name is slugified
(lower case, apostrophes dropped, other non-alphanumerics as dashes). The label's own
spelling is kept in `dc:label_platform`, `dc:label_instruments`, `dc:label_mission` when it
differs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_NON_ALNUM = re.compile(r"[^a-z0-9]+")

#: long names (slugified) -> the identifier STAC records use
_ALIASES = {
    # platforms and missions
    "lunar-reconnaissance-orbiter": "lro", "selene-kaguya": "selene", "kaguya": "selene",
    "kaguya-selene": "selene", "chandrayaan-1": "chandrayaan-1", "chandrayaan-2": "chandrayaan-2",
    "change-4-lander": "change-4-lander", "yutu-2-rover": "yutu-2", "yutu-2": "yutu-2",
    "clementine-1": "clementine", "lunar-prospector": "lunar-prospector",
    # instruments
    "lunar-orbiter-laser-altimeter": "lola", "lunar-reconnaissance-orbiter-camera": "lroc",
    "moon-mineralogy-mapper": "m3", "terrain-camera": "tc", "multiband-imager": "mi",
    "lunar-penetrating-radar": "lpr", "lunar-penetrating-radar-lpr": "lpr", "alpha-particle-x-ray-spectrometer": "apxs",
    "visible-and-near-infrared-imaging-spectrometer": "vnis",
    "diviner-lunar-radiometer-experiment": "diviner", "terrain-mapping-camera-2": "tmc-2",
}  # fmt: skip
#: platform or mission -> constellation (a family of spacecraft flown as one programme)
_CONSTELLATIONS = {"change-1": "clep", "change-2": "clep", "change-3": "clep", "change-4": "clep",
                   "change-4-lander": "clep", "yutu-2": "clep", "change-5": "clep",
                   "change-6": "clep", "change-7": "clep"}  # fmt: skip


def normalise(name: str) -> str:
    """One name in STAC's vocabulary: 'Lunar Reconnaissance Orbiter' -> 'lro',
    "Chang'e-4" -> 'change-4', 'Yutu-2 rover' -> 'yutu-2', 'TC' -> 'tc'."""
    slug = _NON_ALNUM.sub("-", name.strip().lower().replace("'", "").replace("\u2019", "")).strip("-")
    return _ALIASES.get(slug, slug)


def vocabulary_fields(
    platform: str | None, instruments: Iterable[str], mission: str | None
) -> dict[str, Any]:
    """`platform`, `instruments`, `mission`, `constellation` normalised, and the label's
    spellings (`dc:label_*`) where they differ from what is written."""
    label_instruments = [i for i in instruments if i and i.strip()]
    fields: dict[str, Any] = {
        "platform": normalise(platform) if platform else None,
        "instruments": list(dict.fromkeys(normalise(i) for i in label_instruments)) or None,
        "mission": normalise(mission) if mission else None,
    }
    fields["constellation"] = _CONSTELLATIONS.get(fields["platform"] or "") or _CONSTELLATIONS.get(
        fields["mission"] or ""
    )
    if platform and platform != fields["platform"]:
        fields["dc:label_platform"] = platform
    if label_instruments and label_instruments != fields["instruments"]:
        fields["dc:label_instruments"] = label_instruments
    if mission and mission != fields["mission"]:
        fields["dc:label_mission"] = mission
    return fields
