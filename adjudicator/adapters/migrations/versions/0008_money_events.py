"""money_events: every change to what the program owes a pharmacy (PAYMENTS.md), in the
transaction that makes it; claims decided before it get theirs from their current state

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "money_events",
        sa.Column("seq", _Serial, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_id", sa.String(40), nullable=False),
        sa.Column("pharmacy_npi", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("cycle_id", sa.String(40)),
    )
    op.create_index("ix_money_events_claim", "money_events", ["claim_id"])
    op.create_index("ix_money_events_cycle", "money_events", ["cycle_id", "at"])
    # A ledger decided before this table: a paid or reversed claim was paid once at its
    # decision (its amount now: re-adjudication may have changed it), and a reversed one
    # given back at its reversal, so every claim's events sum to what is owed now.
    op.execute(
        "INSERT INTO money_events (at, claim_id, pharmacy_npi, kind, amount) "
        "SELECT COALESCE(decided_at, created_at), claim_id, pharmacy_npi, 'payment', "
        "program_paid FROM claims "
        "WHERE status IN ('paid', 'reversed') AND program_paid > 0 ORDER BY seq"
    )
    op.execute(
        "INSERT INTO money_events (at, claim_id, pharmacy_npi, kind, amount) "
        "SELECT COALESCE(reversed_at, decided_at, created_at), claim_id, pharmacy_npi, "
        "'reversal', -program_paid FROM claims "
        "WHERE status = 'reversed' AND program_paid > 0 ORDER BY seq"
    )


def downgrade() -> None:
    op.drop_index("ix_money_events_cycle", table_name="money_events")
    op.drop_index("ix_money_events_claim", table_name="money_events")
    op.drop_table("money_events")
