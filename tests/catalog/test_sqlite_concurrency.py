"""The SQLite backend under concurrent use: reader threads, a writer, other processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from catalog import open_catalog
from catalog.base import SearchQuery
from catalog.sqlite import SQLiteCatalog
from datacenter.errors import ConfigError


def test_readers_in_threads_never_see_locked_errors_while_one_thread_writes(catalog, make_item, rect):
    errors: list[BaseException] = []
    done = threading.Event()
    batches = 40

    def writer():
        try:
            for b in range(batches):
                catalog.upsert_items([make_item(f"w{b}-{n}", rect(n % 90, 0, n % 90 + 1, 1))
                                      for n in range(50)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    def reader():
        try:
            while not done.is_set():
                page = catalog.search(SearchQuery(bbox=(0, 0, 45, 1), limit=20))
                assert page.number_matched % 46 == 0  # whole batches only: snapshots are consistent
                catalog.list_collections()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert catalog.search(SearchQuery()).number_matched == batches * 50


def test_two_catalog_objects_on_one_file_see_each_others_writes(catalog_path, make_item):
    with SQLiteCatalog(catalog_path) as one, SQLiteCatalog(catalog_path) as two:
        one.upsert_collection({"id": "lro-nac", "type": "Collection", "dc:access": "public"})
        assert two.get_collection("lro-nac")["id"] == "lro-nac"
        two.upsert_items([make_item("from-two")])
        assert [i["id"] for i in one.search(SearchQuery()).items] == ["from-two"]
        one.delete_item("lro-nac", "from-two")
        assert two.search(SearchQuery()).number_matched == 0


WRITER = """
import sys
from catalog import open_catalog
cat = open_catalog(sys.argv[1])
for b in range(20):
    cat.upsert_items([{"id": f"proc{b}-{n}", "collection": "lro-nac", "bbox": [0, 0, 1, 1],
                       "geometry": None, "properties": {"datetime": "2024-01-01T00:00:00Z", "dc:access": "public"}}
                      for n in range(50)])
"""


def test_a_writer_process_and_reader_threads_share_the_catalog(catalog, catalog_url):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, catalog_url],
                            stderr=subprocess.PIPE, text=True)
    seen = set()
    while proc.poll() is None:
        seen.add(catalog.search(SearchQuery(bbox=(0, 0, 1, 1))).number_matched)
        time.sleep(0.005)
    assert proc.returncode == 0, proc.stderr.read()
    assert catalog.search(SearchQuery()).number_matched == 1000
    assert all(n % 50 == 0 for n in seen)


def test_open_catalog_accepts_sqlite_urls_and_creates_folders(tmp_path):
    path = tmp_path / "a" / "b" / "cat.sqlite"
    with open_catalog(f"sqlite:///{path}") as cat:
        assert isinstance(cat, SQLiteCatalog) and cat.path == path
    with open_catalog(f"sqlite:////{str(path).lstrip('/')}") as cat:
        assert cat.path == path and cat.list_collections() == []


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_sqlite_url_without_a_file_is_a_config_error(url):
    with pytest.raises(ConfigError, match="names no file"):
        SQLiteCatalog.from_url(url)


def test_catalog_from_a_newer_schema_is_refused(catalog_path):
    SQLiteCatalog(catalog_path).close()
    import sqlite3

    with sqlite3.connect(catalog_path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99)")
    with pytest.raises(ConfigError, match="schema version 99"):
        SQLiteCatalog(catalog_path)


def test_connections_are_released_on_close(catalog_path):
    cat = SQLiteCatalog(catalog_path)
    threads = [threading.Thread(target=cat.list_collections) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cat.close()
    cat.list_collections()  # a closed catalog reopens lazily rather than crashing
    cat.close()
