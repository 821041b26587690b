"""claims.reversed_at and released_at: a reversal is written first, Redis follows, and the
sweep finishes any reversal whose release is still pending

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_PENDING = sa.text("reversed_at IS NOT NULL AND released_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
    # Partial: it holds the few reversals still pending, so it is built and kept cheaply.
    op.create_index(
        "ix_claims_release_pending",
        "claims",
        ["reversed_at"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_claims_release_pending", table_name="claims")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_column("released_at")
        batch_op.drop_column("reversed_at")
