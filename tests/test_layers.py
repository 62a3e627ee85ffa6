"""The layers import one way: app_pages -> course -> lab -> rnnviz. rnnviz never imports streamlit,
lab never imports course, and no package's modules import each other in a cycle, at module level or
inside a function (an import inside a function must not hide a cycle)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rnnviz", "lab", "course")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it, as an absolute dotted name."""
    here = _module(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package, forbidden", [("rnnviz", ("streamlit", "lab", "course", "app_pages")),
                                                ("lab", ("course", "app_pages")),
                                                ("course", ("app_pages",))])
def test_a_layer_never_imports_the_layers_above_it(package, forbidden):
    wrong = {f"{_module(p)} imports {name}" for p in files(package) for name in imports(p)
             if name.split(".")[0] in forbidden}
    assert not wrong, sorted(wrong)


def test_the_layers_themselves_are_seen_importing_each_other():
    """The check above can fail: course imports lab, lab imports rnnviz, and a relative import resolves."""
    seen = {name.split(".")[0] for p in files("course") for name in imports(p)}
    assert {"lab", "rnnviz", "streamlit"} <= seen
    assert "lab.settings" in imports(ROOT / "lab" / "presets.py")


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_between_a_packages_modules(package):
    known = {_module(p) for p in files(package)}
    # an arrow to a module's own package (`from . import x`) is no cycle: the package is imported first
    graph = {m: {n for n in imports(p) if n in known and n != m and not m.startswith(n + ".")}
             for p in files(package) for m in [_module(p)]}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path + [node, nxt]
            if nxt not in state and (cycle := visit(nxt, path + [node])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            assert (cycle := visit(start, [])) is None, " -> ".join(cycle)


@pytest.mark.parametrize("package", (*PACKAGES, "app_pages"))
def test_each_file_is_readable_in_one_sitting(package):
    long = {str(p.relative_to(ROOT)): n for p in files(package) if (n := len(p.read_text().splitlines())) > 300}
    assert not long, long
