"""claims by cardholder, enrollment year and status: the ledger guard sums a year's paid
claims in the transaction that records every payment

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # program_paid last: the year's sum is read from the index alone. Without it SQLite
    # (no statistics) chose ix_claims_status_created and scanned every paid claim.
    op.create_index(
        "ix_claims_year", "claims", ["cardholder_id", "enrollment_id", "status", "program_paid"]
    )


def downgrade() -> None:
    op.drop_index("ix_claims_year", table_name="claims")
