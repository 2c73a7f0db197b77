"""Fixtures of the CDA integration tests: the ANS kit runner (in-process) and the unit tests' helpers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

UNIT_HELPERS = Path(__file__).resolve().parents[2] / "unit" / "cda"


def _load(key: str, path: Path) -> ModuleType:
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@pytest.fixture(scope="session")
def kit_dir(shared_dir: Path) -> Path:
    kit = shared_dir / "ans-cda-kit"
    if not (kit / "validate_cda.py").exists():
        pytest.skip("../shared/ans-cda-kit is not present")
    return kit


@pytest.fixture(scope="session")
def kit(kit_dir: Path) -> ModuleType:
    """The kit's validate_cda module; its compiled schematron is cached for the whole session."""
    return _load("dmpgw_tests_ans_validate_cda", kit_dir / "validate_cda.py")


@pytest.fixture(scope="session")
def cda_xsd(kit: ModuleType, kit_dir: Path):
    return kit.load_xsd(kit_dir / kit.XSD_REL)


@pytest.fixture(scope="session")
def fx() -> ModuleType:
    return _load("dmpgw_tests_cda_fhir_examples", UNIT_HELPERS / "fhir_examples.py")


@pytest.fixture(scope="session")
def reader() -> ModuleType:
    return _load("dmpgw_tests_cda_cda_reader", UNIT_HELPERS / "cda_reader.py")
