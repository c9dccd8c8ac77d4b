"""An ingest says who can see what it wrote, through the `datacenter` command: least privilege
by default (administrators only), an owner from `DATACENTER_DEFAULT_OWNER`, each collection's
access in `catalog list`, and no empty collection left behind by an ingest that failed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ingest import samples

HINT = "pass --owner/--access, or `datacenter access set --collection mine"


def _dc(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`datacenter ARGS` as a user runs it (wide terminal, so tables are not cut)."""
    environ = {**os.environ, "DATACENTER_HOME": str(home), "COLUMNS": "250", **env}
    return subprocess.run([sys.executable, "-m", "datacenter.cli", *args], capture_output=True,
                          text=True, env=environ, timeout=300)  # fmt: skip


def _row(listing: str, collection: str) -> str:
    rows = [line for line in listing.splitlines() if f" {collection} " in line]
    assert len(rows) == 1, listing
    return rows[0]


def test_ingest_without_owner_says_only_administrators_see_it_and_how_to_widen(
    tmp_path: Path, clean_env: Path
) -> None:
    tif = samples.make_geotiff(tmp_path / "in")
    run = _dc("ingest", str(tif), "--collection", "mine", "--datetime", "2024-01-31T00:00:00Z",
              home=clean_env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "1 items in 'mine': visible to administrators only" in run.stderr
    assert HINT in run.stderr
    listing = _dc("catalog", "list", home=clean_env)
    assert listing.returncode == 0, listing.stderr
    assert "visible to" in listing.stdout
    assert _row(listing.stdout, "mine").rstrip(" │").endswith("administrators only")

    # widened as the hint says: the listing follows
    widen = _dc("access", "set", "--collection", "mine", "--owner", "ESA", "--access", "public",
                home=clean_env)  # fmt: skip
    assert widen.returncode == 0, widen.stderr
    assert "everyone (public)" in _row(_dc("catalog", "list", home=clean_env).stdout, "mine")


def test_default_owner_setting_owns_a_new_collection_and_the_summary_names_it(
    tmp_path: Path, clean_env: Path
) -> None:
    tif = samples.make_geotiff(tmp_path / "in")
    run = _dc("ingest", str(tif), "--collection", "mine", "--datetime", "2024-01-31T00:00:00Z",
              home=clean_env, DATACENTER_DEFAULT_OWNER="ILRS")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "1 items in 'mine': visible to ILRS only" in run.stderr
    assert HINT in run.stderr
    show = _dc("catalog", "show", "mine", home=clean_env)
    assert '"dc:owner": "ILRS"' in show.stdout
    assert "ILRS only" in _row(_dc("catalog", "list", home=clean_env).stdout, "mine")

    # an explicit --owner/--access wins over the setting, and a public ingest gives no hint
    other = _dc("ingest", str(tif), "--collection", "open", "--datetime", "2024-01-31T00:00:00Z",
                "--owner", "CNSA", "--access", "public", home=clean_env,
                DATACENTER_DEFAULT_OWNER="ILRS")  # fmt: skip
    assert other.returncode == 0, other.stderr
    assert "1 items in 'open': visible to everyone (public)" in other.stderr
    assert "pass --owner" not in other.stderr
    assert '"dc:owner": "CNSA"' in _dc("catalog", "show", "open", home=clean_env).stdout


def test_partners_and_restricted_access_are_described_with_who_sees_them(
    tmp_path: Path, clean_env: Path
) -> None:
    tif = samples.make_geotiff(tmp_path / "in")
    run = _dc("ingest", str(tif), "--collection", "mine", "--datetime", "2024-01-31T00:00:00Z",
              "--owner", "CNSA", "--access", "restricted", "--releasable-to", "ESA,JAXA",
              home=clean_env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "1 items in 'mine': visible to CNSA and ESA, JAXA" in run.stderr
    assert "CNSA and ESA, JAXA" in _row(_dc("catalog", "list", home=clean_env).stdout, "mine")


def test_failed_ingest_leaves_no_empty_collection_but_keeps_an_existing_one(
    tmp_path: Path, clean_env: Path
) -> None:
    bad = samples.make_garbage_tif(tmp_path / "bad")
    run = _dc("ingest", str(bad), "--collection", "mine", "--collection-title", "Mine",
              "--datetime", "2024-01-31T00:00:00Z", home=clean_env)  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert "collection 'mine' was not kept: no product went in" in run.stderr
    show = _dc("catalog", "show", "mine", home=clean_env)
    assert show.returncode != 0 and "mine" in show.stderr, show.stdout
    assert " mine " not in _dc("catalog", "list", home=clean_env).stdout

    good = samples.make_geotiff(tmp_path / "good")
    assert _dc("ingest", str(good), "--collection", "mine", "--datetime", "2024-01-31T00:00:00Z",
               home=clean_env).returncode == 0  # fmt: skip
    again = _dc("ingest", str(bad), "--collection", "mine", home=clean_env)
    assert again.returncode == 1
    assert "1 items in 'mine'" in again.stderr
    assert "1 " in _row(_dc("catalog", "list", home=clean_env).stdout, "mine")
