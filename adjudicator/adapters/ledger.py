"""Reads and writes of the SQL ledger. Every function takes an open Connection."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from adjudicator.adapters.tables import (
    RELEASE_PENDING_SQL,
    UNDECIDED_SQL,
    claims,
    enrollments,
    events,
    members,
    pharmacies,
    switches,
    terms_versions,
    users,
)


def now() -> datetime:
    return datetime.now(UTC)


# The claim path's statements are built once: building a statement per call (and its
# cache key) costs SQLAlchemy more than SQLite takes to run it.
_PHARMACY_BY_KEY = select(pharmacies).where(pharmacies.c.api_key_hash == bindparam("h"))
_USER_BY_TOKEN = select(users).where(users.c.token_hash == bindparam("h"))
_PHARMACY_BY_NPI = select(pharmacies).where(pharmacies.c.npi == bindparam("npi"))
_SWITCH_BY_KEY = select(switches).where(switches.c.api_key_hash == bindparam("h"))
_SWITCH_BY_NAME = select(switches).where(switches.c.name == bindparam("name"))
_CLAIM_BY_ID = select(claims).where(claims.c.claim_id == bindparam("id"))
_CLAIMS_WITH_KEY = (
    # Only what the duplicate checks need: every column costs on each call (psycopg
    # builds a column description per column and execute).
    select(claims.c.claim_id, claims.c.status, claims.c.request_hash)
    .where(
        claims.c.pharmacy_npi == bindparam("npi"),
        claims.c.rx_number == bindparam("rx"),
        claims.c.fill_number == bindparam("fill"),
        claims.c.date_of_service == bindparam("dos"),
    )
    .order_by(claims.c.seq)
)
_ENROLLMENTS_OF = (
    select(enrollments)
    .where(enrollments.c.cardholder_id == bindparam("cardholder"))
    .order_by(enrollments.c.period_start)
)
_PAID_TWIN = claims.alias("paid_twin")
_CLAIM_TO_DECIDE = (
    select(
        claims,
        pharmacies.c.chain.label("pharmacy_chain"),
        _PAID_TWIN.c.claim_id.label("paid_twin_id"),
        _PAID_TWIN.c.request_hash.label("paid_twin_hash"),
        select(func.count()).select_from(terms_versions).scalar_subquery().label("terms_count"),
        select(func.max(terms_versions.c.created_at)).scalar_subquery().label("terms_changed_at"),
    )
    .outerjoin(pharmacies, pharmacies.c.npi == claims.c.pharmacy_npi)
    .outerjoin(
        _PAID_TWIN,
        and_(
            _PAID_TWIN.c.pharmacy_npi == claims.c.pharmacy_npi,
            _PAID_TWIN.c.rx_number == claims.c.rx_number,
            _PAID_TWIN.c.fill_number == claims.c.fill_number,
            _PAID_TWIN.c.date_of_service == claims.c.date_of_service,
            _PAID_TWIN.c.status == "paid",
            _PAID_TWIN.c.claim_id != claims.c.claim_id,
        ),
    )
    .where(claims.c.claim_id == bindparam("id"))
    # At most one row: the pharmacy is its NPI's, and `paid_key` is unique among claims.
)
_TERMS_DOCUMENTS = select(terms_versions.c.document).order_by(terms_versions.c.effective_date)
_TERMS_GENERATION = select(
    select(func.count()).select_from(terms_versions).scalar_subquery().label("terms_count"),
    select(func.max(terms_versions.c.created_at)).scalar_subquery().label("terms_changed_at"),
)
_INSERT_CLAIM = insert(claims)
_INSERT_EVENT = insert(events)


# --- credentials ---------------------------------------------------------------


def pharmacy_by_key_hash(conn: Connection, key_hash: str) -> Row[Any] | None:
    return conn.execute(_PHARMACY_BY_KEY, {"h": key_hash}).first()


def user_by_token_hash(conn: Connection, token_hash: str) -> Row[Any] | None:
    return conn.execute(_USER_BY_TOKEN, {"h": token_hash}).first()


def user_by_name(conn: Connection, username: str) -> Row[Any] | None:
    return conn.execute(select(users).where(users.c.username == username)).first()


def pharmacy_by_npi(conn: Connection, npi: str) -> Row[Any] | None:
    return conn.execute(_PHARMACY_BY_NPI, {"npi": npi}).first()


def upsert_pharmacy(conn: Connection, npi: str, name: str, chain: str, key_hash: str) -> None:
    values = {"name": name, "chain": chain, "api_key_hash": key_hash}
    if pharmacy_by_npi(conn, npi):
        conn.execute(update(pharmacies).where(pharmacies.c.npi == npi).values(**values))
    else:
        conn.execute(insert(pharmacies).values(npi=npi, created_at=now(), **values))


def switch_by_key_hash(conn: Connection, key_hash: str) -> Row[Any] | None:
    return conn.execute(_SWITCH_BY_KEY, {"h": key_hash}).first()


def switch_by_name(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(_SWITCH_BY_NAME, {"name": name}).first()


def upsert_switch(conn: Connection, name: str, key_hash: str) -> None:
    if switch_by_name(conn, name):
        conn.execute(update(switches).where(switches.c.name == name).values(api_key_hash=key_hash))
    else:
        conn.execute(insert(switches).values(name=name, api_key_hash=key_hash, created_at=now()))


def upsert_user(
    conn: Connection, username: str, role: str, token_hash: str, password_hash: str | None
) -> None:
    values = {"role": role, "token_hash": token_hash, "password_hash": password_hash}
    if user_by_name(conn, username):
        conn.execute(update(users).where(users.c.username == username).values(**values))
    else:
        conn.execute(insert(users).values(username=username, created_at=now(), **values))


# --- members and enrollments -----------------------------------------------------


def member_exists(conn: Connection, cardholder_id: str, *, lock: bool = False) -> bool:
    """Whether the member exists; `lock`: FOR UPDATE, so that enrollments of one member
    are written one at a time (PostgreSQL; SQLite's writers are serialized already)."""
    query = select(members.c.cardholder_id).where(members.c.cardholder_id == cardholder_id)
    found = conn.execute(query.with_for_update() if lock else query).first()
    return found is not None


def insert_member(conn: Connection, cardholder_id: str) -> None:
    conn.execute(insert(members).values(cardholder_id=cardholder_id, created_at=now()))


def enrollments_of(conn: Connection, cardholder_id: str) -> list[Row[Any]]:
    return list(conn.execute(_ENROLLMENTS_OF, {"cardholder": cardholder_id}))


def enrollment(conn: Connection, enrollment_id: str, *, lock: bool = False) -> Row[Any] | None:
    """One enrollment year; `lock`: FOR UPDATE, until the transaction ends (PostgreSQL;
    SQLite's writers are serialized already)."""
    query = select(enrollments).where(enrollments.c.enrollment_id == enrollment_id)
    return conn.execute(query.with_for_update() if lock else query).first()


_LOCK_ENROLLMENT = (
    select(enrollments.c.enrollment_id)
    .where(enrollments.c.enrollment_id == bindparam("id"))
    .with_for_update()
)


def lock_enrollment(conn: Connection, enrollment_id: str) -> None:
    """FOR UPDATE on one enrollment year's row, its key alone read (PostgreSQL; SQLite's
    writers are serialized already and ignore FOR UPDATE)."""
    conn.execute(_LOCK_ENROLLMENT, {"id": enrollment_id})


def insert_enrollment(conn: Connection, **values: Any) -> None:
    stamp = now()
    conn.execute(insert(enrollments).values(created_at=stamp, updated_at=stamp, **values))


def update_enrollment(conn: Connection, enrollment_id: str, **values: Any) -> None:
    conn.execute(
        update(enrollments)
        .where(enrollments.c.enrollment_id == enrollment_id)
        .values(updated_at=now(), **values)
    )


# --- claims ---------------------------------------------------------------------


def insert_claim(conn: Connection, **values: Any) -> None:
    conn.execute(_INSERT_CLAIM, {"created_at": now(), **values})


def claim_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Claims by (channel, status): what /metrics shows of the ledger."""
    query = select(claims.c.channel, claims.c.status, func.count()).group_by(
        claims.c.channel, claims.c.status
    )
    return {(channel, status): int(n) for channel, status, n in conn.execute(query)}


def discard_received_claim(conn: Connection, claim_id: str) -> bool:
    """Delete a claim still `received` and its events; False when it is decided already."""
    gone = conn.execute(
        delete(claims).where(claims.c.claim_id == claim_id, claims.c.status == "received")
    ).rowcount
    if gone:
        conn.execute(
            delete(events).where(events.c.entity_type == "claim", events.c.entity_id == claim_id)
        )
    return gone == 1


def claim(conn: Connection, claim_id: str, *, lock: bool = False) -> Row[Any] | None:
    """One claim; `lock`: FOR UPDATE, until the transaction ends (PostgreSQL; SQLite's
    writers are serialized already)."""
    query = _CLAIM_BY_ID.with_for_update() if lock else _CLAIM_BY_ID
    return conn.execute(query, {"id": claim_id}).first()


def claim_to_decide(conn: Connection, claim_id: str) -> Row[Any] | None:
    """The claim and, in the same read, what deciding it needs from other rows:
    `pharmacy_chain`, the paid claim with its NCPDP key (`paid_twin_id`,
    `paid_twin_hash`, None when there is none), and the terms versions' generation
    (`terms_count`, `terms_changed_at`)."""
    return conn.execute(_CLAIM_TO_DECIDE, {"id": claim_id}).first()


def claims_with_key(conn: Connection, npi: str, rx: str, fill: int, dos: date) -> list[Row[Any]]:
    """Claims sharing the NCPDP key (pharmacy, Rx, fill, date of service), oldest first:
    claim_id, status and request_hash of each."""
    params = {"npi": npi, "rx": rx, "fill": fill, "dos": dos}
    return list(conn.execute(_CLAIMS_WITH_KEY, params))


def set_claim_outcome(
    conn: Connection, claim_id: str, from_status: str, *, review_open: bool = False, **values: Any
) -> bool:
    """Move a claim on from `from_status`; False when another worker got there first."""
    statement = _outcome_statement(review_open, tuple(sorted(values)))
    params = {"w_id": claim_id, "w_from": from_status}
    params.update({f"v_{column}": value for column, value in values.items()})
    return conn.execute(statement, params).rowcount == 1


@lru_cache(maxsize=64)
def _outcome_statement(review_open: bool, columns: tuple[str, ...]) -> Any:
    query = update(claims).where(
        claims.c.claim_id == bindparam("w_id"), claims.c.status == bindparam("w_from")
    )
    if review_open:
        query = query.where(claims.c.review_state == "open")
    return query.values({column: bindparam(f"v_{column}") for column in columns})


RELEASE_PENDING = text(RELEASE_PENDING_SQL)  # the words of the partial index, to use it


def reversals_to_release(conn: Connection, limit: int = 500) -> list[Row[Any]]:
    """(claim_id, cardholder_id) of reversed claims whose grant Redis has not given back."""
    query = select(claims.c.claim_id, claims.c.cardholder_id).where(RELEASE_PENDING)
    return list(conn.execute(query.limit(limit)))


def mark_released(conn: Connection, claim_id: str) -> None:
    query = update(claims).where(claims.c.claim_id == claim_id, claims.c.released_at.is_(None))
    conn.execute(query.values(released_at=now()))


def paid_in_year(conn: Connection, cardholder_id: str, enrollment_id: str) -> int:
    """What the ledger has paid in one enrollment year, in cents."""
    query = select(func.coalesce(func.sum(claims.c.program_paid), 0)).where(
        claims.c.cardholder_id == cardholder_id,
        claims.c.enrollment_id == enrollment_id,
        claims.c.status == "paid",
    )
    return int(conn.execute(query).scalar_one())


# A pharmacy's undecided claims, counted up to a cap, from ix_claims_undecided alone: its
# condition is spelled as the index spells it, so both SQLite and PostgreSQL use it.
_UNDECIDED = select(func.count()).select_from(
    select(claims.c.seq)
    .where(claims.c.pharmacy_npi == bindparam("npi"), text(UNDECIDED_SQL))
    .limit(bindparam("at_most"))
    .subquery()
)


def undecided(conn: Connection, npi: str, at_most: int) -> int:
    """How many of the pharmacy's claims are still `received`, counting up to `at_most`."""
    return int(conn.execute(_UNDECIDED, {"npi": npi, "at_most": at_most}).scalar_one())


def stale_received(conn: Connection, before: datetime, limit: int = 500) -> list[str]:
    query = (
        select(claims.c.claim_id)
        .where(claims.c.status == "received", claims.c.created_at < before)
        .order_by(claims.c.seq)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def list_claims(
    conn: Connection,
    *,
    npi: str | None,
    cardholder_id: str | None,
    status: str | None,
    review_open: bool,
    date_from: date | None,
    date_to: date | None,
    limit: int,
    after_seq: int | None,
) -> list[Row[Any]]:
    conditions = []
    if npi:
        conditions.append(claims.c.pharmacy_npi == npi)
    if cardholder_id:
        conditions.append(claims.c.cardholder_id == cardholder_id)
    if status:
        conditions.append(claims.c.status == status)
    if review_open:
        conditions.append(claims.c.review_state == "open")
    if date_from:
        conditions.append(claims.c.date_of_service >= date_from)
    if date_to:
        conditions.append(claims.c.date_of_service <= date_to)
    # The review queue is served oldest first; everything else newest first.
    order = claims.c.seq if review_open else claims.c.seq.desc()
    if after_seq is not None:
        conditions.append(claims.c.seq > after_seq if review_open else claims.c.seq < after_seq)
    query = select(claims).where(and_(True, *conditions)).order_by(order).limit(limit)
    return list(conn.execute(query))


_AMOUNT_COLUMNS = (
    claims.c.claim_id,
    claims.c.cardholder_id,
    claims.c.enrollment_id,
    claims.c.status,
    claims.c.program_paid,
    claims.c.decision,
)


def granted_claims(conn: Connection) -> Iterable[Row[Any]]:
    """Claims that hold (paid) or held (reversed) a grant of the accumulator."""
    query = select(*_AMOUNT_COLUMNS).where(
        or_(claims.c.status == "paid", claims.c.status == "reversed")
    )
    return conn.execute(query.order_by(claims.c.cardholder_id, claims.c.seq))


def claims_in_year(conn: Connection, cardholder_id: str, enrollment_id: str) -> list[Row[Any]]:
    """The decided claims of one enrollment year, in the order they came."""
    query = select(*_AMOUNT_COLUMNS).where(
        claims.c.cardholder_id == cardholder_id, claims.c.enrollment_id == enrollment_id
    )
    return list(conn.execute(query.order_by(claims.c.seq)))


# --- events and terms -------------------------------------------------------------


def add_event(
    conn: Connection,
    *,
    actor: str,
    entity_type: str,
    entity_id: str,
    cardholder_id: str | None,
    type: str,
    data: dict[str, Any],
) -> None:
    conn.execute(
        _INSERT_EVENT,
        {
            "at": now(),
            "actor": actor,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "cardholder_id": cardholder_id,
            "type": type,
            "data": data,
        },
    )


def events_of(conn: Connection, entity_type: str, entity_id: str) -> list[Row[Any]]:
    query = (
        select(events)
        .where(events.c.entity_type == entity_type, events.c.entity_id == entity_id)
        .order_by(events.c.seq)
    )
    return list(conn.execute(query))


def terms_documents(conn: Connection) -> list[dict[str, Any]]:
    return list(conn.execute(_TERMS_DOCUMENTS).scalars())


def terms_generation(conn: Connection) -> tuple[Any, ...]:
    """(`terms_count`, `terms_changed_at`), as claim_to_decide reads them."""
    row = conn.execute(_TERMS_GENERATION).one()
    return (row.terms_count, row.terms_changed_at)


def insert_terms(
    conn: Connection,
    version: str,
    effective: date,
    doc: dict[str, Any],
    created_by: str = "system",
) -> None:
    conn.execute(
        insert(terms_versions).values(
            version=version,
            effective_date=effective,
            document=doc,
            created_at=now(),
            created_by=created_by,
        )
    )


def terms_version_exists(conn: Connection, version: str) -> bool:
    query = select(terms_versions.c.version).where(terms_versions.c.version == version)
    return conn.execute(query).first() is not None


def audit_events(
    conn: Connection,
    *,
    cardholder_id: str | None,
    claim_id: str | None,
    limit: int,
    after_seq: int | None,
) -> list[Row[Any]]:
    """Events oldest first, optionally of one cardholder and/or one claim."""
    query = select(events).order_by(events.c.seq).limit(limit)
    if cardholder_id:
        query = query.where(events.c.cardholder_id == cardholder_id)
    if claim_id:
        query = query.where(events.c.entity_type == "claim", events.c.entity_id == claim_id)
    if after_seq is not None:
        query = query.where(events.c.seq > after_seq)
    return list(conn.execute(query))


# What a de-identified row reads of a claim (the export, the manufacturer's invoice).
EXPORT_COLUMNS = (
    claims.c.cardholder_id,
    claims.c.date_of_service,
    claims.c.status,
    claims.c.decision,
    pharmacies.c.chain,
    enrollments.c.facts,
    enrollments.c.cash_pay,
)


def claims_for_export(conn: Connection, year: int) -> Iterable[Row[Any]]:
    """Decided claims served in `year` (a duplicate's original stands for it), in the order
    they came, with what a de-identified row needs: the pharmacy's chain and the claim's
    enrollment year's facts (or None)."""
    query = (
        select(*EXPORT_COLUMNS)
        .join(pharmacies, pharmacies.c.npi == claims.c.pharmacy_npi)
        .outerjoin(enrollments, enrollments.c.enrollment_id == claims.c.enrollment_id)
        .where(
            claims.c.date_of_service.between(date(year, 1, 1), date(year, 12, 31)),
            claims.c.status.not_in(("received", "duplicate")),  # a duplicate is its original
        )
        .order_by(claims.c.seq)
    )
    return conn.execute(query)


def claims_with_rx(conn: Connection, rx_numbers: Iterable[str], limit: int) -> list[Row[Any]]:
    """Claims with any of these Rx numbers, newest first."""
    query = (
        select(claims)
        .where(claims.c.rx_number.in_(set(rx_numbers)))
        .order_by(claims.c.seq.desc())
        .limit(limit)
    )
    return list(conn.execute(query))
