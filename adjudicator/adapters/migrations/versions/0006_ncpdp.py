"""NCPDP D.0: switches (credentials that bill for any registered pharmacy), the door a
claim came through (`channel`), and the paid claim a B3 rebill replaces (`rebill_of`)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "switches",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("api_key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("channel", sa.String(10), nullable=False, server_default="json"))
        batch.add_column(sa.Column("rebill_of", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("rebill_of")
        batch.drop_column("channel")
    op.drop_table("switches")
