"""A built CDA is stored before its first submission and comes back byte for byte (migration 0006).

A CDA wrapping a stored PDF unchanged is kept as its head and tail around the PDF's blob; any other
(a converted PDF) whole. Either way `load_document` returns exactly the bytes first sent, or refuses.
"""

from __future__ import annotations

import base64

import psycopg
import pytest

from dmp_gateway.delivery.model import BuiltDocument, EmbeddedPdf
from dmp_gateway.delivery.states import Event
from dmp_gateway.ins import Ins
from dmp_gateway.store.binaries import write_blob
from dmp_gateway.store.db import open_pool
from dmp_gateway.store.deliveries import PostgresDeliveryStore
from dmp_gateway.store.errors import StoredDocumentDamaged
from dmp_gateway.store.migrate import migrate

INS = Ins("279035121518989", "1.2.250.1.213.1.4.10")
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 900 + b"\n%%EOF\n"
HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3">' + b"<x/>" * 500 + b"<text>"
TAIL = b"</text></ClinicalDocument>\n"
CDA = HEAD + base64.b64encode(PDF) + TAIL


@pytest.fixture
async def store(database_url):
    migrate(database_url)
    pool = await open_pool(database_url, min_size=1, max_size=4)
    yield PostgresDeliveryStore(pool, effects=None)
    await pool.close()


async def _building(store: PostgresDeliveryStore, request_id: str) -> str:
    """A delivery in building_cda and the PDF's blob id, as the worker has them before save_document."""
    async with store.pool.connection() as conn, conn.transaction():
        await store.register(conn, request_id, "ws", "p-" + request_id, "d-" + request_id, immediate=True)
        async def one():
            yield PDF
        blob = await write_blob(conn, "ws", "application/pdf", one(), 1 << 30)
    for event in (Event.START, Event.DMP_OPEN):
        async with store.pool.connection() as conn:
            await store._move(conn, request_id, event, "ok", {})
    return str(blob.blob_id)


def _built(embedded: EmbeddedPdf | None) -> BuiltDocument:
    return BuiltDocument(INS, CDA, "1.2.250.1.999.1.4.7", None, {"action": "accepted"}, embedded)


async def test_a_cda_around_a_stored_pdf_keeps_only_its_ends_and_comes_back_identical(store, database_url):
    blob = await _building(store, "r1")
    saved = await store.save_document("r1", _built(EmbeddedPdf(blob, len(HEAD), len(TAIL))), details={})
    assert saved.has_document and saved.unique_id == "1.2.250.1.999.1.4.7"
    with psycopg.connect(database_url) as conn:
        head, tail, whole = conn.execute(
            "select length(cda_head), length(cda_tail), cda_blob_id from delivery where request_id = 'r1'").fetchone()
    assert (head, tail, whole) == (len(HEAD), len(TAIL), None)  # no second copy of the PDF
    loaded = await store.load_document("r1")
    assert loaded is not None and loaded.cda == CDA and loaded.ins == INS and loaded.pdf_record == {"action": "accepted"}


async def test_a_cda_without_a_stored_pdf_is_kept_whole(store, database_url):
    await _building(store, "r2")
    await store.save_document("r2", _built(None), details={})
    with psycopg.connect(database_url) as conn:
        head, whole = conn.execute("select cda_head, cda_blob_id from delivery where request_id = 'r2'").fetchone()
    assert head is None and whole is not None
    assert (await store.load_document("r2")).cda == CDA


async def test_ends_that_no_longer_rebuild_the_same_bytes_are_refused(store, database_url):
    blob = await _building(store, "r3")
    await store.save_document("r3", _built(EmbeddedPdf(blob, len(HEAD), len(TAIL))), details={})
    with psycopg.connect(database_url) as conn:
        conn.execute("update delivery set cda_tail = %s where request_id = 'r3'", (TAIL.replace(b"text", b"TEXT"),))
    with pytest.raises(StoredDocumentDamaged):
        await store.load_document("r3")


async def test_a_whole_cda_whose_blob_changed_is_refused_too(store, database_url):
    await _building(store, "r5")
    await store.save_document("r5", _built(None), details={})
    with psycopg.connect(database_url) as conn:
        conn.execute("update binary_chunk set data = overlay(data placing 'X'::bytea from 100)"
                     " where blob_id = (select cda_blob_id from delivery where request_id = 'r5')")
    with pytest.raises(StoredDocumentDamaged):
        await store.load_document("r5")


def test_a_built_document_carries_the_sha1_of_its_bytes():
    import hashlib

    assert _built(None).sha1 == hashlib.sha1(CDA).hexdigest()


async def test_nothing_is_stored_when_the_transition_is_refused(store, database_url):
    await _building(store, "r4")
    await store.save_document("r4", _built(None), details={})
    with pytest.raises(Exception, match="cda_built|building_cda|submitting"):
        await store.save_document("r4", _built(None), details={})  # already past building_cda
    with psycopg.connect(database_url) as conn:
        blobs = conn.execute("select count(*) from binary_blob where content_type = 'application/xml'").fetchone()[0]
    assert blobs == 1

