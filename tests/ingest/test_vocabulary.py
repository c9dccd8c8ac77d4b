"""Platform, instrument and mission names in STAC's lower-case vocabulary, the label's kept."""

from __future__ import annotations

import pytest

from ingest.vocabulary import normalise, vocabulary_fields


@pytest.mark.parametrize(("label", "stac"), [
    ("LUNAR RECONNAISSANCE ORBITER", "lro"), ("Lunar Reconnaissance Orbiter", "lro"), ("LRO", "lro"),
    ("Chang'e-4", "change-4"), ("CHANG\u2019E-4", "change-4"), ("Yutu-2 rover", "yutu-2"),
    ("SELENE (Kaguya)", "selene"), ("Moon Mineralogy Mapper", "m3"), ("TC", "tc"),
    ("Chandrayaan-2", "chandrayaan-2"), ("  Some New Probe  ", "some-new-probe"),
])  # fmt: skip
def test_every_spelling_of_a_name_gives_one_lower_case_identifier(label: str, stac: str) -> None:
    assert normalise(label) == stac


def test_label_spellings_are_kept_beside_the_normalised_fields() -> None:
    fields = vocabulary_fields("Yutu-2 rover", ["VNIS"], "Chang'e-4")
    assert fields == {"platform": "yutu-2", "instruments": ["vnis"], "mission": "change-4",
                      "constellation": "clep", "dc:label_platform": "Yutu-2 rover",
                      "dc:label_instruments": ["VNIS"], "dc:label_mission": "Chang'e-4"}  # fmt: skip


def test_names_already_in_the_vocabulary_add_no_label_fields() -> None:
    assert vocabulary_fields("lro", ["lola"], None) == {
        "platform": "lro", "instruments": ["lola"], "mission": None, "constellation": None}
