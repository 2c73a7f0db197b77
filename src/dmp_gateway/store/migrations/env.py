"""Alembic environment: plain SQL migrations, serialized by an advisory lock."""

from alembic import context
from sqlalchemy import create_engine, text

_LOCK_KEY = 74_201_001  # any constant shared by every dmp-gateway process


def run_migrations_online() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        connection.execute(text("select pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        connection.commit()
        try:
            context.configure(connection=connection, transaction_per_migration=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("select pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            connection.commit()
    engine.dispose()


run_migrations_online()
