"""Binary content stored in 1 MiB chunks (`binary_blob`, `binary_chunk`).

Uploads are written chunk by chunk as they arrive and downloads are streamed chunk by chunk, so a
20 MiB PDF is never held whole in memory by the API (issue 1: "large binaries must not be held
several times in memory").
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from dmp_gateway.store.errors import BlobTooLarge, ResourceNotFound
from dmp_gateway.store.resources import CreatedAlso

CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BlobInfo:
    blob_id: uuid.UUID
    #: Declared content type (e.g. application/pdf).
    content_type: str
    size: int
    #: Hex SHA-256 of the content.
    sha256: str


async def write_blob(
    conn: AsyncConnection, workspace_id: str, content_type: str, chunks: AsyncIterable[bytes], max_bytes: int,
) -> BlobInfo:
    """Store a stream inside the caller's transaction; BlobTooLarge as soon as `max_bytes` is passed.

    Content that fits in one chunk (most documents) is written with its blob row in one statement;
    larger content is written chunk by chunk as it arrives, the blob row first and completed last.
    """
    blob_id = uuid.uuid4()
    digest = hashlib.sha256()
    size = 0
    seq = 0
    pending = bytearray()
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise BlobTooLarge(max_bytes)
        digest.update(chunk)
        pending += chunk
        while len(pending) >= CHUNK_SIZE:
            if seq == 0:
                await conn.execute("insert into binary_blob (blob_id, workspace_id, content_type, size, sha256)"
                                   " values (%s, %s, %s, 0, '')", (blob_id, workspace_id, content_type))
            await _put(conn, blob_id, seq, bytes(pending[:CHUNK_SIZE]))
            del pending[:CHUNK_SIZE]
            seq += 1
    info = BlobInfo(blob_id, content_type, size, digest.hexdigest())
    if seq == 0:
        ctes, params = whole_blob_ctes(_WORKSPACE_PARAMETER, blob_id, content_type, bytes(pending), info.sha256)
        await conn.execute(f"with {ctes} select 1", {**params, "ws": workspace_id})
        return info
    if pending:
        await _put(conn, blob_id, seq, bytes(pending))
    await conn.execute("update binary_blob set size = %s, sha256 = %s where blob_id = %s",
                       (info.size, info.sha256, blob_id))
    return info


def whole_blob_ctes(owner: str, blob_id: uuid.UUID, content_type: str, data: bytes,
                    sha256: str | None = None) -> tuple[str, dict[str, object]]:
    """Two CTEs, `blob` and `chunks`, storing content already in memory, and their named parameters
    (`blob_*`).

    The blob's workspace is the `workspace_id` column of `owner`, a FROM item of the same statement (one
    row), so the caller decides when anything is written: nothing is when `owner` is empty.
    """
    sql = ("blob as (insert into binary_blob (blob_id, workspace_id, content_type, size, sha256)"
           f"  select %(blob_id)s, workspace_id, %(blob_type)s, %(blob_size)s, %(blob_sha256)s from {owner}"
           "  returning blob_id),"
           " chunks as (insert into binary_chunk (blob_id, seq, data)"
           # Sent in binary (%b): as text, psycopg would hex-escape every byte of the array.
           "  select blob.blob_id, c.seq - 1, c.data from blob,"
           "  unnest(%(blob_chunks)b::bytea[]) with ordinality as c(data, seq))")
    return sql, {"blob_id": blob_id, "blob_type": content_type, "blob_size": len(data),
                 "blob_sha256": sha256 or hashlib.sha256(data).hexdigest(), "blob_chunks": _chunks(data)}


#: `owner` for `whole_blob_ctes` when the workspace is the statement's `%(ws)s` parameter.
_WORKSPACE_PARAMETER = "(select %(ws)s::text as workspace_id) as owner"


def blob_created_also(blob_id: uuid.UUID, content_type: str, data: bytes) -> CreatedAlso:
    """Content already in memory (one chunk at most) as CTEs of the statement that creates its Binary
    resource (`PostgresResourceStore.create(..., on_write=...)`): resource, blob and chunk in one round
    trip, atomic without a transaction. The blob's workspace is the resource's (`%(ws)s`)."""
    ctes, params = whole_blob_ctes(_WORKSPACE_PARAMETER, blob_id, content_type, data)
    return CreatedAlso(ctes, "1", params)


def _chunks(data: bytes) -> list[bytes]:
    return [data[i:i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)] or [b""]


async def _put(conn: AsyncConnection, blob_id: uuid.UUID, seq: int, data: bytes) -> None:
    await conn.execute("insert into binary_chunk (blob_id, seq, data) values (%s, %s, %s)", (blob_id, seq, data))


class BlobReader:
    """Reads stored blobs back, whole or as a stream of chunks."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def info(self, blob_id: uuid.UUID) -> BlobInfo:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "select content_type, size, sha256 from binary_blob where blob_id = %s", (blob_id,))
            row = await cur.fetchone()
        if row is None:
            raise ResourceNotFound(f"binary content {blob_id} is missing")
        return BlobInfo(blob_id, row[0], row[1], row[2])

    async def stream(self, blob_id: uuid.UUID) -> AsyncIterator[bytes]:
        """Chunks in order, one query per chunk so only one chunk is in memory at a time."""
        seq = 0
        while True:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "select data from binary_chunk where blob_id = %s and seq = %s", (blob_id, seq), binary=True)
                row = await cur.fetchone()
            if row is None:
                return
            yield bytes(row[0])
            seq += 1

    async def read_all(self, blob_id: uuid.UUID) -> bytes:
        """The whole content in one query (for the CDA builder, which needs the PDF whole anyway)."""
        async with self.pool.connection() as conn:
            # Binary results: the text protocol would hex-encode every byte on the server.
            cur = await conn.execute("select data from binary_chunk where blob_id = %s order by seq", (blob_id,),
                                     binary=True)
            return b"".join(bytes(row[0]) for row in await cur.fetchall())
