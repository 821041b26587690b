"""Claim intake, on the web: store a claim `received`, hand it to the workers, and wait
for its decision. The worker's side is adjudicator/services/adjudication.py."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

from adjudicator.adapters.decision_channel import DONE
from adjudicator.domain.adjudicate import not_processed
from adjudicator.domain.outcomes import ClaimStatus, NcpdpKey
from adjudicator.domain.records import ClaimRecord
from adjudicator.services import rebills, records, terms
from adjudicator.services.claim_queries import read_claim
from adjudicator.services.errors import TooManyUndecided
from adjudicator.services.history import claim_event
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import KeyedClaim, UnitOfWork

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05  # how often a resubmission looks whether its original was decided


class Answer(Enum):
    DECIDED = "decided"  # the claim's decision
    DUPLICATE = "duplicate"  # it repeats a paid claim: that claim's decision, as a duplicate
    ACCEPTED = "accepted"  # not decided yet: 202, and where to look


@dataclass(frozen=True)
class Submission:
    """What the pharmacy is answered, whichever way the claim went."""

    claim_id: str
    answer: Answer
    claim: ClaimRecord | None  # the claim to show; None when `rendered` holds its decision
    rendered: str | None = None  # the decision as the worker rendered it for the API
    new: bool = False  # this submission stored a new claim

    @property
    def duplicate(self) -> bool:
        return self.answer is Answer.DUPLICATE


def submit_claim(
    rt: Runtime,
    data: dict[str, Any],
    *,
    wait: float | None,
    channel: str = "json",
    rebill_of: str | None = None,
    actor: str | None = None,
) -> Submission:
    """Store the claim (unless it repeats an earlier one) and wait up to `wait` seconds
    for its decision; `wait` None answers at once. `channel` is the door it came through
    ("json", "ncpdp"); `rebill_of` the paid claim a B3 replaces; `actor` who sent it
    (the pharmacy, unless a switch did)."""
    request = records.normalized_claim_request(data)
    digest = records.request_hash(request)
    with rt.ledger.writing() as uow:
        earlier = _identical_earlier_claim(uow, request, digest)
        if earlier is None and wait is None:
            _refuse_past_the_undecided_cap(rt, uow, request["service_provider_id"])
        if earlier is None:
            claim = records.received_claim(
                uuid.uuid4().hex, data, request, digest, channel=channel, rebill_of=rebill_of
            )
            uow.claims.add(claim)
            claim_event(uow, claim, "received", actor or f"pharmacy:{claim.pharmacy_npi}")
    if earlier is not None:
        return _repeated(rt, earlier, wait)
    log.debug("claim received", extra={"claim_id": claim.claim_id})
    queued = rt.decisions.publish(claim.claim_id, waited=wait is not None)
    if wait is None or not queued:  # not queued: the sweep will; answer 202 now
        return Submission(claim.claim_id, Answer.ACCEPTED, claim, new=True)
    return _awaited(rt, claim, wait)


def _refuse_past_the_undecided_cap(rt: Runtime, uow: UnitOfWork, npi: str) -> None:
    """429 for an asynchronous claim of a pharmacy whose claims still undecided reach the cap
    (API.md): a flood it does not wait for must not pile up without end. Counted in the
    transaction that stores the claim, from a partial index of undecided claims."""
    cap = rt.config.max_undecided
    if uow.claims.undecided(npi, cap) >= cap:
        raise TooManyUndecided(
            f"This pharmacy has {cap} claims still waiting for a decision; send asynchronous "
            "claims again once some are decided, or wait for each claim's decision."
        )


def _awaited(rt: Runtime, claim: ClaimRecord, wait: float) -> Submission:
    announced = rt.decisions.await_answer(claim.claim_id, wait)
    if announced is not None and announced != DONE:
        return Submission(claim.claim_id, Answer.DECIDED, None, announced.decode(), new=True)
    decided = read_claim(rt, claim.claim_id)
    if decided is not None and decided.status != ClaimStatus.RECEIVED:
        return Submission(claim.claim_id, Answer.DECIDED, decided, new=True)
    # A new claim answers as it was accepted, `received`, whatever the worker has done
    # since the wait ran out (API.md's 202); its Location shows the decision.
    return Submission(claim.claim_id, Answer.ACCEPTED, claim, new=True)


def _repeated(rt: Runtime, earlier: KeyedClaim, wait: float | None) -> Submission:
    """An identical resubmission: the paid claim as a duplicate, or the undecided one
    as it stands when it is decided or the wait runs out."""
    if earlier.status == ClaimStatus.PAID:
        return Submission(earlier.claim_id, Answer.DUPLICATE, read_claim(rt, earlier.claim_id))
    claim = _poll_until_decided(rt, earlier.claim_id, wait or 0.0)
    if claim is None:  # a rebill that did not pay: nothing of it was kept
        return Submission(earlier.claim_id, Answer.ACCEPTED, None)
    if claim.status == ClaimStatus.RECEIVED:
        return Submission(claim.claim_id, Answer.ACCEPTED, claim)
    paid = claim.status == ClaimStatus.PAID  # decided meanwhile: this one repeats it
    return Submission(claim.claim_id, Answer.DUPLICATE if paid else Answer.DECIDED, claim)


def _identical_earlier_claim(
    uow: UnitOfWork, request: dict[str, Any], digest: str
) -> KeyedClaim | None:
    """A paid or still undecided claim with the same key and the same content."""
    key = NcpdpKey(
        request["service_provider_id"],
        request["rx_number"],
        request["fill_number"],
        records.date_of_service(request),
    )
    for claim in uow.claims.with_key(key):
        if claim.request_hash == digest and claim.status in (
            ClaimStatus.PAID,
            ClaimStatus.RECEIVED,
        ):
            return claim
    return None


def _poll_until_decided(rt: Runtime, claim_id: str, timeout: float) -> ClaimRecord | None:
    """The claim once decided or when the wait runs out; None if it is gone (only a
    rebill that did not pay is ever deleted)."""
    deadline = time.monotonic() + timeout
    while True:
        claim = read_claim(rt, claim_id)
        if claim is None or claim.status != ClaimStatus.RECEIVED or time.monotonic() >= deadline:
            return claim
        time.sleep(POLL_SECONDS)


def give_up(rt: Runtime, claim_id: str) -> ClaimRecord | None:
    """A D.0 transaction's wait ran out (NCPDP.md, Time and failure): the claim is set
    rejected 85 at once, unless a worker recorded its decision first, which then stands.
    A rebill is discarded instead (nothing of it is kept). The claim as it now stands;
    None when it is gone."""
    with rt.ledger.writing() as uow:
        claim = uow.claims.get(claim_id, lock=True)
        if claim is None or claim.status != ClaimStatus.RECEIVED:
            return claim
        if claim.rebill_of is None:
            values = _not_processed(rt, uow, claim)
        else:
            uow.claims.discard(claim_id)
    if claim.rebill_of is not None:
        # A worker may have taken the rebill's Redis step and died: give back what it took.
        rebills.undo(rt, claim, claim.rebill_of)
        return None
    log.warning("claim not decided in time: rejected 85", extra={"claim_id": claim_id})
    return dataclasses.replace(claim, **values)


def _not_processed(rt: Runtime, uow: UnitOfWork, claim: ClaimRecord) -> dict[str, Any]:
    """Record the claim rejected 85 (the caller holds it locked, still `received`)."""
    version = terms.for_claim(uow, claim.date_of_service).version
    decision = not_processed(claim.claim(), version)
    values: dict[str, Any] = {
        "status": decision.status,
        "decision": records.decision_record(decision),
        "program_paid": 0,
        "decided_at": rt.ledger.now(),
    }
    uow.claims.set_outcome(claim.claim_id, ClaimStatus.RECEIVED, **values)
    data = {"before": {"status": ClaimStatus.RECEIVED}, "after": {"status": decision.status}}
    claim_event(uow, claim, "decided", "system", {**data, "not_processed": True})
    return values
