"""payment_cycles and remittances (PAYMENTS.md): the money events closed through a
moment, and what each pharmacy is sent or still owes

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payment_cycles",
        sa.Column("seq", _Serial, primary_key=True, autoincrement=True),
        sa.Column("cycle_id", sa.String(40), nullable=False, unique=True),
        sa.Column("through", sa.DateTime(timezone=True), nullable=False, unique=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(120), nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("pharmacies", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("sent", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "remittances",
        sa.Column("seq", _Serial, primary_key=True, autoincrement=True),
        sa.Column("remittance_id", sa.String(40), nullable=False, unique=True),
        sa.Column("cycle_id", sa.String(40), nullable=False),
        sa.Column("npi", sa.String(10), nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("balance_forward", sa.BigInteger, nullable=False),
        sa.Column("payment", sa.BigInteger, nullable=False),
        sa.Column("owed", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_remittances_cycle", "remittances", ["cycle_id", "npi"], unique=True)
    op.create_index("ix_remittances_npi", "remittances", ["npi", "seq"])


def downgrade() -> None:
    op.drop_index("ix_remittances_npi", table_name="remittances")
    op.drop_index("ix_remittances_cycle", table_name="remittances")
    op.drop_table("remittances")
    op.drop_table("payment_cycles")
