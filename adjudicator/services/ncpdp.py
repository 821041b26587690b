"""The D.0 door (NCPDP.md): one transmission in, one response out, through the same
intake, reversal and eligibility use cases as the JSON API. The transports (web/ncpdp.py,
adapters/ncpdp_socket.py) frame and authenticate; the wire format is adjudicator/ncpdp/."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

from marshmallow import ValidationError

from adjudicator.domain.outcomes import ClaimStatus, NcpdpKey
from adjudicator.domain.records import ClaimRecord
from adjudicator.domain.terms import Routing
from adjudicator.ncpdp import answers, codec
from adjudicator.ncpdp.requests import (
    MAX_FIELD_REJECTS,
    FieldRejects,
    header_npi,
    header_rejects,
    read_billing,
    read_date,
    read_key,
)
from adjudicator.services import claim_queries, eligibility_inquiry, intake, reversals, terms
from adjudicator.services.errors import Conflict, Forbidden, NotFound
from adjudicator.services.identity import Principal
from adjudicator.services.runtime import Runtime
from schemas.claims import ClaimRequestSchema, DecisionSchema

log = logging.getLogger(__name__)

_CLAIM_REQUEST = ClaimRequestSchema()
_DECISION = DecisionSchema()

# A JSON field the schema refused -> the D.0 M/I code of the field it came from.
_FIELD_CODES = (
    ("cardholder_id", "07"),
    ("group_id", "06"),
    ("patient", "09"),
    ("rx_number", "16"),
    ("fill_number", "17"),
    ("date_of_service", "15"),
    ("lines.0.code", "21"),
    ("lines.0.quantity", "E7"),
    ("lines.0.days_supply", "19"),
    ("lines", "DU"),
    ("cob.other_coverage_code", "13"),
    ("cob.other_payer_bin", "7C"),
    ("cob.other_payer_reject_codes", "6E"),
    ("prescriber_npi", "25"),
)


def answer(rt: Runtime, caller: Principal, transmission: bytes) -> bytes | None:
    """The D.0 response to one transmission (STX/ETX already stripped); None when its
    header cannot be read (HTTP 400, TCP: an empty frame STX ETX). Raises Forbidden when a
    pharmacy key bills for another NPI than its own."""
    try:
        request = codec.parse_request(transmission.decode("ascii"))
    except (UnicodeDecodeError, codec.UnreadableHeader):
        return None
    npi = header_npi(request)
    if caller.role == "pharmacy" and npi != caller.npi:
        raise Forbidden("A pharmacy key bills for its own NPI only (201-B1).")
    served = read_date(request.header["date_of_service"])
    with rt.ledger.reading() as uow:
        routing = terms.routing_on(uow, served)
        registered = uow.credentials.pharmacy(npi) is not None
    codes = header_rejects(request, routing, pharmacy_registered=registered, today=date.today())
    if codes:
        return answers.header_rejected(request, codes).encode("ascii")
    assert served is not None  # a header without a readable date was rejected (15)
    exchange = _Exchange(rt, caller, request, routing, served)
    groups = [exchange.answer(group) for group in request.groups]
    return answers.response(request, answers.ACCEPTED, groups).encode("ascii", "replace")


class _Exchange:
    """One accepted transmission; its transaction groups answered in order."""

    def __init__(
        self,
        rt: Runtime,
        caller: Principal,
        request: codec.Transmission,
        routing: Routing,
        served: date,
    ) -> None:
        self.rt, self.caller, self.request = rt, caller, request
        self.routing, self.served = routing, served
        self.npi = header_npi(request)
        self.code = request.header["transaction_code"]

    def answer(self, group: codec.Group) -> codec.Group:
        claim = group.segment("07")
        rx_sent = claim.first("D2") if claim is not None else None
        if self.code == "E1":
            return self._eligibility()
        if self.code == "B2":
            return self._reversal(group, rx_sent)
        return self._billing(group, rx_sent, rebill=self.code == "B3")

    # --- B1, B3 -------------------------------------------------------------------

    def _billing(self, group: codec.Group, rx_sent: str | None, *, rebill: bool) -> codec.Group:
        read = read_billing(self.request, group, self.routing)
        if isinstance(read, FieldRejects):
            return answers.rejected(read.codes, rx_sent)
        try:
            data = _CLAIM_REQUEST.load(read)
        except ValidationError as error:
            return answers.rejected(_codes_of(error.normalized_messages()), rx_sent)
        replaces = None
        if rebill:
            replaces = self._paid_claim(data)
            if replaces is None:
                return answers.rejected([answers.NOT_PAID], rx_sent)
        submitted = intake.submit_claim(
            self.rt,
            data,
            wait=self.rt.config.sync_timeout,
            channel="ncpdp",
            rebill_of=replaces,
            actor=self.caller.actor,
        )
        if submitted.rendered is not None:
            return answers.claim(json.loads(submitted.rendered), rx_sent, duplicate=False)
        if submitted.answer is intake.Answer.ACCEPTED:  # the wait ran out
            decided = intake.give_up(self.rt, submitted.claim_id)
            if decided is None:
                return answers.rejected([answers.NOT_PROCESSED], rx_sent)
            return self._decided(decided, rx_sent, duplicate=False)
        assert submitted.claim is not None  # decided, read from the ledger
        return self._decided(submitted.claim, rx_sent, duplicate=submitted.duplicate)

    def _paid_claim(self, data: Mapping[str, Any]) -> str | None:
        """The paid claim a B3 replaces: the one paid under its NCPDP key."""
        key = NcpdpKey(self.npi, data["rx_number"], data["fill_number"], data["date_of_service"])
        with self.rt.ledger.reading() as uow:
            keyed = uow.claims.with_key(key)
        paid = [claim.claim_id for claim in keyed if claim.status == ClaimStatus.PAID]
        return paid[0] if paid else None

    def _decided(self, claim: ClaimRecord, rx_sent: str | None, *, duplicate: bool) -> codec.Group:
        view = claim_queries.present(self.rt, claim, npi=claim.pharmacy_npi)
        duplicate = duplicate or claim.status == ClaimStatus.DUPLICATE
        return answers.claim(_DECISION.dump(view), rx_sent, duplicate=duplicate)

    # --- B2 -----------------------------------------------------------------------

    def _reversal(self, group: codec.Group, rx_sent: str | None) -> codec.Group:
        read = read_key(group)
        if isinstance(read, FieldRejects):
            return answers.rejected(read.codes, rx_sent)
        rx_number, fill = read
        key = NcpdpKey(self.npi, rx_number, fill, self.served)
        try:
            claim_id = reversals.find_by_key(self.rt, key)
            before = claim_queries.read_claim(self.rt, claim_id)
            reversals.reverse(self.rt, claim_id, npi=self.npi, actor=self.caller.actor)
        except (NotFound, Conflict):
            return answers.reversal(answers.REJECTED, rx_sent, [answers.NOT_PAID])
        was_paid = before is not None and before.status == ClaimStatus.PAID
        outcome = answers.ACCEPTED if was_paid else answers.ALREADY_REVERSED
        return answers.reversal(outcome, rx_sent)

    # --- E1 -----------------------------------------------------------------------

    def _eligibility(self) -> codec.Group:
        insurance = self.request.transmission.segment("04")
        patient = self.request.transmission.segment("01")
        cardholder = insurance.first("C2") if insurance is not None else None
        birth_text = patient.first("C4") if patient is not None else None
        born = read_date(birth_text)
        codes = []
        if not cardholder or not cardholder.strip():
            codes.append("07")
        if birth_text is not None and born is None:
            codes.append("09")
        if codes:
            return answers.eligibility([(c, answers.plain_reason(c)) for c in codes], None, None)
        assert cardholder is not None  # checked above
        inquiry = eligibility_inquiry.inquire(
            self.rt,
            cardholder_id=cardholder.strip(),
            date_of_birth=born,
            date_of_service=self.served,
            pharmacy_npi=self.npi,
            actor=self.caller.actor,
        )
        return answers.eligibility(inquiry.reject_codes, inquiry.benefit_period, inquiry.remaining)


def _codes_of(errors: Mapping[str, Any]) -> list[str]:
    """The M/I codes of the fields the claim schema refused, in NCPDP.md's order."""
    flat = set(_flatten(errors))
    found = []
    for prefix, code in _FIELD_CODES:
        hit = any(path == prefix or path.startswith(prefix + ".") for path in flat)
        if hit and code not in found:
            found.append(code)
    return (found or ["16"])[:MAX_FIELD_REJECTS]


def _flatten(errors: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in errors.items():
        path = f"{prefix}{key}"
        paths.append(path)
        if isinstance(value, Mapping):
            paths += _flatten(value, path + ".")
    return paths
