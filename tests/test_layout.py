"""The package's layers: every import inside ssl_lib points down (or within its own layer).

    utils  <  augment, data  <  models  <  evaluation  <  train  <  lab, teaching  <  the commands

lab is the reproduction machinery, teaching the notebooks' teaching aids; neither imports the other.
"""

import ast
from pathlib import Path

import ssl_lib

RANK = {"utils": 0, "augment": 1, "data": 1, "models": 2, "evaluation": 3, "train": 4, "lab": 5, "teaching": 5,
        "pretrain": 6, "reproduce": 6, "fetch": 6}
ROOT = Path(ssl_lib.__file__).parent


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "ssl_lib" and len(parts) > 1 else None


def imported_modules(path: Path) -> list[str]:
    """Every ssl_lib module `path` imports, function-level (lazy) imports included; ``from pkg import
    name`` gives ``pkg.name`` (a submodule or an attribute: `module_graph` tells them apart)."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this file's package
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found += [f"{base}.{alias.name}" for alias in node.names]  # the name may be a submodule
    return [m for m in found if m.startswith("ssl_lib")]


def test_every_module_belongs_to_a_layer():
    modules = [p for p in ROOT.rglob("*.py") if p.parent != ROOT or p.stem != "__init__"]
    assert {layer(".".join(p.relative_to(ROOT.parent).with_suffix("").parts)) for p in modules} <= set(RANK)


def test_imports_point_down_the_layers():
    upward = []
    for path in ROOT.rglob("*.py"):
        own = layer(".".join(path.relative_to(ROOT.parent).with_suffix("").parts))
        if own is None:  # ssl_lib/__init__.py
            continue
        for module in imported_modules(path):
            target = layer(module)
            sideways = RANK.get(target) == RANK[own] and {target, own} == {"lab", "teaching"}
            if target is not None and (RANK[target] > RANK[own] or sideways):
                upward.append(f"{path.relative_to(ROOT.parent)} imports {module}")
    assert not upward, "imports pointing up the layers:\n" + "\n".join(upward)


def module_graph() -> dict[str, set[str]]:
    """{module: the ssl_lib modules it imports (lazy imports included)}, `from pkg import name` resolved
    to the submodule ``pkg.name`` when there is one, else to ``pkg``."""
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        targets = set()
        for module in imported_modules(path):
            while module not in modules and "." in module:
                module = module.rsplit(".", 1)[0]
            if module in modules and module != name:
                targets.add(module)
        graph[name] = targets
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle: one path back to its start per strongly connected group of modules."""
    circles, seen = [], set()
    for start in sorted(graph):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph[node]):
                if nxt == start and frozenset(path) not in seen:
                    seen.add(frozenset(path))
                    circles.append(path + [start])
                elif nxt not in path and nxt > start:  # each circle found once, from its smallest module
                    stack.append((nxt, path + [nxt]))
    return circles


def test_the_circle_finder_finds_a_circle():
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert import_circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_inside_the_package():
    circles = import_circles(module_graph())
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_library_lines_fit_in_120_columns():
    long = [f"{path.relative_to(ROOT.parent)}:{number}" for path in sorted(ROOT.rglob("*.py"))
            for number, line in enumerate(path.read_text().splitlines(), 1) if len(line) > 120]
    assert not long, f"lines over 120 characters: {long}"


# Tests that are about the repository as a whole rather than one module.
CROSS_CUTTING = {"test_layout", "test_readme", "test_notebooks", "test_browser", "test_fidelity_authors"}


def test_tests_mirror_the_package():
    """tests/<package>/test_<module>[_<aspect>].py for ssl_lib/<package>/<module>.py (tests/benchmarks
    for the benchmark scripts); at the top, the commands' tests and the cross-cutting ones."""
    tests = ROOT.parent / "tests"
    stray = []
    for path in sorted(tests.rglob("test_*.py")):
        folder = path.parent.relative_to(tests)
        if folder == Path("."):
            modules = {p.stem for p in ROOT.glob("*.py")} - {"__init__"}
            if path.stem not in CROSS_CUTTING and path.stem[5:] not in modules:
                stray.append(str(path.relative_to(tests)))
            continue
        if folder.parts[0] == "benchmarks":
            continue
        package = ROOT / folder
        modules = {p.stem for p in package.glob("*.py")} - {"__init__"} if package.is_dir() else set()
        name = path.stem[5:]
        if not any(name == m or name.startswith(m + "_") for m in modules):
            stray.append(str(path.relative_to(tests)))
    assert not stray, f"test files that mirror no module: {stray}"
