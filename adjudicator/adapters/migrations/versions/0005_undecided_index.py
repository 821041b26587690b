"""ix_claims_undecided: a pharmacy's claims still `received`, counted before each of its
asynchronous claims (ADJUDICATOR_MAX_UNDECIDED)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_UNDECIDED = sa.text("status = 'received'")


def upgrade() -> None:
    # Partial: it holds the claims not yet decided only, a few per pharmacy at most times.
    op.create_index(
        "ix_claims_undecided",
        "claims",
        ["pharmacy_npi"],
        sqlite_where=_UNDECIDED,
        postgresql_where=_UNDECIDED,
    )


def downgrade() -> None:
    op.drop_index("ix_claims_undecided", table_name="claims")
