"""dmp_gateway.allocator: a process keeps its document-sized buffers instead of faulting them in again.

Each case runs in a child process: the settings are process-wide and glibc reads the environment once.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from dmp_gateway.allocator import ENVIRONMENT, lent_environment

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")

_CHILD = """
import json, os, resource, sys
from dmp_gateway import allocator
applied = allocator.keep_large_buffers() if sys.argv[1] == "keep" else {}
source = os.urandom(300_000)
def documents():  # what a delivery does to a PDF: copy, encode, slice, join
    a = bytes(bytearray(source)); b = a + b"x"; c = b[:200_000] * 2
    return len(c)
for _ in range(20):
    documents()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    documents()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 200
print(json.dumps({"applied": applied, "faults_per_round": faults}))
"""


def _run(mode: str, **env: str) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | env
    done = subprocess.run([sys.executable, "-c", _CHILD, mode], env=environment, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def test_kept_buffers_are_reused_without_page_faults():
    kept = _run("keep")
    assert set(kept["applied"]) == {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"}
    # About 1.1 MB goes through the heap each round: 280 faults a round with glibc's defaults here.
    assert kept["faults_per_round"] < 5


def test_an_operators_setting_is_left_as_given():
    kept = _run("keep", MALLOC_TOP_PAD_="0")
    assert "MALLOC_TOP_PAD_" not in kept["applied"]
    assert "MALLOC_MMAP_THRESHOLD_" in kept["applied"]


def test_the_settings_are_only_lent_to_the_server_and_yield_to_the_operators(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    with lent_environment():
        assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "1"
        assert os.environ["MALLOC_MMAP_THRESHOLD_"] == ENVIRONMENT["MALLOC_MMAP_THRESHOLD_"]
    assert "MALLOC_MMAP_THRESHOLD_" not in os.environ
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "1"
