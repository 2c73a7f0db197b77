"""The dependency rule (docs/architecture.md): inner packages never import outer ones or frameworks."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "dmp_gateway"

FORBIDDEN = {
    "delivery": ("dmp_gateway.fhir", "dmp_gateway.store", "dmp_gateway.console", "fastapi", "starlette", "httpx",
                 "lxml", "psycopg", "fhir"),
    "dmp": ("dmp_gateway.fhir", "dmp_gateway.delivery", "dmp_gateway.store", "dmp_gateway.cda", "fhir"),
    "cda": ("dmp_gateway.fhir", "dmp_gateway.delivery", "dmp_gateway.store", "dmp_gateway.dmp", "fhir"),
}
#: The in-process procrastinate adapter of the delivery package is allowed its driver.
EXEMPT = {"delivery/tasks.py": ("psycopg",)}


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_the_dependency_rule(package):
    offenders = []
    for path in sorted((SRC / package).rglob("*.py")):
        rel = str(path.relative_to(SRC))
        allowed = EXEMPT.get(rel, ())
        for name in imports_of(path):
            for bad in FORBIDDEN[package]:
                if (name == bad or name.startswith(bad + ".")) and not any(name.startswith(a) for a in allowed):
                    offenders.append(f"{rel} imports {name}")
    assert not offenders, offenders
