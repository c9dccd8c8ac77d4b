"""Every runnable example of the README runs against a served catalog of the demo's
products and prints what the README says it prints.

Runnable blocks: ```python blocks (run whole, the demo's URL replaced by the test server's)
and the `curl` lines of ```sh blocks (the install and test commands are what this suite and
.ci/run themselves do). A `# -> TEXT` comment states the expected output: after a python
`print(...)`, the line it prints; after a `curl` search, the ids of the features returned.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from catalog.sqlite import SQLiteCatalog
from datacenter.storage import Store
from ingest import samples
from ingest.pipeline import ingest_paths
from tests.api.conftest import serving

README = Path(__file__).resolve().parents[1] / "README.md"
DEMO_URL = "http://127.0.0.1:8000"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
EXPECT = re.compile(r"\s+# -> (.*)$")


def readme_blocks(language: tuple[str, ...]) -> list[str]:
    return [body for lang, body in BLOCK.findall(README.read_text(encoding="utf-8")) if lang in language]


def python_examples() -> list[str]:
    return readme_blocks(("python",))


def curl_examples() -> list[str]:
    return [line.strip() for body in readme_blocks(("sh", "bash", "console"))
            for line in body.splitlines() if line.strip().startswith("curl ")]  # fmt: skip


@pytest.fixture(scope="module")
def demo_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The products `datacenter demo` ingests, in the demo's collections, served; the URL."""
    root = tmp_path_factory.mktemp("readme")
    catalog, store = SQLiteCatalog(root / "catalog.sqlite"), Store(str(root / "store"))
    public = {"dc:owner": "ILRS", "dc:access": "public"}
    for collection, products in (("lunar-samples", samples.make_sample_set(root / "rasters")),
                                 ("lunar-array-samples", samples.make_array_sample_set(root / "arrays"))):
        report = ingest_paths(products, collection_id=collection, catalog=catalog, store=store,
                              access=public)  # fmt: skip
        assert report.ok, [r.to_dict() for r in report.failed]
    with serving(create_app(catalog, store)) as url:
        yield url.rstrip("/")
    catalog.close()


def test_the_readme_has_python_and_curl_examples_with_expected_output() -> None:
    assert python_examples() and curl_examples()
    for example in [*python_examples(), *curl_examples()]:
        assert DEMO_URL in example, example
        assert EXPECT.search(example) or any(EXPECT.search(line) for line in example.splitlines()), example


@pytest.mark.parametrize("index", range(len(python_examples())))
def test_readme_python_example_prints_what_it_says(index: int, demo_catalog: str, tmp_path: Path) -> None:
    code = python_examples()[index]
    expected = [m.group(1) for line in code.splitlines() if "print(" in line
                for m in [EXPECT.search(line)] if m]  # fmt: skip
    assert expected, f"no `# ->` output stated in:\n{code}"
    run = subprocess.run([sys.executable, "-c", code.replace(DEMO_URL, demo_catalog)], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, f"{code}\n{run.stderr[-3000:]}"
    assert run.stdout.splitlines() == expected, code


@pytest.mark.parametrize("index", range(len(curl_examples())))
def test_readme_curl_example_returns_the_items_it_says(index: int, demo_catalog: str, tmp_path: Path) -> None:
    line = curl_examples()[index]
    match = EXPECT.search(line)
    assert match, line
    command = line[: match.start()].replace(DEMO_URL, demo_catalog)
    run = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, f"{line}\n{run.stderr[-3000:]}"
    body = json.loads(run.stdout)
    assert "features" in body, run.stdout[:2000]
    ids = sorted(feature["id"] for feature in body["features"])
    assert ids == sorted(i.strip() for i in match.group(1).split(",")), line
