"""The import rules of the layout, read from the source (ast) of every module: no import
circle anywhere, the layers point one way, and the catalog's backends stay apart.

Every ``import`` / ``from ... import`` counts, at module level or inside a function (a lazy
import still ties two modules together). Layers: `datacenter` (bottom) <- `catalog` <-
`ingest`, `api` (top); `bench` sits above all and nothing imports it. In `catalog`,
`catalog.sqlite` and `catalog.pgstac` never import each other; each imports only the
contracts (`catalog.base`, `catalog.items`, `catalog.partners`, `catalog.audit`,
`catalog.jobs`), the neutral core (`catalog.query`), its own subpackage and `datacenter`;
nothing else in `catalog` names a backend but the registry (`catalog/__init__.py`) and the
`catalog migrate` command (`catalog.cli`, pgstac only).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("datacenter", "catalog", "ingest", "api", "bench")
LAYERS = {"datacenter": 0, "catalog": 1, "ingest": 2, "api": 2, "bench": 3}
BACKENDS = ("catalog.sqlite", "catalog.pgstac")
BACKEND_MAY_IMPORT = ("catalog.base", "catalog.items", "catalog.partners", "catalog.audit",
                      "catalog.jobs", "catalog.query", "datacenter")
NAMES_A_BACKEND = {"catalog": BACKENDS, "catalog.cli": ("catalog.pgstac",)}

Graph = dict[str, set[str]]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(root, path): path
            for package in PACKAGES for path in sorted((root / package).rglob("*.py"))}


def _resolve(name: str, known: Iterable[str]) -> str | None:
    """The longest known module `name` is or lies in (`catalog.base.Catalog` -> `catalog.base`)."""
    known = set(known)
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in known:
            return candidate
    return None


def imports_of(module: str, source: str, known: set[str], *, is_package: bool = False) -> set[str]:
    """The first-party modules `module` imports, anywhere in its source."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import sub` imports the submodule `pkg.sub` when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            # bench scripts import each other by bare name (bench/ is put on sys.path)
            if module.startswith("bench.") and f"bench.{target.split('.')[0]}" in known:
                target = f"bench.{target}"
            resolved = _resolve(target, known)
            if resolved is not None and resolved != module:
                out.add(resolved)
    return out


def import_graph(root: Path) -> Graph:
    found = modules(root)
    known = set(found)
    return {name: imports_of(name, path.read_text(encoding="utf-8"), known, is_package=path.name == "__init__.py")
            for name, path in found.items()}


def circles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _in(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def rule_breaks(graph: Graph) -> list[str]:
    """Every import that breaks a layer or backend rule, as "a -> b: why"."""
    breaks = []
    for a, targets in sorted(graph.items()):
        top = a.split(".")[0]
        for b in sorted(targets):
            other = b.split(".")[0]
            if LAYERS[other] > LAYERS[top]:
                breaks.append(f"{a} -> {b}: {top} may not import {other} (a layer above it)")
            own = next((backend for backend in BACKENDS if _in(a, backend)), None)
            theirs = next((backend for backend in BACKENDS if _in(b, backend)), None)
            if own is not None and theirs is not None and own != theirs:
                breaks.append(f"{a} -> {b}: one backend imports the other")
            elif own is not None and theirs is None and not any(_in(b, ok) for ok in BACKEND_MAY_IMPORT):
                breaks.append(f"{a} -> {b}: a backend imports only the contracts, catalog.query and datacenter")
            elif own is None and theirs is not None and top == "catalog" and theirs not in NAMES_A_BACKEND.get(a, ()):
                breaks.append(f"{a} -> {b}: only the registry (catalog/__init__.py) names a backend")
    return breaks


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(ROOT)


def test_the_reader_sees_module_level_and_function_level_imports(graph: Graph) -> None:
    assert "catalog.base" in graph["catalog.sqlite.catalog"]  # module level
    assert "catalog.sqlite.catalog" in graph["catalog"]  # inside open_catalog
    assert "catalog.pgstac.jobs" in graph["catalog"]  # inside open_job_store
    assert "bench.search_servers" in graph["bench.access_http"]  # a bench script by bare name


def test_no_module_imports_another_that_imports_it_back(graph: Graph) -> None:
    found = circles(graph)
    assert not found, "import circles (the modules of each import one another round):\n" + "\n".join(
        " <-> ".join(circle) for circle in found)


def test_layers_point_one_way_and_the_backends_stay_apart(graph: Graph) -> None:
    breaks = rule_breaks(graph)
    assert not breaks, "imports against the layout:\n" + "\n".join(breaks)


def test_neither_the_contract_nor_the_query_core_imports_a_backend(graph: Graph) -> None:
    neutral = [m for m in graph if m == "catalog.base" or _in(m, "catalog.query") or m == "catalog.items"]
    assert "catalog.query.cql2" in neutral
    reached = {m: sorted(t for t in graph[m] if any(_in(t, b) for b in BACKENDS)) for m in neutral}
    assert {m: t for m, t in reached.items() if t} == {}


def _tree(tmp_path: Path, files: dict[str, str]) -> Graph:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
    return import_graph(tmp_path)


def test_a_lazy_import_back_is_reported_as_a_circle(tmp_path: Path) -> None:
    graph = _tree(tmp_path, {
        "catalog/__init__.py": "",
        "catalog/a.py": "from catalog.b import thing\n",
        "catalog/b.py": "def thing():\n    from catalog import a\n    return a\n",
    })
    assert circles(graph) == [["catalog.a", "catalog.b"]]


def test_the_rules_name_each_kind_of_break(tmp_path: Path) -> None:
    graph = _tree(tmp_path, {
        "datacenter/__init__.py": "", "datacenter/x.py": "import catalog.base\n",
        "catalog/__init__.py": "", "catalog/base.py": "from catalog.sqlite.catalog import S\n",
        "catalog/query/__init__.py": "", "catalog/query/cql2.py": "from catalog.pgstac import cql2\n",
        "catalog/sqlite/__init__.py": "", "catalog/sqlite/catalog.py": "from catalog.pgstac.cql2 import c\n",
        "catalog/pgstac/__init__.py": "", "catalog/pgstac/cql2.py": "from ingest.y import z\n",
        "ingest/__init__.py": "", "ingest/y.py": "",
    })
    assert rule_breaks(graph) == [
        "catalog.base -> catalog.sqlite.catalog: only the registry (catalog/__init__.py) names a backend",
        "catalog.pgstac.cql2 -> ingest.y: catalog may not import ingest (a layer above it)",
        "catalog.pgstac.cql2 -> ingest.y: a backend imports only the contracts, catalog.query and datacenter",
        "catalog.query.cql2 -> catalog.pgstac.cql2: only the registry (catalog/__init__.py) names a backend",
        "catalog.sqlite.catalog -> catalog.pgstac.cql2: one backend imports the other",
        "datacenter.x -> catalog.base: datacenter may not import catalog (a layer above it)",
    ]
