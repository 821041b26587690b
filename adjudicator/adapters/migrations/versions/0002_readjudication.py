"""batch re-adjudication: jobs, their scope and changed claims; claims by date of service

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "readjudication_jobs",
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("cardholder_id", sa.String(length=40), nullable=True),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("done", sa.BigInteger(), nullable=False),
        sa.Column("unchanged", sa.BigInteger(), nullable=False),
        sa.Column("changed", sa.BigInteger(), nullable=False),
        sa.Column("program_paid_before", sa.BigInteger(), nullable=False),
        sa.Column("program_paid_after", sa.BigInteger(), nullable=False),
        sa.Column("resume_after", sa.String(length=40), nullable=True),
        sa.Column("runner", sa.String(length=40), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id"),
    )
    with op.batch_alter_table("readjudication_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_readjudication_jobs_created", ["created_at"], unique=False)

    op.create_table(
        "readjudication_scope",
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("cardholder_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["readjudication_jobs.job_id"]),
        sa.PrimaryKeyConstraint("job_id", "cardholder_id"),
    )

    op.create_table(
        "readjudication_changes",
        sa.Column("seq", _Serial, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("claim_id", sa.String(length=40), nullable=False),
        sa.Column("cardholder_id", sa.String(length=40), nullable=False),
        sa.Column("enrollment_id", sa.String(length=40), nullable=True),
        sa.Column("date_of_service", sa.Date(), nullable=False),
        sa.Column("before_status", sa.String(length=20), nullable=False),
        sa.Column("before_program_paid", sa.BigInteger(), nullable=False),
        sa.Column("after_status", sa.String(length=20), nullable=False),
        sa.Column("after_program_paid", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["readjudication_jobs.job_id"]),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("readjudication_changes", schema=None) as batch_op:
        batch_op.create_index("ix_readjudication_changes_job", ["job_id", "seq"], unique=False)

    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index("ix_claims_date_of_service", ["date_of_service"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index("ix_claims_date_of_service")
    op.drop_table("readjudication_changes")
    op.drop_table("readjudication_scope")
    op.drop_table("readjudication_jobs")
