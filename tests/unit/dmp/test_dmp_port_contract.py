"""One contract for the DMP port, run against `InMemoryDmp` and `SoapDmp` (over a wire-level fake peer).

A fake that drifts from the real adapter fails here (notes/style.md §2.3).
"""

from __future__ import annotations

import datetime as dt

import pytest

from dmp_gateway.dmp.errors import Duplicate, InvalidSubmission, OutcomeUnknown, Permanent, Transient
from dmp_gateway.dmp.iti41 import sha1_hex
from dmp_gateway.dmp.types import DmpState, NewStatus




async def test_open_closed_and_missing_dmp(port_and_backend, make_submission):
    port, backend = port_and_backend
    ins = make_submission().ins
    assert (await port.dmp_status(ins)).state is DmpState.OPEN
    backend.set_patient(ins, DmpState.CLOSED, closed_on=dt.date(2024, 3, 1), closed_reason="Décès")
    closed = await port.dmp_status(ins)
    assert (closed.state, closed.closed_on, closed.closed_reason) == (DmpState.CLOSED, dt.date(2024, 3, 1), "Décès")
    backend.set_patient(ins, DmpState.NOT_FOUND)
    assert (await port.dmp_status(ins)).state is DmpState.NOT_FOUND


async def test_authorization_status_is_reported(port_and_backend, make_submission):
    port, backend = port_and_backend
    ins = make_submission().ins
    backend.set_patient(ins, DmpState.OPEN, authorization="VALIDE")
    assert (await port.dmp_status(ins)).authorization == "VALIDE"


async def test_submit_then_find_returns_hash_and_size(port_and_backend, make_submission):
    port, backend = port_and_backend
    submission = make_submission()
    receipt = await port.submit(submission)
    assert receipt.unique_id == submission.unique_id
    assert receipt.submission_set_unique_id == submission.effective_submission_set_unique_id
    found = await port.find(submission.ins, submission.unique_id)
    assert found is not None and found.same_content(sha1_hex(submission.cda), len(submission.cda))
    assert found.status.endswith(":Approved")
    assert backend.unique_ids_for(submission.ins) == [submission.unique_id]


async def test_find_unknown_document_is_none(port_and_backend, make_submission):
    port, _ = port_and_backend
    assert await port.find(make_submission().ins, "1.2.250.1.999.1.1.4.424242") is None


async def test_resending_a_unique_id_is_duplicate(port_and_backend, make_submission):
    port, _ = port_and_backend
    submission = make_submission()
    await port.submit(submission)
    with pytest.raises(Duplicate) as caught:
        await port.submit(submission)
    assert caught.value.code == "XDSDuplicateUniqueIdInRegistry"


async def test_scripted_transient_faults_then_success(port_and_backend, make_submission):
    port, backend = port_and_backend
    submission = make_submission()
    backend.fail_next(Transient, times=2, operation="submit")
    for _ in range(2):
        with pytest.raises(Transient):
            await port.submit(submission)
    await port.submit(submission)
    assert backend.unique_ids_for(submission.ins) == [submission.unique_id]


async def test_permanent_fault_keeps_a_code(port_and_backend, make_submission):
    port, backend = port_and_backend
    backend.fail_next(Permanent, operation="submit")
    with pytest.raises(Permanent) as caught:
        await port.submit(make_submission())
    assert caught.value.code


async def test_lost_answer_leaves_a_document_that_find_sees(port_and_backend, make_submission):
    port, backend = port_and_backend
    submission = make_submission()
    backend.fail_next(OutcomeUnknown, operation="submit")
    with pytest.raises(Transient):  # SoapDmp sees the fake's error as a response; OutcomeUnknown ⊂ Transient
        await port.submit(submission)
    assert await port.find(submission.ins, submission.unique_id) is not None


async def test_replacement_deprecates_the_old_entry(port_and_backend, make_submission):
    port, _ = port_and_backend
    first = make_submission()
    await port.submit(first)
    second = make_submission(replaces_unique_id=first.unique_id)
    await port.submit(second)
    old = await port.find(first.ins, first.unique_id)
    assert old is not None and old.status.endswith(":Deprecated")


async def test_replacing_an_unknown_document_is_permanent(port_and_backend, make_submission):
    port, _ = port_and_backend
    with pytest.raises(Permanent):
        await port.submit(make_submission(replaces_unique_id="1.2.250.1.999.1.1.4.777"))


async def test_delete_and_archive(port_and_backend, make_submission):
    port, _ = port_and_backend
    submission = make_submission()
    await port.submit(submission)
    await port.update_status(submission.ins, submission.unique_id, NewStatus.ARCHIVED)
    assert (await port.find(submission.ins, submission.unique_id)).status == NewStatus.ARCHIVED.value
    await port.update_status(submission.ins, submission.unique_id, NewStatus.DELETED)
    assert (await port.find(submission.ins, submission.unique_id)).status == NewStatus.DELETED.value


async def test_update_status_of_unknown_document_is_permanent(port_and_backend, make_submission):
    port, _ = port_and_backend
    with pytest.raises(Permanent):
        await port.update_status(make_submission().ins, "1.2.250.1.999.1.1.4.778", NewStatus.DELETED)


async def test_cda_not_matching_the_unique_id_is_refused_before_sending(port_and_backend, make_submission):
    port, backend = port_and_backend
    submission = make_submission()
    wrong = type(submission)(ins=submission.ins, cda=submission.cda, unique_id="1.2.250.1.999.9")
    with pytest.raises(InvalidSubmission) as caught:
        await port.submit(wrong)
    assert caught.value.location == "uniqueId"
    assert backend.documents == {}
