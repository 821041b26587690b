"""A claim's evaluation (rules and amounts) and its decision once the payment is reserved."""

from __future__ import annotations

from dataclasses import replace

from adjudicator.domain.model import (
    Amounts,
    Benefit,
    Claim,
    ClaimContext,
    Decision,
    Evaluation,
    Line,
    RejectCode,
    TraceEntry,
)
from adjudicator.domain.money import Cents
from adjudicator.domain.outcomes import ClaimStatus
from adjudicator.domain.rules import (
    ANSWERED_ALONE,
    ClaimFacts,
    claim_is_cash_pay,
    conceals,
    drug_coding,
    failures,
    reject,
    reported,
    year_of_service,
)
from adjudicator.domain.terms import Terms

PAID_MESSAGES = ("This benefit may not be submitted to an FSA, HSA or HRA for reimbursement.",)


def evaluate(claim: Claim, ctx: ClaimContext, terms: Terms) -> Evaluation:
    """Run rules 1-10 in order and compute the amounts, before the annual maximum."""
    facts = ClaimFacts(claim, ctx, terms, year_of_service(claim, ctx))
    failed = failures(facts)
    alone = any(failure.rule == ANSWERED_ALONE for failure in failed)
    hidden = conceals(failed)
    # What the answer may tell of the patient's year: nothing, after a 40 or a 09.
    shown = replace(facts, year=None) if hidden else facts
    excluded = () if alone else _exclusions(shown)
    cash_pay = not hidden and claim_is_cash_pay(claim, facts.year, terms)
    return Evaluation(
        rejects=reported(failed),
        trace=tuple(TraceEntry(r.rule, "rejected", r.message) for r in failed) + excluded,
        year=facts.year,
        cash_pay=cash_pay,
        patient_responsibility=sum(line.patient_responsibility for line in claim.lines),
        eligible=_eligible(shown),
        per_rx_max=terms.cash_pay_per_rx_max if cash_pay else None,
        terms_version=terms.version,
        annual_max=terms.annual_max,
        discloses_coverage=not hidden,
    )


def grant(requested: Cents, used: Cents, annual_max: Cents) -> Cents:
    """What the year can still pay of `requested` (the Redis Lua script mirrors this)."""
    return min(requested, max(annual_max - used, 0))


def decide(evaluation: Evaluation, used_before: Cents, granted: Cents) -> Decision:
    """The decision, given the year's usage before this claim and the amount reserved."""
    if evaluation.rejects:
        return _rejected(evaluation, used_before, evaluation.rejects, evaluation.trace)
    if used_before >= evaluation.annual_max:
        limit = reject("annual_max", "76")
        trace = (*evaluation.trace, TraceEntry(limit.rule, "rejected", limit.message))
        return _rejected(evaluation, used_before, (limit,), trace)
    if not 0 <= granted <= grant(evaluation.requested, used_before, evaluation.annual_max):
        raise ValueError(f"granted {granted} is more than the terms allow for this claim")
    return _paid(evaluation, used_before, granted)


def within_ledger(evaluation: Evaluation, decision: Decision, ledger_used: Cents) -> Decision:
    """The decision settled on what the ledger leaves of the year.

    Redis reserved the payment; the ledger (the source of truth) has `ledger_used` paid in
    the year already. A payment past the annual maximum the ledger counts, which only a
    Redis that lost what it knew can grant, is cut to what is left, or rejected 76 when
    nothing is. Any other decision stands as it is.
    """
    paid = decision.amounts.program_paid
    if decision.status != ClaimStatus.PAID or ledger_used + paid <= evaluation.annual_max:
        return decision
    left = grant(evaluation.requested, ledger_used, evaluation.annual_max)
    return decide(evaluation, used_before=ledger_used, granted=min(paid, left))


def not_processed(claim: Claim, terms_version: str) -> Decision:
    """A claim nobody decided while its D.0 transaction waited (85 Claim Not Processed):
    the pharmacy was told it is rejected, so it is, whatever a worker would have found.
    It tells nothing of the patient's coverage: no rule ran."""
    owed = sum(line.patient_responsibility for line in claim.lines)
    code = reject("not_processed", "85")
    return Decision(
        status=ClaimStatus.REJECTED,
        reject_codes=(code,),
        amounts=Amounts(owed, 0, program_paid=0, patient_pay=owed),
        benefit=None,
        cash_pay=False,
        trace=(TraceEntry(code.rule, "rejected", code.message),),
        messages=(),
        terms_version=terms_version,
    )


# --- amounts --------------------------------------------------------------------


def _exclusion(line: Line, facts: ClaimFacts) -> str | None:
    """Why a line does not count toward eligible (a trace rule id), None when it counts."""
    terms, year = facts.terms, facts.year
    if line.kind == "drug":
        return None if drug_coding(line, terms) else "product"
    if line.code not in terms.covered_service_codes:
        return "service_not_covered"
    if year is not None and year.state.strip().upper() in terms.drug_only_states:
        return "state_drug_only"
    return None


def _eligible(facts: ClaimFacts) -> Cents:
    if facts.year is None:
        return 0
    lines = facts.claim.lines
    return sum(line.patient_responsibility for line in lines if _exclusion(line, facts) is None)


def _exclusions(facts: ClaimFacts) -> tuple[TraceEntry, ...]:
    """One trace entry per exclusion reason, naming the codes it excluded."""
    excluded: dict[str, list[str]] = {}
    for line in facts.claim.lines:
        if (reason := _exclusion(line, facts)) is not None:
            excluded.setdefault(reason, []).append(line.code)
    return tuple(
        TraceEntry(reason, "excluded", _exclusion_message(reason, codes, facts.terms))
        for reason, codes in excluded.items()
    )


def _exclusion_message(reason: str, codes: list[str], terms: Terms) -> str:
    if reason == "state_drug_only":
        states = _and_list(terms.drug_only_states)
        return f"Injection services are not covered for residents of {states}."
    what = "product" if reason == "product" else "service"
    return f"Not a covered {what}, excluded: {', '.join(dict.fromkeys(codes))}."


# --- decisions ------------------------------------------------------------------


def _benefit(evaluation: Evaluation, used_before: Cents, used_after: Cents) -> Benefit | None:
    year = evaluation.year
    if year is None or not evaluation.discloses_coverage:
        return None
    return Benefit(
        year.period_start, year.period_end, evaluation.annual_max, used_before, used_after
    )


def _rejected(
    evaluation: Evaluation,
    used_before: Cents,
    rejects: tuple[RejectCode, ...],
    trace: tuple[TraceEntry, ...],
) -> Decision:
    owed = evaluation.patient_responsibility
    return Decision(
        status=ClaimStatus.REJECTED,
        reject_codes=rejects,
        amounts=Amounts(owed, evaluation.eligible, program_paid=0, patient_pay=owed),
        benefit=_benefit(evaluation, used_before, used_before),
        cash_pay=evaluation.cash_pay,
        trace=trace,
        messages=(),
        terms_version=evaluation.terms_version,
        reviewable_rules=evaluation.reviewable_rules,
    )


def _paid(evaluation: Evaluation, used_before: Cents, granted: Cents) -> Decision:
    owed = evaluation.patient_responsibility
    return Decision(
        status=ClaimStatus.PAID,
        reject_codes=(),
        amounts=Amounts(owed, evaluation.eligible, granted, patient_pay=owed - granted),
        benefit=_benefit(evaluation, used_before, used_before + granted),
        cash_pay=evaluation.cash_pay,
        trace=evaluation.trace + _limits(evaluation, used_before, granted),
        messages=PAID_MESSAGES,
        terms_version=evaluation.terms_version,
    )


def _limits(evaluation: Evaluation, used_before: Cents, granted: Cents) -> tuple[TraceEntry, ...]:
    """The trace of the caps that bound this payment."""
    limits = []
    cap = evaluation.per_rx_max
    if cap is not None and evaluation.eligible > cap and granted == cap:
        text = f"Cash-pay patients receive at most {dollars(cap)} per prescription."
        limits.append(TraceEntry("cash_pay_per_rx_max", "limited", text))
    if granted < evaluation.requested:
        left = max(evaluation.annual_max - used_before, 0)
        text = (
            f"Limited to the {dollars(left)} left of the {dollars(evaluation.annual_max)} "
            "annual maximum for this enrollment year."
        )
        limits.append(TraceEntry("annual_max", "limited", text))
    return tuple(limits)


def dollars(cents: Cents) -> str:
    """Cents for people: 100000 -> "$1,000.00"."""
    whole, part = divmod(cents, 100)
    return f"${whole:,}.{part:02d}"


def _and_list(items: tuple[str, ...]) -> str:
    """("MA", "MN", "RI") -> "MA, MN and RI"."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
