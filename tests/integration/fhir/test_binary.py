"""Binary: raw and JSON uploads, raw and JSON reads, PDF check, size limit (seed-flow.md §4.1)."""

import base64
import hashlib

import orjson

from dmp_gateway.samples import sample_bytes
from fhir_payloads import FHIR, outcome

PDF = sample_bytes("compte-rendu.pdf")


def test_raw_pdf_round_trip(gateway, ws):
    with gateway.client(ws.token) as c:
        r = c.post("/Binary", content=PDF, headers={"Content-Type": "application/pdf"})
        assert r.status_code == 201
        assert r.json() == {"resourceType": "Binary", "id": r.json()["id"], "meta": r.json()["meta"],
                            "contentType": "application/pdf"}
        raw = c.get(f"/Binary/{r.json()['id']}")
        assert raw.content == PDF and raw.headers["content-type"] == "application/pdf"
        as_json = c.get(f"/Binary/{r.json()['id']}", headers={"Accept": "application/fhir+json"}).json()
        assert base64.b64decode(as_json["content"]) == PDF and as_json["contentType"] == "application/pdf"


def test_large_binary_streams_through_unchanged(gateway, ws):
    big = PDF[:-6] + b"\n%" + b"x" * (1_700_000) + b"\n%%EOF\n"
    with gateway.client(ws.token) as c:
        r = c.post("/Binary", content=big, headers={"Content-Type": "application/pdf"})
        assert r.status_code == 201, r.text
        back = c.get(f"/Binary/{r.json()['id']}").content
    assert hashlib.sha256(back).digest() == hashlib.sha256(big).digest()


def test_json_binary_with_stu3_content_or_r4_data(gateway, ws):
    with gateway.client(ws.token) as c:
        for field in ("content", "data"):
            body = {"resourceType": "Binary", "contentType": "application/pdf", field: base64.b64encode(PDF).decode()}
            r = c.post("/Binary", content=orjson.dumps(body), headers=FHIR)
            assert r.status_code == 201, r.text
            assert c.get(f"/Binary/{r.json()['id']}").content == PDF
        r = c.post("/Binary", content=orjson.dumps({"resourceType": "Binary", "contentType": "application/pdf",
                                                    "content": "!!not base64!!"}), headers=FHIR)
        assert r.status_code == 400 and "base64" in outcome(r)[0]["diagnostics"]


def test_a_pdf_that_is_not_a_pdf_is_422_and_nothing_is_kept(gateway, ws):
    with gateway.client(ws.token) as c:
        r = c.post("/Binary", content=b"GIF89a not a pdf", headers={"Content-Type": "application/pdf"})
        assert r.status_code == 422 and "PDF header" in outcome(r)[0]["diagnostics"]
        r = c.post("/Binary", content=PDF[: len(PDF) // 2], headers={"Content-Type": "application/pdf"})
        assert r.status_code == 422 and "truncated" in outcome(r)[0]["diagnostics"]


def test_over_the_limit_is_413(gateway, ws):
    limit = gateway.settings.binary_max_bytes
    with gateway.client(ws.token) as c:
        r = c.post("/Binary", content=PDF + b"0" * limit, headers={"Content-Type": "application/pdf"})
        assert r.status_code == 413
        # Chunked upload (no Content-Length): refused while streaming.
        def chunks():
            yield PDF
            for _ in range(limit // 65536 + 2):
                yield b"0" * 65536
        r = c.post("/Binary", content=chunks(), headers={"Content-Type": "application/pdf"})
        assert r.status_code == 413


def test_binary_needs_a_content_type_and_scopes(gateway, ws):
    with gateway.client(ws.token) as c:
        assert c.post("/Binary", content=PDF, headers={"Content-Type": ""}).status_code == 415
    read_only = gateway.token(ws.id, [], scopes="BINARY_READ")
    with gateway.client(read_only) as c:
        assert c.post("/Binary", content=PDF, headers={"Content-Type": "application/pdf"}).status_code == 403


def test_sizes_around_the_chunk_boundary_are_kept_whole_with_their_size_and_hash(gateway, ws):
    """Up to one chunk: resource, blob and chunk in one statement; beyond: chunk by chunk (both paths)."""
    import psycopg

    from dmp_gateway.store.binaries import CHUNK_SIZE

    with gateway.client(ws.token) as c:
        for size in (CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1):
            body = PDF[:-6] + b"\n%" + b"y" * (size - len(PDF) - 3) + b"\n%%EOF\n"
            assert len(body) == size
            r = c.post("/Binary", content=body, headers={"Content-Type": "application/pdf"})
            assert r.status_code == 201, r.text
            assert c.get(f"/Binary/{r.json()['id']}").content == body
            with psycopg.connect(gateway.database_url) as conn:
                stored = conn.execute(
                    "select b.size, b.sha256, b.workspace_id,"
                    " (select count(*) from binary_chunk k where k.blob_id = b.blob_id)"
                    " from fhir_resource r join binary_blob b using (blob_id) where r.id = %s",
                    (r.json()["id"],)).fetchone()
            assert stored == (size, hashlib.sha256(body).hexdigest(), ws.id, 1 if size <= CHUNK_SIZE else 2)


def test_a_refused_pdf_leaves_no_blob_behind(gateway, ws):
    import psycopg

    from dmp_gateway.store.binaries import CHUNK_SIZE

    def blobs() -> int:
        with psycopg.connect(gateway.database_url) as conn:
            return conn.execute("select count(*) from binary_blob").fetchone()[0]

    before = blobs()
    with gateway.client(ws.token) as c:
        for body in (PDF[: len(PDF) // 2], PDF[:-6] + b"\n%" + b"z" * CHUNK_SIZE):  # truncated: small, then large
            r = c.post("/Binary", content=body, headers={"Content-Type": "application/pdf"})
            assert r.status_code == 422 and "truncated" in outcome(r)[0]["diagnostics"]
    assert blobs() == before
