"""Alembic environment: runs synchronously on the URL the caller put in `config.attributes`."""

from alembic import context
from sqlalchemy import create_engine, pool, text
from sqlmodel import SQLModel

from storage import models  # noqa: F401  (registers the tables on the metadata)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    url = config.attributes["url"]
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Two replicas starting together must not both run the same migration.
            connection.execute(text("SELECT pg_advisory_lock(hashtext('breachroom-migrations'))"))
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
