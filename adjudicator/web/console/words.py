"""Numbers, dates, rules and events in the words a hub reviewer reads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Flask

from adjudicator.domain.outcomes import ClaimStatus, ReviewState

RULES = {
    "duplicate": (
        "Duplicate",
        "Another paid claim has the same pharmacy, Rx number, fill number and date of service.",
    ),
    "cardholder": ("Cardholder", "No member has this cardholder id."),
    "date_of_birth": (
        "Date of birth",
        "The date of birth on the claim differs from the one on the enrollment.",
    ),
    "coverage_dates": ("Coverage dates", "No enrollment year covers the date of service."),
    "enrollment_eligible": (
        "Enrollment",
        "The patient's enrollment year is ineligible (see its reasons on the member page).",
    ),
    "network": (
        "Pharmacy network",
        "The pharmacy is not in the program's closed specialty-pharmacy network.",
    ),
    "product": ("Product", "No line is a covered INCRELEX drug line (NDC or HCPCS J2170)."),
    "other_coverage": (
        "Other coverage",
        "The other-coverage details do not let the program pay this claim.",
    ),
    "patient_age": (
        "Patient age",
        "The patient was younger than the program's minimum age (2 years) on the date of "
        "service. A reviewer may approve it.",
    ),
    "dose": (
        "Dose",
        "The daily dose is above the maximum per kilogram for the weight on the enrollment. "
        "A reviewer may approve it.",
    ),
    "annual_max": ("Annual maximum", "The enrollment year's maximum benefit bounds this claim."),
    "state_drug_only": (
        "Drug only in this state",
        "Injection services are not covered where the patient lives.",
    ),
    "service_not_covered": ("Service not covered", "A service line's code is not covered."),
    "cash_pay_per_rx_max": (
        "Cash-pay limit",
        "Cash-pay patients receive at most the per-prescription maximum.",
    ),
}
OUTCOMES = {"rejected": "Rejected", "excluded": "Left out", "limited": "Limited"}
REVIEWABLE = ("patient_age", "dose")
STATUSES = {
    ClaimStatus.RECEIVED: "Being decided",
    ClaimStatus.PAID: "Paid",
    ClaimStatus.REJECTED: "Rejected",
    ClaimStatus.DUPLICATE: "Duplicate",
    ClaimStatus.REVERSED: "Reversed",
    "active": "Active",
    "ineligible": "Ineligible",
    ReviewState.OPEN: "Review open",
    ReviewState.APPROVED: "Approved",
    ReviewState.DENIED: "Denied",
    "queued": "Queued",
    "running": "Running",
    "succeeded": "Succeeded",
    "failed": "Failed",
}
CHANNELS = {
    "json": "JSON API",
    "ncpdp": "NCPDP D.0 (a pharmacy system, through a switch)",
}
MODES = {
    "dry_run": "Dry run (changes nothing)",
    "apply": "Apply (writes the new decisions)",
}
COVERAGE_TYPES = {
    "commercial": "Commercial insurance",
    "uninsured": "Uninsured (cash pay)",
    "medicare_part_b": "Medicare Part B",
    "medicare_part_d": "Medicare Part D",
    "medicaid": "Medicaid",
    "medigap": "Medigap",
    "va": "VA",
    "dod": "DoD",
    "tricare": "TRICARE",
    "other_government": "Other government program",
}
FIELD_LABELS = {
    "cardholder_id": "Cardholder id",
    "effective_date": "Effective date",
    "patient.first_name": "First name",
    "patient.last_name": "Last name",
    "patient.date_of_birth": "Date of birth",
    "patient.sex": "Sex",
    "patient.address.line1": "Street address",
    "patient.address.line2": "Address line 2",
    "patient.address.city": "City",
    "patient.address.state": "State",
    "patient.address.zip": "ZIP code",
    "patient.address.country": "Country",
    "coverage.type": "Coverage type",
    "coverage.covers_product": "The insurance covers INCRELEX",
    "coverage.payer_name": "Payer name",
    "coverage.bin": "BIN",
    "coverage.pcn": "PCN",
    "attestations.government_program": "Government program",
    "attestations.other_assistance": "Other assistance",
    "weight_kg": "Weight (kg)",
    "date_from": "Dates of service from",
    "date_to": "Dates of service to",
    "mode": "Mode",
}


def money(cents: int | None) -> str:
    """Cents for people: 150000 -> "$1,500.00"."""
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{part:02d}"


def age(seconds: int) -> str:
    """How long an item has waited: "<1 min", "12 min", "3 h", "2 d"."""
    if seconds < 60:
        return "<1 min"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def day(value: date | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return value.isoformat()


def moment(value: datetime | str | None) -> str:
    """A timestamp in UTC, to the minute."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def channel(value: str | None) -> str:
    """The door a claim came through, as a reviewer reads it."""
    return CHANNELS.get(value or "json", value or "")


def rule_name(rule: str) -> str:
    return RULES.get(rule, (rule.replace("_", " ").capitalize(), ""))[0]


def rule_text(rule: str) -> str:
    return RULES.get(rule, ("", ""))[1]


def share(used: int, total: int) -> float:
    """Percent of `total` used, 0-100, for drawing a bar."""
    return 0.0 if total <= 0 else round(min(max(used / total, 0.0), 1.0) * 100, 1)


def event_text(event: dict[str, Any]) -> str:
    """One line of a claim's timeline."""
    actor, kind = event["actor"] or "system", event["type"]
    if kind == "readjudicated":
        return _readjudicated_text(event["data"])
    data = event["data"].get("after", event["data"])  # writes record before and after
    if kind == "received":
        return f"Received from pharmacy NPI {_who(actor)}"
    if kind == "decided":
        status = STATUSES.get(data.get("status", ""), data.get("status", "decided"))
        paid = data.get("program_paid")
        return f"Decided: {status}" + (f", program paid {money(paid)}" if paid else "")
    if kind in ("review_approved", "review_denied"):
        verb = "approved" if kind == "review_approved" else "denied"
        return f"Review {verb} by {_who(actor)}"
    if kind == "reversed":
        return f"Reversed by {_who(actor)}: {money(data.get('released', 0))} given back to the year"
    if kind == "duplicate":
        return "Marked as a duplicate of a paid claim"
    return kind.replace("_", " ").capitalize() + f" by {_who(actor)}"


def _readjudicated_text(data: dict[str, Any]) -> str:
    """ "Re-adjudicated by job 3f…: Paid $1,000.00 → Paid $800.00"."""

    def outcome(side: Any) -> str:
        side = side if isinstance(side, dict) else {}
        status = side.get("status") or ""
        text = STATUSES.get(status, status.replace("_", " ").capitalize() or "—")
        paid = side.get("program_paid")
        return f"{text} {money(paid)}" if paid or status == ClaimStatus.PAID else text

    job = data.get("job_id")
    who = f" by job {job}" if job else ""
    return f"Re-adjudicated{who}: {outcome(data.get('before'))} → {outcome(data.get('after'))}"


def _who(actor: str) -> str:
    for prefix in ("user:", "pharmacy:"):
        if actor.startswith(prefix):
            return actor[len(prefix) :]
    return actor


def register(app: Flask) -> None:
    app.add_template_filter(money, "money")
    app.add_template_filter(age, "age")
    app.add_template_filter(day, "day")
    app.add_template_filter(moment, "moment")
    app.add_template_filter(channel, "channel")
    app.add_template_filter(rule_name, "rule_name")
    app.add_template_filter(rule_text, "rule_text")
    app.add_template_filter(event_text, "event_text")
    app.add_template_global(share, "share")
    app.jinja_env.globals.update(
        OUTCOMES=OUTCOMES,
        STATUSES=STATUSES,
        COVERAGE_TYPES=COVERAGE_TYPES,
        REVIEWABLE=REVIEWABLE,
        FIELD_LABELS=FIELD_LABELS,
        MODES=MODES,
    )
