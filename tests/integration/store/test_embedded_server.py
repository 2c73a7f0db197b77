"""The embedded server's processes run with the allocator settings `store.embedded` lends them."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.skipif(bool(os.environ.get("DMPGW_TEST_DATABASE_URL")),
                                reason="an external server is configured by its operator")


def _minor_faults(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[7])


def test_a_backend_reuses_its_large_buffers_instead_of_faulting_them_in_again(pg_admin_url):
    """Receiving, storing and reading back 200 KB: about 90 page faults a round with the settings, 340 without
    (each buffer mapped afresh and returned to the kernel). What is left is the backend's first touch of
    the shared buffers the new rows land in."""
    document = os.urandom(200_000)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute("create temporary table documents (content bytea)")
        pid = conn.execute("select pg_backend_pid()").fetchone()[0]

        def round_trip() -> None:
            conn.execute("select length(%s::bytea)", (document,))
            conn.execute("insert into documents values (%s)", (document,))
            conn.execute("select content from documents order by random() limit 1").fetchone()

        for _ in range(5):
            round_trip()
        before = _minor_faults(pid)
        for _ in range(20):
            round_trip()
        per_round = (_minor_faults(pid) - before) / 20
    assert per_round < 170, f"{per_round} page faults per round"
