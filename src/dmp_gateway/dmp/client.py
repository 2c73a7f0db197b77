"""`SoapDmp`: the DMP port over the real wire protocol (TD0.2, ITI-41, ITI-18, ITI-57).

Every call carries a VIHF signed for its patient; one signed VIHF serves every call about that patient
for `ConnectorConfig.vihf_reuse_seconds` (a delivery's TD0.2 and ITI-41 share one signature instead of
paying two). ITI-41 goes as MTOM with a XAdES-signed submission set.
Errors leave as `dmp.errors` only (translated in transport.py, iti41.py, td02.py). The HTTP client is
injected (`transport.ClientShards` over mTLS in production; an `httpx.AsyncClient` on MockTransport or
ASGITransport in tests), so no socket is opened here. Build one from settings with `dmp.wiring.soap_dmp_from_settings`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.cda_header import read_cda_header
from dmp_gateway.dmp.certs import SigningIdentity
from dmp_gateway.dmp.errors import Permanent
from dmp_gateway.dmp.iti18 import EntryAuthor, build_get_documents, parse_query_response
from dmp_gateway.dmp.iti41 import build_iti41, parse_registry_response
from dmp_gateway.dmp.iti57 import build_update_status
from dmp_gateway.dmp.metadata import DEFAULT_CONTENT_TYPE, AuthorSlots, FeedContext
from dmp_gateway.dmp.soap import build_envelope, serialize
from dmp_gateway.dmp.td02 import build_td02_request, parse_td02_response
from dmp_gateway.dmp.transport import ClientShards, SoapTransport
from dmp_gateway.dmp.types import Code, DmpStatus, FoundDocument, NewStatus, Receipt, Submission, derived_oid
from dmp_gateway.dmp.vihf import VihfProfile, build_vihf
from dmp_gateway.dmp.xades import Algorithm
from dmp_gateway.ins import Ins
from dmp_gateway.lru import Lru


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """The connector's static settings (plain values; `dmp.wiring` fills them from `Settings`)."""

    #: `DMPGW_DMP_BASE_URL`; services `/patients`, `/repository`, `/registry` are appended.
    base_url: str
    #: OID of the emitting system: TD0.2 sender id and XDSSubmissionSet.sourceId.
    lps_oid: str
    vihf: VihfProfile
    content_type: Code = DEFAULT_CONTENT_TYPE
    #: Emit XDS times in UTC (IHE); False keeps CDA local times.
    utc_times: bool = True
    xades_algorithm: Algorithm = "rsa-sha1"
    #: How long a signed VIHF is reused for further calls about the same patient (0: sign every call).
    #: Well under the DMP's acceptance window for an assertion (dmp-interfaces.md §8).
    vihf_reuse_seconds: float = 300.0


class SoapDmp:
    """Implements the `DmpPort` protocol over SOAP 1.2 / MTOM with the DMP (or the simulator)."""

    def __init__(self, *, client: httpx.AsyncClient | ClientShards, config: ConnectorConfig, signer: SigningIdentity,
                 clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.config = config
        self.signer = signer
        self.clock = clock
        self.transport = SoapTransport(client, config.base_url)
        self._client = client
        self._vihfs = _VihfCache(config.vihf_reuse_seconds)

    def _vihf(self, ins: Ins) -> etree._Element:
        now = self.clock()
        signed = self._vihfs.get(ins, now)
        if signed is None:
            signed = etree.tostring(build_vihf(self.config.vihf, ins, self.signer, now=now))
            self._vihfs.put(ins, now, signed)
        # A fresh tree per envelope: exclusive c14n keeps the signature valid wherever it is placed.
        return etree.fromstring(signed)

    def _envelope(self, action: str, body: etree._Element, ins: Ins) -> bytes:
        vihf = self._vihf(ins)
        return serialize(build_envelope(body, action=action, to=self.transport.url_for(action), security=vihf))

    def _context(self) -> FeedContext:
        return FeedContext(self.config.lps_oid, self.clock(), self.config.content_type, self.config.utc_times)

    async def dmp_status(self, ins: Ins) -> DmpStatus:
        """TD0.2: does the patient have a DMP, is it open (dmp-interfaces.md §3)."""
        body = build_td02_request(ins, lps_oid=self.config.lps_oid, lps_name=self.config.vihf.lps_name,
                                  now=self.clock())
        answer = await self.transport.call(ns.ACTION_TD02, self._envelope(ns.ACTION_TD02, body, ins))
        return parse_td02_response(answer.body).to_status()

    async def submit(self, submission: Submission) -> Receipt:
        """ITI-41 (TD2.1); a replacement first looks the old entry up (ITI-18) for its entryUUID."""
        header = read_cda_header(submission.cda)
        replaced_entry = None
        if submission.replaces_unique_id:
            found = await self._lookup(submission.ins, submission.replaces_unique_id)
            if found is None:
                raise Permanent("the document to replace is not in the DMP", code="REPLACED_NOT_FOUND",
                                location=submission.replaces_unique_id)
            replaced_entry = found[0].entry_uuid
        request = build_iti41(submission, header, signer=self.signer, context=self._context(),
                              replaced_entry_uuid=replaced_entry, signature_algorithm=self.config.xades_algorithm)
        envelope = self._envelope(ns.ACTION_ITI41, request.body, submission.ins)
        answer = await self.transport.call(ns.ACTION_ITI41, envelope, request.parts, mtom=True)
        result = parse_registry_response(answer.body)
        result.raise_for_status()
        return Receipt(
            unique_id=submission.unique_id,
            submission_set_unique_id=request.submission_set_unique_id,
            signature_unique_id=request.signature_unique_id,
            hash=request.document_hash,
            size=request.document_size,
            partial=result.partial,
            warnings=result.warnings,
        )

    async def _lookup(self, ins: Ins, unique_id: str) -> tuple[FoundDocument, EntryAuthor | None] | None:
        body = build_get_documents([unique_id])
        answer = await self.transport.call(ns.ACTION_ITI18, self._envelope(ns.ACTION_ITI18, body, ins))
        result = parse_query_response(answer.body)
        result.raise_for_status()
        for document, author in zip(result.documents, result.authors):
            if document.unique_id == unique_id:
                return document, author
        return None

    async def find(self, ins: Ins, unique_id: str) -> FoundDocument | None:
        """ITI-18 GetDocuments by uniqueId (LeafClass): the entry with hash and size, or None."""
        found = await self._lookup(ins, unique_id)
        return found[0] if found else None

    async def update_status(self, ins: Ins, unique_id: str, new_status: NewStatus) -> None:
        """ITI-57 delete / archive (TD3.3c/d). Idempotent: an entry already in `new_status` is left alone."""
        found = await self._lookup(ins, unique_id)
        if found is None:
            raise Permanent("no such document in the DMP", code="DOCUMENT_NOT_FOUND", location=unique_id)
        document, author = found
        if document.status == new_status.value:
            return
        body = build_update_status(
            ins=ins, entry_uuid=document.entry_uuid, new_status=new_status,
            submission_set_unique_id=derived_oid("update", unique_id, new_status.name),
            author=AuthorSlots(author.person, author.institution) if author else AuthorSlots(self.config.vihf.name_id),
            context=self._context(), original_status=document.status or ns.STATUS_APPROVED,
        )
        answer = await self.transport.call(ns.ACTION_ITI57, self._envelope(ns.ACTION_ITI57, body, ins))
        parse_registry_response(answer.body).raise_for_status()

    async def aclose(self) -> None:
        await self._client.aclose()


class _VihfCache:
    """Signed VIHFs by patient, each reused until `seconds` after it was signed; bounded (oldest out)."""

    #: Patients whose VIHF is kept; far more than the deliveries a worker has in flight.
    MAX_ENTRIES = 4096

    def __init__(self, seconds: float) -> None:
        self.lifetime = dt.timedelta(seconds=seconds)
        self._entries: Lru[tuple[str, str], tuple[dt.datetime, bytes]] = Lru(self.MAX_ENTRIES)

    def get(self, ins: Ins, now: dt.datetime) -> bytes | None:
        entry = self._entries.get((ins.value, ins.oid))
        if entry is None or not entry[0] <= now < entry[0] + self.lifetime:
            return None
        return entry[1]

    def put(self, ins: Ins, signed_at: dt.datetime, signed: bytes) -> None:
        if self.lifetime > dt.timedelta(0):
            self._entries.put((ins.value, ins.oid), (signed_at, signed))


__all__ = ["ConnectorConfig", "SoapDmp", "utc_now"]
