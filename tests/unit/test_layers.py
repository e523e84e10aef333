"""The layers point one way (docs/architecture.md): a service never imports a schema or the HTTP
layer, a schema never imports a service, and nothing in shared/ imports functions/ or devtools/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

SHARED = ROOT / "shared"


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _offences(folder: Path, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """Each file below ``folder`` (by its path from there) that imports a module of ``forbidden``."""
    offences: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        bad = sorted(m for m in _imported_modules(path) if m.startswith(forbidden))
        if bad:
            offences[str(path.relative_to(folder))] = bad
    return offences


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        (SHARED / "services", ("shared.schemas", "shared.http", "functions", "azure.functions")),
        (SHARED / "schemas", ("shared.services", "shared.http", "functions")),
        (SHARED / "security", ("shared.services", "shared.schemas", "shared.http", "functions")),
        (SHARED, ("functions", "devtools")),
    ],
)
def test_the_layers_point_one_way(folder: Path, forbidden: tuple[str, ...]) -> None:
    assert _offences(folder, forbidden) == {}


def test_the_layer_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    (tmp_path / "service.py").write_text("def handler():\n    from shared.schemas.auth import LoginRequest\n")
    assert _offences(tmp_path, ("shared.schemas",)) == {"service.py": ["shared.schemas.auth"]}
