"""claims.reversed_at: when a claim was reversed, so the sweep can finish recent reversals

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_claims_reversed_at", ["reversed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index("ix_claims_reversed_at")
        batch_op.drop_column("reversed_at")
