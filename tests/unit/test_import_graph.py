"""The layering of automl/ and ui/: no import cycle between their modules; and no file of 500 lines or more
in automl/, ui/, tests/ or benchmarks/ (a file keeps to one concern, docs: STYLE.md "Not to copy").

The import graph is read from the source with `ast`, without importing anything. Its rules:

- Every `import` and `from ... import` statement counts, wherever it stands: at module level, inside a
  function, or under `if TYPE_CHECKING:`. A function-level import of an internal module is still a
  dependency; only imports of third-party libraries may be deferred (for start-up speed), and those
  are not in the graph.
- An import names one module: `import automl.data.splits` and `from automl.data import splits` are
  both an edge to `automl.data.splits`. `from automl.x import name`, where `name` is not a submodule,
  is an edge to `automl.x` (its `__init__.py` for a package). `import automl` and
  `from automl import run` are edges to `automl` (`automl/__init__.py`, its re-exports).
- The parent packages that Python initializes on the way (`automl`, `automl.data` for
  `automl.data.splits`) are not edges: importing a submodule of a package that is being initialized
  is safe, and counting them would make every `__init__.py` that re-exports a submodule a cycle.
- Relative imports are resolved against the importing module.
- Imports by name at run time (`importlib.import_module("automl.synth.sdv")`, the registries' lazy
  loaders of their entries) are not statements and are not in the graph: a registry names its
  entries' modules as data, and an entry depends on the registry to register itself.

A cycle is a strongly connected component of more than one module; the test prints one chain of imports
through each (`a (line n) -> b (line m) -> ... -> a`, the line of the import in the module before the arrow).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("automl", "ui")
MAX_LINES = 500
LINE_CHECKED = ("automl", "ui", "tests", "benchmarks")


def _module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of the packages by dotted name (a package by its own name, for its __init__.py)."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _resolve_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a `from X import ...` statement of `module` reads from."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """The internal modules `module` imports, each with the line of its first import there."""
    is_package = path.name == "__init__.py"
    packages = {name.split(".")[0] for name in modules}
    targets: dict[str, int] = {}

    def is_internal(name: str) -> bool:
        return name.split(".")[0] in packages

    def add(name: str, line: int) -> None:
        # an import of a name that is not a module of ours (a typo would fail elsewhere) is left out
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            targets.setdefault(name, line)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if is_internal(alias.name):
                    add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_from(node, module, is_package)
            if not is_internal(source):
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                add(submodule if submodule in modules else source, node.lineno)
    return targets


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> nx.DiGraph:
    """The packages' modules as nodes; an edge A -> B (attribute `line`) when A imports B (not itself)."""
    modules = _module_files(root, packages)
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        for target, line in _imports(module, path, modules).items():
            if target != module:
                graph.add_edge(module, target, line=line)
    return graph


def _describe(graph: nx.DiGraph, component: set[str]) -> str:
    """One cycle through the component, from its first module by name: `a (line n) -> b (line m) -> ... -> a`."""
    cycle = nx.find_cycle(graph.subgraph(component), source=min(component))
    steps = [f"{a} (line {graph.edges[a, b]['line']})" for a, b in cycle]
    return " -> ".join([*steps, cycle[0][0]]) + f"   [component: {', '.join(sorted(component))}]"


def test_the_graph_reads_every_kind_of_import():
    graph = import_graph()
    assert graph.has_edge("automl", "automl.config")  # module level, from a package's __init__
    assert graph.has_edge("automl", "automl.study")  # function level (automl.run)
    assert graph.has_edge("automl.models", "automl.models.registry")
    assert not graph.has_edge("automl.data.splits", "automl.data")  # parent packages are no edges


def cycles(graph: nx.DiGraph) -> list[str]:
    """Each strongly connected component of more than one module, described by one cycle through it."""
    components = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    return [_describe(graph, c) for c in sorted(components, key=sorted)]


def test_a_cycle_is_found_through_a_function_level_and_a_relative_import(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from pkg.low import VALUE\n")
    (package / "low.py").write_text("VALUE = 1\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("from . import b\n")  # pkg.sub.b, a submodule
    (package / "sub" / "b.py").write_text("import json\n\n\ndef f():\n    from pkg.sub.c import g\n")
    (package / "sub" / "c.py").write_text("from ..sub.a import name\nfrom pkg import VALUE\n")
    graph = import_graph(tmp_path, ("pkg",))
    assert set(graph.edges) == {
        ("pkg", "pkg.low"),
        ("pkg.sub.a", "pkg.sub.b"),
        ("pkg.sub.b", "pkg.sub.c"),
        ("pkg.sub.c", "pkg.sub.a"),
        ("pkg.sub.c", "pkg"),  # a re-export of the package's __init__.py
    }
    assert cycles(graph) == [
        "pkg.sub.a (line 1) -> pkg.sub.b (line 5) -> pkg.sub.c (line 1) -> pkg.sub.a"
        "   [component: pkg.sub.a, pkg.sub.b, pkg.sub.c]"
    ]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, f"Import cycles in {', '.join(PACKAGES)}:\n" + "\n".join(found)


@pytest.mark.parametrize("package", LINE_CHECKED)
def test_files_are_under_the_line_limit(package):
    too_long = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines >= MAX_LINES:
            too_long[name] = lines
    assert not too_long, f"Files of {MAX_LINES} lines or more (split them along their concerns): {too_long}"


DASHBOARD_MUST_NOT_IMPORT = ("automl.data", "automl.synth")  # the readers of user data, the synthesizers


def test_the_dashboard_reads_the_store_not_the_data():
    """ui/ shows what the studies stored: no module of it imports a data reader or a synthesizer (the
    labels of the out-of-fold rows and the synthetic-data quality are the study's report files)."""
    graph = import_graph()
    found = [
        f"{module} (line {graph.edges[module, target]['line']}) -> {target}"
        for module, target in sorted(graph.edges)
        if module.split(".")[0] == "ui"
        and any(target == p or target.startswith(p + ".") for p in DASHBOARD_MUST_NOT_IMPORT)
    ]
    assert not found, "The dashboard imports data readers or synthesizers:\n" + "\n".join(found)
