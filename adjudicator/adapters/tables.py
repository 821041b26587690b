"""The ledger's tables (SQLAlchemy Core). SQL is the source of truth."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    text,
)

metadata = MetaData()
RELEASE_PENDING_SQL = "reversed_at IS NOT NULL AND released_at IS NULL"
UNDECIDED_SQL = "status = 'received'"

# BigInteger autoincrement keys stay INTEGER PRIMARY KEY on SQLite (rowid).
_Serial = BigInteger().with_variant(Integer(), "sqlite")

pharmacies = Table(
    "pharmacies",
    metadata,
    Column("npi", String(10), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("chain", String(100), nullable=False),
    Column("api_key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Switches bill for any registered pharmacy, over POST /ncpdp/d0 or the D.0 socket.
switches = Table(
    "switches",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("api_key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("username", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("password_hash", String(300)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

members = Table(
    "members",
    metadata,
    Column("cardholder_id", String(40), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

enrollments = Table(
    "enrollments",
    metadata,
    Column("enrollment_id", String(40), primary_key=True),
    Column("cardholder_id", String(40), ForeignKey("members.cardholder_id"), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("cash_pay", Boolean, nullable=False),
    Column("facts", JSON, nullable=False),  # patient, coverage, attestations, weight
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_enrollments_cardholder", "cardholder_id", "period_start"),
)

claims = Table(
    "claims",
    metadata,
    Column("seq", _Serial, primary_key=True, autoincrement=True),
    Column("claim_id", String(40), nullable=False, unique=True),
    Column("pharmacy_npi", String(10), ForeignKey("pharmacies.npi"), nullable=False),
    Column("cardholder_id", String(40), nullable=False),
    Column("rx_number", String(40), nullable=False),
    Column("fill_number", Integer, nullable=False),
    Column("date_of_service", Date, nullable=False),
    Column("request", JSON, nullable=False),  # normalized request
    Column("request_hash", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("decision", JSON),
    Column("enrollment_id", String(40)),
    Column("program_paid", BigInteger, nullable=False, default=0),
    Column("authorization_number", String(20)),
    # Set only while the claim is paid (cleared on reversal): at most one paid claim
    # per NCPDP key, enforced by the database even when two workers race.
    Column("paid_key", String(120), unique=True),
    Column("duplicate_of", String(40)),
    Column("review_state", String(20)),
    Column("review", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    # A reversal is written here first, then Redis gives the grant back (released_at):
    # the sweep finishes every reversal still pending (decisions.md #78).
    Column("reversed_at", DateTime(timezone=True)),
    Column("released_at", DateTime(timezone=True)),
    # The door the claim came through: "json" (POST /v1/claims) or "ncpdp" (D.0).
    Column("channel", String(10), nullable=False, server_default="json"),
    # A B3 rebill: the paid claim it replaces, reversed in the transaction that pays it.
    Column("rebill_of", String(40)),
    Index("ix_claims_key", "pharmacy_npi", "rx_number", "fill_number", "date_of_service"),
    Index("ix_claims_cardholder", "cardholder_id", "seq"),
    # A year's paid sum, for the ledger guard on every payment (migration 0004).
    Index("ix_claims_year", "cardholder_id", "enrollment_id", "status", "program_paid"),
    Index("ix_claims_status_created", "status", "created_at"),
    Index("ix_claims_review", "review_state", "seq"),
    Index(
        "ix_claims_release_pending",
        "reversed_at",
        sqlite_where=text(RELEASE_PENDING_SQL),
        postgresql_where=text(RELEASE_PENDING_SQL),
    ),
    # Partial: only the claims not yet decided, a pharmacy's count of which caps its
    # asynchronous claims (decisions.md #93); a claim leaves it when it is decided.
    Index(
        "ix_claims_undecided",
        "pharmacy_npi",
        sqlite_where=text(UNDECIDED_SQL),
        postgresql_where=text(UNDECIDED_SQL),
    ),
)

events = Table(
    "events",
    metadata,
    Column("seq", _Serial, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("entity_type", String(20), nullable=False),  # "claim" | "enrollment"
    Column("entity_id", String(40), nullable=False),
    Column("cardholder_id", String(40)),
    Column("type", String(40), nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_events_entity", "entity_type", "entity_id", "seq"),
    Index("ix_events_cardholder", "cardholder_id", "seq"),
)

# Every change to what the program owes a pharmacy for a claim (PAYMENTS.md), written in
# the transaction that makes it; a payment cycle takes the ones not yet in a cycle.
money_events = Table(
    "money_events",
    metadata,
    Column("seq", _Serial, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("claim_id", String(40), nullable=False),
    Column("pharmacy_npi", String(10), nullable=False),
    Column("kind", String(20), nullable=False),  # payment | reversal | adjustment
    Column("amount", BigInteger, nullable=False),  # signed cents
    Column("cycle_id", String(40)),
    Index("ix_money_events_claim", "claim_id"),
    Index("ix_money_events_cycle", "cycle_id", "at"),
)

# A payment cycle: the money events recorded through a moment, closed once.
payment_cycles = Table(
    "payment_cycles",
    metadata,
    Column("seq", _Serial, primary_key=True, autoincrement=True),
    Column("cycle_id", String(40), nullable=False, unique=True),
    Column("through", DateTime(timezone=True), nullable=False, unique=True),
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Column("closed_by", String(120), nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("pharmacies", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),  # signed cents
    Column("sent", BigInteger, nullable=False),
)

# One per pharmacy with events in a cycle; its lines are the cycle's events of its claims.
remittances = Table(
    "remittances",
    metadata,
    Column("seq", _Serial, primary_key=True, autoincrement=True),
    Column("remittance_id", String(40), nullable=False, unique=True),
    Column("cycle_id", String(40), nullable=False),
    Column("npi", String(10), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("balance_forward", BigInteger, nullable=False),
    Column("payment", BigInteger, nullable=False),
    Column("owed", BigInteger, nullable=False),
    Index("ix_remittances_cycle", "cycle_id", "npi", unique=True),
    Index("ix_remittances_npi", "npi", "seq"),
)

terms_versions = Table(
    "terms_versions",
    metadata,
    Column("version", String(40), primary_key=True),
    Column("effective_date", Date, nullable=False),
    Column("document", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(120), nullable=False),
)

# --- batch re-adjudication (issue 4) -----------------------------------------------

# Jobs select claims by date of service; this index serves the scope and the count.
Index("ix_claims_date_of_service", claims.c.date_of_service)

readjudication_jobs = Table(
    "readjudication_jobs",
    metadata,
    Column("job_id", String(40), primary_key=True),
    Column("mode", String(10), nullable=False),  # "dry_run" | "apply"
    Column("status", String(20), nullable=False),  # queued | running | succeeded | failed
    Column("date_from", Date, nullable=False),
    Column("date_to", Date, nullable=False),
    Column("cardholder_id", String(40)),
    # progress, in claims of the window (paid and rejected)
    Column("total", BigInteger, nullable=False, default=0),
    Column("done", BigInteger, nullable=False, default=0),
    # the summary so far, money in cents
    Column("unchanged", BigInteger, nullable=False, default=0),
    Column("changed", BigInteger, nullable=False, default=0),
    Column("program_paid_before", BigInteger, nullable=False, default=0),
    Column("program_paid_after", BigInteger, nullable=False, default=0),
    # the last cardholder whose patient-years are done: a redelivered task resumes after it
    Column("resume_after", String(40)),
    # the worker running the job holds a lease it renews with every chunk
    Column("runner", String(40)),
    Column("lease_until", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", String(1000)),
    Column("created_by", String(120), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_readjudication_jobs_created", "created_at"),
)

# The cardholders a job covers, listed once when it starts: chunks page through this table
# (memory flat in the ledger's size); the rows go when the job ends.
readjudication_scope = Table(
    "readjudication_scope",
    metadata,
    Column("job_id", String(40), ForeignKey("readjudication_jobs.job_id"), primary_key=True),
    Column("cardholder_id", String(40), primary_key=True),
)

readjudication_changes = Table(
    "readjudication_changes",
    metadata,
    Column("seq", _Serial, primary_key=True, autoincrement=True),
    Column("job_id", String(40), ForeignKey("readjudication_jobs.job_id"), nullable=False),
    Column("claim_id", String(40), nullable=False),
    Column("cardholder_id", String(40), nullable=False),
    Column("enrollment_id", String(40)),
    Column("date_of_service", Date, nullable=False),
    Column("before_status", String(20), nullable=False),
    Column("before_program_paid", BigInteger, nullable=False),
    Column("after_status", String(20), nullable=False),
    Column("after_program_paid", BigInteger, nullable=False),
    Index("ix_readjudication_changes_job", "job_id", "seq"),
)
