"""One attempt at delivering a CommunicationRequest to the DMP, and the operator's actions.

`process` is what a job runs: TD0.2, then the CDA (built once and kept), then ITI-41, then the
outcome. Every DMP error is classified by type (dmp/errors.py), never by message: transient ones are
retried with the *same* uniqueId and CDA bytes, and a `Duplicate` after an uncertain outcome is
settled with ITI-18 by comparing hashes, so the DMP never holds the document twice.
"""

from __future__ import annotations

import logging

from dmp_gateway.delivery.model import ADVICE, BuiltDocument, Delivery, Outcome, Reason
from dmp_gateway.delivery.ports import Clock, DeliveryStore, DmpPort, DocumentPort, DocumentProblem
from dmp_gateway.delivery.retry import RetryPolicy
from dmp_gateway.delivery.states import Event, IllegalTransition, State
from dmp_gateway.dmp import errors as dmp_errors
from dmp_gateway.dmp.types import DmpState, Submission
from dmp_gateway.ins import Ins

log = logging.getLogger(__name__)


async def process(request_id: str, *, store: DeliveryStore, dmp: DmpPort, documents: DocumentPort,
                  clock: Clock, policy: RetryPolicy) -> Delivery:
    """Run one attempt. Returns the delivery as it stands afterwards; never raises for DMP answers."""
    try:
        delivery = await store.start(request_id)
    except IllegalTransition as stale:
        log.info("job for request %s skipped: delivery is %s", request_id, stale.state.value)
        return await store.get(request_id)
    attempt = delivery.attempts
    ins: Ins | None = None
    built: BuiltDocument | None = None
    try:
        ins = await documents.patient_ins(request_id)
        status = await dmp.dmp_status(ins)
        if status.state is DmpState.NOT_FOUND:
            return await _fail(store, clock, request_id, Reason.DMP_NOT_FOUND, "TD0.2: the patient has no DMP.")
        if status.state is DmpState.CLOSED:
            date = status.closed_on.isoformat() if status.closed_on else ""
            reason = (status.closed_reason or "").removeprefix(f"closed on {date}" if date else "closed").strip(" :")
            when = f" on {date}" if date else ""
            why = f" ({reason})" if reason else ""
            return await _fail(store, clock, request_id, Reason.DMP_CLOSED, f"TD0.2: the DMP was closed{when}{why}.")
        # A first attempt has no stored CDA: no need to ask the store for one.
        built = await store.load_document(request_id) if delivery.has_document else None
        if built is None:
            await store.transition(request_id, Event.DMP_OPEN, details={"dmp": "open"})
            built = await documents.build(request_id, delivery.unique_id)
            await store.save_document(request_id, built, details={
                "unique_id": built.unique_id, "cda_bytes": len(built.cda), "pdf": built.pdf_record,
                **({"replaces": built.replaces_unique_id} if built.replaces_unique_id else {})})
        else:
            await store.transition(request_id, Event.DMP_OPEN_CDA_READY,
                                   details={"dmp": "open", "unique_id": built.unique_id, "cda": "kept from a previous attempt"})
        receipt = await dmp.submit(Submission(ins=ins, cda=built.cda, unique_id=built.unique_id,
                                              replaces_unique_id=built.replaces_unique_id, cda_sha1=built.sha1))
        details = {"unique_id": receipt.unique_id, "submission_set": receipt.submission_set_unique_id}
        if receipt.partial:
            details["warnings"] = [f"{w.code}: {w.context}" for w in receipt.warnings]
        return await _deliver(store, clock, request_id, built.unique_id, details)
    except DocumentProblem as problem:
        return await _fail(store, clock, request_id, problem.reason, problem.text)
    except dmp_errors.Duplicate as exc:
        return await _settle_duplicate(store, dmp, clock, request_id, ins, built, exc)
    except dmp_errors.Transient as exc:
        kind = "no answer after sending" if isinstance(exc, dmp_errors.OutcomeUnknown) else "DMP unavailable"
        text = f"{kind}: {exc}" + (f" [{exc.code}]" if exc.code else "")
        if policy.exhausted(attempt):
            return await _fail(store, clock, request_id, Reason.DMP_UNAVAILABLE,
                               f"Gave up after {attempt} attempts; last error: {text}")
        at = clock.now() + policy.delay(attempt)
        return await store.schedule_retry(request_id, at, details={"error": text, "next_attempt_at": at.isoformat()})
    except dmp_errors.Configuration as exc:
        return await _fail(store, clock, request_id, Reason.CONFIGURATION_ERROR, _dmp_text(exc), exc.code)
    except (dmp_errors.NoDmp, dmp_errors.DmpClosed) as exc:
        reason = Reason.DMP_NOT_FOUND if isinstance(exc, dmp_errors.NoDmp) else Reason.DMP_CLOSED
        return await _fail(store, clock, request_id, reason, _dmp_text(exc), exc.code)
    except dmp_errors.Permanent as exc:
        reason = Reason.ACCESS_DENIED if _is_access_error(exc) else Reason.DMP_REJECTED
        return await _fail(store, clock, request_id, reason, _dmp_text(exc), exc.code)


async def _settle_duplicate(store: DeliveryStore, dmp: DmpPort, clock: Clock, request_id: str, ins: Ins | None,
                            built: BuiltDocument | None, exc: dmp_errors.Duplicate) -> Delivery:
    """The uniqueId is already registered: ours (a lost answer of an earlier attempt) or not?"""
    assert ins is not None and built is not None
    found = await dmp.find(ins, built.unique_id)
    if found is not None and found.hash.lower() == built.sha1:
        return await _deliver(store, clock, request_id, built.unique_id,
                              {"unique_id": built.unique_id, "note": "already in the DMP (an earlier attempt's "
                               "answer was lost); ITI-18 hash matches"})
    text = (f"The DMP already holds a document with uniqueId {built.unique_id}"
            + (" but its hash differs from ours" if found else " that ITI-18 does not return"))
    return await _fail(store, clock, request_id, Reason.DUPLICATE_DOCUMENT, text, exc.code)


async def _deliver(store: DeliveryStore, clock: Clock, request_id: str, unique_id: str, details: dict) -> Delivery:
    outcome = Outcome(delivered=True, at=clock.now(), unique_id=unique_id)
    return await store.finish(request_id, Event.ACCEPTED, outcome, details=details)


async def _fail(store: DeliveryStore, clock: Clock, request_id: str, reason: Reason, text: str,
                dmp_code: str | None = None) -> Delivery:
    full = f"{text} {ADVICE[reason]}"
    outcome = Outcome(delivered=False, at=clock.now(), reason=reason, text=full, dmp_code=dmp_code)
    return await store.finish(request_id, Event.PERMANENT, outcome,
                              details={"reason": reason.value, "text": full, **({"dmp_code": dmp_code} if dmp_code else {})})


def _dmp_text(exc: dmp_errors.DmpError) -> str:
    parts = [str(exc)]
    if exc.code:
        parts.append(f"code {exc.code}")
    if exc.context and exc.context not in parts[0]:
        parts.append(exc.context)
    return "DMP: " + "; ".join(parts) + "."


def _is_access_error(exc: dmp_errors.DmpError) -> bool:
    return bool(exc.http_status in (401, 403))


async def fail_unexpectedly(request_id: str, exc: Exception, *, store: DeliveryStore, clock: Clock) -> Delivery | None:
    """Park a delivery that crashed mid-way as failed (internal-error), if it is in a working state."""
    delivery = await store.get(request_id)
    if delivery.state not in (State.CHECKING_DMP, State.BUILDING_CDA, State.SUBMITTING):
        return None
    return await _fail(store, clock, request_id, Reason.INTERNAL_ERROR, f"Internal error ({type(exc).__name__}).")


# --- operators' actions ----------------------------------------------------------------------------

async def send(request_id: str, *, store: DeliveryStore, who: str) -> Delivery:
    """Validate a request that waited for a human (no IMMEDIATE_MODE tag): enqueue it."""
    return await store.restart(request_id, Event.SEND, details={"by": who})


async def retry(request_id: str, *, store: DeliveryStore, who: str) -> Delivery:
    """Start a failed request again, after the data was fixed: the CDA is rebuilt, its uniqueId kept."""
    return await store.restart(request_id, Event.RETRY, details={"by": who})


async def cancel(request_id: str, *, store: DeliveryStore, who: str) -> Delivery:
    """Withdraw a request that is waiting, failed, or between retries."""
    return await store.cancel(request_id, details={"by": who})
