"""cda/ is an adapter that stays FHIR-free: it may use the INS leaf, never fhir/, store/, delivery/, dmp/ or settings."""

from __future__ import annotations

import ast
from pathlib import Path

import dmp_gateway.cda

ALLOWED = {"dmp_gateway.cda", "dmp_gateway.ins"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_cda_imports_nothing_of_the_gateway_but_itself_and_the_ins_leaf():
    package = Path(dmp_gateway.cda.__file__).parent
    offenders = {}
    for path in sorted(package.glob("*.py")):
        bad = {m for m in imported_modules(path)
               if m.startswith("dmp_gateway") and not any(m == a or m.startswith(a + ".") for a in ALLOWED)}
        if bad:
            offenders[path.name] = sorted(bad)
    assert len(list(package.glob("*.py"))) > 10
    assert offenders == {}
