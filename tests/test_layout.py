"""The package's layers: every import inside ssl_lib points down (or within its own layer).

    utils  <  augment, data  <  models  <  evaluation  <  train  <  lab  <  the two commands
"""

import ast
from pathlib import Path

import ssl_lib

RANK = {"utils": 0, "augment": 1, "data": 1, "models": 2, "evaluation": 3, "train": 4, "lab": 5,
        "pretrain": 6, "reproduce": 6}
ROOT = Path(ssl_lib.__file__).parent


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "ssl_lib" and len(parts) > 1 else None


def imported_modules(path: Path) -> list[str]:
    """Every ssl_lib module `path` imports, function-level (lazy) imports included."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this file's package
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found += [f"{base}.{alias.name}" if base == "ssl_lib" else base for alias in node.names]
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
            if target is not None and RANK[target] > RANK[own]:
                upward.append(f"{path.relative_to(ROOT.parent)} imports {module}")
    assert not upward, "imports pointing up the layers:\n" + "\n".join(upward)
