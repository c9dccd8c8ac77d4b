"""The 413 of a subset above the synchronous limit names the job to submit, and tells an
anonymous caller that jobs need a partner key (POST /jobs without one is 401)."""

from __future__ import annotations

import json

import httpx

from tests.api.subset.conftest import MOSAIC

SUBSET = f"collections/lunar/items/{MOSAIC}/subset"


def _job_body(description: str) -> dict:
    """The JSON job the 413 description ends with."""
    return json.loads(description[description.index("{"):])


def test_anonymous_413_says_a_partner_key_is_needed_for_the_job_it_names(http: httpx.Client) -> None:
    response = http.get(SUBSET)
    assert response.status_code == 413
    description = response.json()["description"]
    assert "POST /jobs with a partner key (Authorization: Bearer <key>" in description
    assert "anonymous callers cannot run jobs" in description
    body = _job_body(description)
    assert body["ids"] == [MOSAIC]
    assert http.post("jobs", json=body).status_code == 401  # what the message warned of


def test_partner_413_names_a_job_that_the_partner_can_submit(
    http: httpx.Client, keys: dict[str, dict[str, str]]
) -> None:
    response = http.get(SUBSET, headers=keys["ESA"])
    assert response.status_code == 413
    description = response.json()["description"]
    assert "partner key" not in description and "anonymous" not in description
    created = http.post("jobs", json=_job_body(description), headers=keys["ESA"])
    assert created.status_code == 201, created.text
    assert http.delete(created.headers["Location"], headers=keys["ESA"]).status_code == 200
