"""A remittance as the X12 835 its pharmacy posts (PAYMENTS.md): each money event a CLP,
an adjustment the X12 way (what was remitted reversed, then the corrected claim), and
one PLB for a debt recovered or carried, so the 835 balances to its BPR."""

from __future__ import annotations

from typing import Any

from adjudicator.domain.payments import MoneyKind
from adjudicator.services.errors import NotFound
from adjudicator.services.runtime import Runtime
from adjudicator.services.unit_of_work import RemittedClaim
from adjudicator.x12.remittance import ClaimPayment, Payer, Remittance835, write_835

# The program as payer. Name and telephone are the card's (seeds/000); the address is a
# placeholder the program replaces before production (docs/decisions.md).
PAYER = Payer(
    name="IPSEN CARES",
    interchange_id="IPSENCARES",
    tax_id="1000000000",
    address="PO BOX 0000",
    city="CAMBRIDGE",
    state="MA",
    zip_code="02142",
    phone="8664355677",
)
PAID, REVERSED = "2", "22"  # CLP02: processed as secondary; reversal of a previous payment
CONTROL_NUMBERS = 999_999_999  # ISA13 is nine digits


def as_835(rt: Runtime, remittance_id: str, *, npi: str | None) -> str:
    """The remittance's 835; a pharmacy (`npi`) gets its own only (else NotFound)."""
    with rt.ledger.reading() as uow:
        remittance = uow.payments.remittance(remittance_id)
        if remittance is None or (npi is not None and remittance.npi != npi):
            raise NotFound("remittance not found")
        cycle = uow.payments.cycle(remittance.cycle_id)
        pharmacy = uow.credentials.pharmacy(remittance.npi)
        remitted = uow.payments.remitted_claims(remittance.cycle_id, remittance.npi)
    assert cycle is not None  # a remittance belongs to a cycle
    totals = remittance.totals
    document = Remittance835(
        remittance_id=remittance.remittance_id,
        control_number=(remittance.seq or 0) % CONTROL_NUMBERS + 1,
        created=cycle.closed_at,
        payer=PAYER,
        payee_name=pharmacy.name if pharmacy is not None else remittance.npi,
        payee_npi=remittance.npi,
        payment=totals.payment,
        claims=tuple(payment for line in remitted for payment in claim_payments(line)),
        provider_adjustment=totals.total - totals.payment,
    )
    return write_835(document)


def claim_payments(remitted: RemittedClaim) -> list[ClaimPayment]:
    """The CLPs of one money event: a payment or a reversal is one; an adjustment is two,
    the reversal of what the claim's earlier events remitted and the corrected claim."""
    line, prior = remitted.line, remitted.prior
    charge = _charge(remitted.decision)

    def clp(status: str, paid: int, billed: int) -> ClaimPayment:
        last, first = _patient(remitted.facts)
        return ClaimPayment(
            patient_control=f"{line.rx_number}-{line.fill_number}",
            status=status, charge=billed, paid=paid, patient_owes=billed - paid,
            claim_id=line.claim_id, patient_last=last, patient_first=first,
            served=line.date_of_service,
        )  # fmt: skip

    if line.kind == MoneyKind.PAYMENT:
        return [clp(PAID, line.amount, charge)]
    if line.kind == MoneyKind.REVERSAL:
        return [clp(REVERSED, line.amount, -charge)]
    return [clp(REVERSED, -prior, -charge), clp(PAID, prior + line.amount, charge)]


def _charge(decision: dict[str, Any] | None) -> int:
    """What the pharmacy billed the program: the claim's patient responsibility."""
    amounts = (decision or {}).get("amounts") or {}
    return int(amounts.get("patient_responsibility", 0))


def _patient(facts: dict[str, Any] | None) -> tuple[str, str]:
    patient = (facts or {}).get("patient") or {}
    return str(patient.get("last_name") or "UNKNOWN"), str(patient.get("first_name") or "")
