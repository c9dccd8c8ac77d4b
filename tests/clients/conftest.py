"""Real products ingested by the real pipeline on each catalog backend, served over HTTP by
uvicorn, for the clients of docs/clients.md; and the examples of that page, read from it.

    lunar-samples        kaguya_tc_ortho_n05e020 (Moon geographic, uint8), ldem_87s_40m
                         (south polar stereographic, int16 DN with scale 0.5): public
    lunar-array-samples  m3g20090203_l2_cube (Zarr v3, band x y x x): public
    cnsa-only            kaguya_tc_ortho_n05e020 again, restricted to CNSA and ESA

`ClientsServer.keys` holds the ESA partner key (it sees cnsa-only) and the JAXA one (it does not).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.app import create_app
from catalog import open_catalog
from datacenter.storage import Store
from ingest import samples
from ingest.pipeline import ingest_paths
from tests.api.conftest import serving

DOC = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
DOC_BASE = "http://127.0.0.1:8000/"
ORTHO, POLAR = "kaguya_tc_ortho_n05e020", "ldem_87s_40m"


@dataclass
class ClientsServer:
    url: str  # ends in '/'
    root: Path
    sources: dict[str, Path]  # item id -> the source product it was ingested from
    keys: dict[str, str]  # partner id -> its key
    backend: str

    def example(self, name: str) -> str:
        """The example `name` of docs/clients.md, pointed at this server."""
        return doc_example(name).replace(DOC_BASE, self.url)


def doc_example(name: str) -> str:
    """The fenced block right after ``<!-- example: NAME -->`` in docs/clients.md."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w+\n(.*?)\n```", text, re.S)
    assert found, f"docs/clients.md has no example named {name!r}"
    return found.group(1) + "\n"


@pytest.fixture(scope="session", params=["pgstac", "sqlite"])
def clients_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientsServer]:
    root = tmp_path_factory.mktemp("clients")
    if request.param == "pgstac":
        url = request.getfixturevalue("pg_cluster").new_database()
    else:
        url = f"sqlite:///{root / 'catalog.sqlite'}"
    catalog = open_catalog(url)
    store = Store(str(root / "store"))
    src = root / "sources"
    ortho = samples.make_geotiff(src / "geotiff")
    polar = samples.make_pds4_south_polar_dem(src / "pds4", size=128)
    cube = samples.make_pds4_spectral_cube(src / "cube", bands=6, height=24, width=32)
    public = {"dc:owner": "ILRS", "dc:access": "public"}
    restricted = {"dc:owner": "CNSA", "dc:access": "restricted", "dc:releasable_to": ["ESA"]}
    for paths, cid, access in (([ortho, polar], "lunar-samples", public),
                               ([cube], "lunar-array-samples", public),
                               ([ortho], "cnsa-only", restricted)):  # fmt: skip
        report = ingest_paths(paths, collection_id=cid, catalog=catalog, store=store, access=access)
        assert all(r.status == "ingested" for r in report.results), report.results
    partners = catalog.partner_store()
    keys = {p: partners.add_partner(p).secret_text for p in ("CNSA", "ESA", "JAXA")}
    with serving(create_app(catalog, store)) as served:
        yield ClientsServer(url=served, root=root, keys=keys, backend=request.param,
                            sources={ORTHO: ortho, POLAR: polar, "cube": cube})  # fmt: skip
    catalog.close()
