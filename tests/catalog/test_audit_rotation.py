"""`datacenter audit rotate` on both catalog backends: old events move to a verified
compressed archive (a folder or S3), leave the table only then, and stay queryable with
`datacenter audit --archive`; the append-only guard still refuses every other delete."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from catalog import open_catalog
from catalog.audit import AuditEvent
from datacenter.cli import load_commands
from datacenter.settings import get_settings
from tests.conftest import use_s3

runner = CliRunner()
OLD = [datetime(2025, 3, d, 12, tzinfo=UTC) for d in (1, 2, 3)]


def run(*args: str) -> str:
    result = runner.invoke(load_commands(), list(args))
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result.stdout


def audit_json(*args: str) -> list[dict]:
    return [json.loads(line) for line in run("audit", "--json", *args).splitlines() if line.strip()]


@pytest.fixture
def seeded(catalog_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A catalog whose audit log holds three events of March 2025 and one of now."""
    monkeypatch.setenv("DATACENTER_CATALOG_URL", catalog_url)
    get_settings.cache_clear()
    with open_catalog(catalog_url) as cat:
        log = cat.audit_log()
        for at, who in zip(OLD, ("ESA", "ROSCOSMOS", "ESA"), strict=True):
            log.record(AuditEvent(who=who, action="download", record="ce7/a#data", allowed=True,
                                  bytes=1000, at=at))
        log.record(AuditEvent(who="ESA", action="item", record="ce7/b", allowed=False, detail="hidden"))
    return catalog_url


def delete_directly(catalog_url: str) -> None:
    """What a bug or an intruder with the app's credentials would try."""
    if catalog_url.startswith("sqlite://"):
        import sqlite3

        from catalog.sqlite.partners import audit_path

        with sqlite3.connect(audit_path(catalog_url[len("sqlite:///"):])) as conn:
            conn.execute("DELETE FROM audit")
    else:
        with psycopg.connect(catalog_url, autocommit=True) as conn:
            conn.execute("DELETE FROM datacenter.audit")


def test_rotate_archives_old_events_with_a_checksum_and_removes_only_them(
    seeded: str, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    out = run("audit", "rotate", "--before", "2026-01-01T00:00:00Z", "--to", str(archive))
    assert "archived 3 events" in out

    live = audit_json()
    assert [(e["who"], e["record"]) for e in live] == [("ESA", "ce7/b")]
    (gz,) = archive.glob("audit-*.jsonl.gz")
    assert gz.name.startswith("audit-20250301T120000")
    digest, name = (archive / (gz.name + ".sha256")).read_text().split()
    assert (digest, name) == (hashlib.sha256(gz.read_bytes()).hexdigest(), gz.name)
    with gzip.open(gz, "rt") as fh:
        assert [json.loads(line)["at"] for line in fh] == [
            "2025-03-01T12:00:00Z", "2025-03-02T12:00:00Z", "2025-03-03T12:00:00Z"]

    # queryable by partner, record and time over archive + table
    esa = audit_json("--archive", str(archive), "--partner", "ESA")
    assert [e["at"][:10] for e in esa][:2] == ["2025-03-01", "2025-03-03"] and len(esa) == 3
    assert [e["bytes"] for e in audit_json("--archive", str(archive), "--record", "ce7/a",
                                           "--since", "2025-03-02T00:00:00Z")] == [1000, 1000]
    # the guard is back: nobody else may delete
    with pytest.raises(Exception, match="append-only"):
        delete_directly(seeded)
    assert "nothing rotated" in run("audit", "rotate", "--before", "2026-01-01T00:00:00Z",
                                    "--to", str(archive))


def test_rotate_writes_to_s3_and_audit_reads_the_archive_there(
    seeded: str, s3_server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_s3(monkeypatch, s3_server, s3_bucket)
    target = f"s3://{s3_bucket}/audit"
    run("audit", "rotate", "--before", "2026-01-01T00:00:00Z", "--to", target)
    assert len(audit_json()) == 1
    assert [e["who"] for e in audit_json("--archive", target, "--until", "2026-01-01T00:00:00Z")] == [
        "ESA", "ROSCOSMOS", "ESA"]


def test_an_archive_that_cannot_be_written_leaves_the_table_untouched(
    seeded: str, s3_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_s3(monkeypatch, s3_server, "no-such-bucket")
    monkeypatch.setenv("DATACENTER_STORE_RETRIES", "1")
    get_settings.cache_clear()
    failed = runner.invoke(load_commands(), ["audit", "rotate", "--before", "2026-01-01T00:00:00Z",
                                             "--to", "s3://no-such-bucket/audit"])
    assert failed.exit_code != 0
    assert len(audit_json()) == 4


def test_a_tampered_archive_is_refused_when_queried(seeded: str, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    run("audit", "rotate", "--before", "2026-01-01T00:00:00Z", "--to", str(archive))
    (gz,) = archive.glob("audit-*.jsonl.gz")
    gz.write_bytes(gzip.compress(b'{"who":"nobody"}\n'))
    failed = runner.invoke(load_commands(), ["audit", "--archive", str(archive)])
    assert failed.exit_code != 0 and "SHA-256" in str(failed.exception)


def test_an_older_sqlite_catalog_moves_its_audit_events_to_the_audit_file(tmp_path: Path) -> None:
    import sqlite3

    from catalog.sqlite import SQLiteCatalog
    from catalog.sqlite.partners import _SCHEMA, audit_path

    path = tmp_path / "catalog.sqlite"
    with SQLiteCatalog(path):
        pass
    old = sqlite3.connect(path)  # as written before the audit log had its own file
    for statement in _SCHEMA.split(";\n"):
        old.execute(statement)
    old.execute("INSERT INTO audit (at, who, action, record, allowed) VALUES (1, 'ESA', 'item', 'c/i', 1)")
    old.commit()
    old.close()
    with SQLiteCatalog(path) as cat:
        log = cat.audit_log()
        log.record(AuditEvent(who="JAXA", action="item", record="c/j", allowed=False, detail="hidden"))
        assert [(e.who, e.record) for e in log.query()] == [("ESA", "c/i"), ("JAXA", "c/j")]
    assert audit_path(path).name == "catalog.audit.sqlite"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'audit'").fetchone() is None
