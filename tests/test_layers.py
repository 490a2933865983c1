"""No package imports from a layer above it (the README's folder table draws the layers)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
# Each package, and the project packages it may import.
ALLOWED = {
    "engine": set(),
    "service": set(),
    "functions": {"service"},
    "router": {"service"},
    "web": {"router", "functions", "service"},
    "cli": {"web", "router", "functions", "service", "engine"},
}


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(imported - ALLOWED[package] - {package})
        for path in sorted((ROOT / package).rglob("*.py"))
        if (imported := _imported_packages(path)) - ALLOWED[package] - {package}
    }
    assert offending == {}
