"""Fixtures of the CDA unit tests: FHIR example resources and the CDA reader (helper modules here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent


def load_helper(name: str) -> ModuleType:
    """Import a helper module of this folder (pytest's importlib mode puts no test folder on sys.path)."""
    key = f"dmpgw_tests_cda_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@pytest.fixture(scope="session")
def fx() -> ModuleType:
    return load_helper("fhir_examples")


@pytest.fixture(scope="session")
def reader() -> ModuleType:
    return load_helper("cda_reader")
