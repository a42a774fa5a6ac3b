"""Alembic owns the schema. Batch mode for SQLite; foreign keys off while tables are rebuilt."""

from alembic import context
from sqlalchemy import text

import app.models  # noqa: F401 - registers every table on the metadata
from app.config import settings
from app.db import SQLModel, make_engine

target_metadata = SQLModel.metadata


def _url() -> str:
    return context.config.get_main_option("sqlalchemy.url") or settings.database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = context.config.attributes.get("connection")
    if connectable is None:
        engine = make_engine(_url())
        try:
            with engine.connect() as connection:
                _run(connection)
        finally:
            engine.dispose()  # a migration that refuses to run leaves no connection open
    else:
        _run(connectable)


def _run(connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    if is_sqlite:
        # A batch table rebuild with ON DELETE CASCADE would otherwise delete child rows.
        # The pragma is a no-op inside a transaction, so end the one it autobegins at once.
        connection.execute(text("PRAGMA foreign_keys=OFF"))
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=is_sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
    if is_sqlite:
        connection.execute(text("PRAGMA foreign_keys=ON"))
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
