"""The terms documents gain `routing` (BIN, PCN, group of NCPDP D.0): stored versions
written before it take it by the rule a version posted without it follows

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# What 2020-01 answers (NCPDP.md, Routing): the routing of a ledger's earliest version
# when it has none, as every version stored before this revision is.
FIRST_ROUTING = {"bin": "999999", "pcn": "IPSENCARES", "group_id": "IPSENCARES"}

_terms = sa.table(
    "terms_versions",
    sa.column("version", sa.String),
    sa.column("effective_date", sa.Date),
    sa.column("document", sa.JSON),
)


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_terms.c.version, _terms.c.document).order_by(
            _terms.c.effective_date, _terms.c.version
        )
    ).all()
    # Oldest first, as the domain orders versions (effective date, then version name): a
    # version without routing takes that of the latest version on or before it.
    routing = FIRST_ROUTING
    for version, document in rows:
        if document.get("routing") is not None:
            routing = document["routing"]
            continue
        conn.execute(
            _terms.update()
            .where(_terms.c.version == version)
            .values(document={**document, "routing": routing})
        )


def downgrade() -> None:
    # The code before this revision refuses a document with a field it does not know.
    conn = op.get_bind()
    for version, document in conn.execute(sa.select(_terms.c.version, _terms.c.document)):
        if "routing" in document:
            stripped = {key: value for key, value in document.items() if key != "routing"}
            conn.execute(
                _terms.update().where(_terms.c.version == version).values(document=stripped)
            )
