"""Blobs of every size around the chunk boundary read back whole, with their size and SHA-256."""

from __future__ import annotations

import hashlib
import os

import pytest

from dmp_gateway.store.binaries import CHUNK_SIZE, BlobReader, write_blob
from dmp_gateway.store.db import open_pool
from dmp_gateway.store.errors import BlobTooLarge
from dmp_gateway.store.migrate import migrate


async def _pieces(data: bytes, step: int = 64 * 1024):
    for start in range(0, len(data), step):
        yield data[start:start + step]


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 5])
async def test_blob_round_trip(database_url, size):
    migrate(database_url)
    data = os.urandom(size)
    pool = await open_pool(database_url, min_size=1, max_size=2)
    try:
        async with pool.connection() as conn, conn.transaction():
            info = await write_blob(conn, "w", "application/pdf", _pieces(data), max_bytes=3 * CHUNK_SIZE)
        assert (info.size, info.sha256) == (size, hashlib.sha256(data).hexdigest())
        reader = BlobReader(pool)
        assert await reader.read_all(info.blob_id) == data
        assert await reader.info(info.blob_id) == info
        assert b"".join([chunk async for chunk in reader.stream(info.blob_id)]) == data
        with pytest.raises(BlobTooLarge):
            async with pool.connection() as conn, conn.transaction():
                await write_blob(conn, "w", "application/pdf", _pieces(data + b"x"), max_bytes=size)
    finally:
        await pool.close()
