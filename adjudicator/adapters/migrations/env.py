"""Alembic environment: the URL comes from our Config, never from alembic.ini."""

from alembic import context

from adjudicator.adapters.tables import metadata


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
