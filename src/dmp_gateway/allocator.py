"""glibc's allocator, told to keep the buffers of a few hundred KB that every document passes through.

By default glibc maps a buffer of 128 KB or more afresh and gives it back to the kernel when freed (its
"dynamic" threshold rises only for the sizes just freed, and the heap is trimmed past twice that). A
process that receives, encodes, signs or stores 200 KB PDFs thus pays a page fault for every 4 KB of
every such buffer, every time: 50 to 90 faults per buffer, 300-400 per delivered document in
PostgreSQL's backends and 10-50 in each of our processes (docs/benchmarks.md, session 8). Buffers up to
`MMAP_THRESHOLD` now come from the heap, which keeps up to `TRIM_THRESHOLD` of free memory, so the same
pages serve the next document.

Two ways in: PostgreSQL's processes read the settings from their environment when they start
(`lent_environment`, around the embedded server's start); ours set them once started (`keep_large_buffers`).
Settings an operator gives in the environment (`MALLOC_*_`, glibc's names) are left as they are.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager

#: Largest buffer taken from the heap; larger ones (a 10 MB PDF) are still mapped and given back.
MMAP_THRESHOLD = 4 << 20
#: Free memory the heap keeps before giving its top back to the kernel. glibc's own dynamic mode can
#: keep as much: its threshold follows twice the largest mapped buffer freed so far, up to 64 MiB.
TRIM_THRESHOLD = 64 << 20
#: Extra memory asked for whenever the heap grows, so it grows in steps rather than per buffer.
TOP_PAD = 4 << 20

# glibc's mallopt() parameters and the environment variables that set them at start-up (malloc.h).
_SETTINGS = (
    ("MALLOC_TRIM_THRESHOLD_", -1, TRIM_THRESHOLD),
    ("MALLOC_TOP_PAD_", -2, TOP_PAD),
    ("MALLOC_MMAP_THRESHOLD_", -3, MMAP_THRESHOLD),
)

#: The settings as environment variables, for a process glibc has yet to start.
ENVIRONMENT = {name: str(value) for name, _, value in _SETTINGS}


@contextmanager
def lent_environment() -> Iterator[None]:
    """Around starting a process that should inherit `ENVIRONMENT`; this process's own is restored."""
    added = {name: value for name, value in ENVIRONMENT.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def keep_large_buffers() -> dict[str, int]:
    """Apply the settings to this process (glibc only; elsewhere nothing changes). Returns what was set."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return {}
    mallopt = ctypes.CDLL(None).mallopt
    applied = {}
    for name, parameter, value in _SETTINGS:
        if name not in os.environ and mallopt(parameter, value) == 1:
            applied[name] = value
    return applied
