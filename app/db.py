"""The engine, the constraint naming convention and the request's single transaction boundary."""

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import MetaData, String, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Session, SQLModel, create_engine
from sqlmodel.sql.sqltypes import AutoString

from app.config import settings
from app.errors import Invalid
from app.i18n import gettext as _

# Named constraints keep Alembic migrations stable across SQLite and PostgreSQL.
SQLModel.metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on both databases: SQLite hands back naive values otherwise."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# SQLite statements that take the database's single write lock (pysqlite begins the write
# transaction just before them; it ends when the connection goes back to the pool).
_SQLITE_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
_WRITER_WAIT_SECONDS = 15  # as busy_timeout: past it, SQLite's own wait decides


def _queue_sqlite_writers(engine: Engine) -> None:
    """One writer at a time in this process, in turn, woken the moment the writer before it is
    done. Left to SQLite, waiting writers poll: its busy handler naps and retries (naps grow to
    100 ms), so under 50 writes/s a sync's p99 reached a second although each write holds the
    lock for a few milliseconds. busy_timeout still covers writers in other processes (the CLI,
    a worker). Released when the connection returns to the pool, i.e. after the commit's fsync
    or the rollback (a session hands its connection back when its transaction ends)."""
    turn = threading.Lock()

    @event.listens_for(engine, "before_cursor_execute")
    def _wait_for_turn(conn, _cursor, statement, *_args) -> None:
        info = conn.info
        if info.get("sqlite_writer") or not statement.lstrip()[:7].upper().startswith(
                _SQLITE_WRITES):
            return
        # Without the turn after the wait (a thread that already writes on another connection
        # would wait for itself), SQLite's busy_timeout decides, as before this queue.
        info["sqlite_writer"] = turn.acquire(timeout=_WRITER_WAIT_SECONDS)

    def _done(_dbapi_conn, record, *_args) -> None:
        if record is not None and record.info.pop("sqlite_writer", False):
            turn.release()

    event.listen(engine, "checkin", _done)
    event.listen(engine, "invalidate", _done)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        in_memory = not parsed.database or parsed.database == ":memory:"
        engine = create_engine(
            url,
            # A file database gets a queue pool, sized as in app/web/admission.py.
            **({} if in_memory else {"pool_size": settings.db_pool_size, "max_overflow": 10}),
            connect_args={"check_same_thread": False, "timeout": 15},
            hide_parameters=True,  # errors and logs must never carry PHI from bound values
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL can lose the last commits on power loss (they sit in
            # the WAL unsynced); an acknowledged dose must survive, so every commit is fsynced.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        _queue_sqlite_writers(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True,
                         pool_size=settings.db_pool_size, max_overflow=10)


engine = make_engine(settings.database_url)


REQUEST = "request"  # session.info key: the session serves one HTTP request


def commit_request(session: Session) -> None:
    """End the request's transaction: what it did, with the refusals noted along the way.
    The session commits this after the route returns; a route whose answer must come after the
    commit (the sync's `answered_at`) calls it first, and the second call commits nothing."""
    from app.audit import service as audit  # the audit trail writes through this module

    audit.write_pending(session)
    session.commit()


def get_session() -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on any error."""
    from app.audit import service as audit  # the audit trail writes through this module

    with Session(engine, expire_on_commit=False) as session:
        session.info[REQUEST] = True  # services may memoize reads for this request
        try:
            yield session
            commit_request(session)
        except BaseException:
            session.rollback()
            try:
                audit.write_pending_apart(engine)  # the refusal is kept though nothing else is
            except Exception:  # never hide the request's own error behind the audit's
                logging.getLogger("trochelog").error("audit: a refusal could not be recorded")
            raise


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


_MEMOS = "transaction_memos"  # session.info key: {name: value} for the current transaction


def transaction_memo(session: Session, name: str, make: Callable[[], Any]) -> Any:
    """A value kept for the rest of this session's transaction (a read or a lock its callers
    need not repeat), made by `make` the first time. Forgotten when the transaction ends,
    however it ends, and when any savepoint rolls back (what was read or locked inside it may
    be undone); a savepoint released keeps it. Not on `after_commit`: SQLAlchemy fires that for
    every released savepoint too, one per sync item."""
    memos = session.info.setdefault(_MEMOS, {})
    if name not in memos:
        memos[name] = make()
    return memos[name]


def forget_transaction_memo(session: Session, name: str) -> None:
    session.info.get(_MEMOS, {}).pop(name, None)


@event.listens_for(Session, "after_transaction_end")
def _memos_end_with_the_transaction(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_MEMOS, None)


@event.listens_for(Session, "after_soft_rollback")
def _memos_end_with_a_savepoint_rolled_back(session: Session, _transaction) -> None:
    session.info.pop(_MEMOS, None)


@event.listens_for(Session, "after_flush")
def _count_flag_changes(session: Session, _context) -> None:
    # Registered here because every process (app, worker, CLI, tests) imports this module: a
    # write the patient list's stored flags miss would leave that list wrongly sorted.
    from app.clinic import flag_changes

    flag_changes.note_flush(session)


# --- text that fits its column ----------------------------------------------------------------
# A column's length is the last word on text: PostgreSQL refuses an over-long value (a 500 and
# the request lost) while SQLite stores it whole. Each service checks its own fields first, with
# a message beside the field; this is the floor under them, the same on both databases.
_BOUNDED: dict[type, tuple[tuple[str, int], ...]] = {}


def bounded_text(cls: type) -> tuple[tuple[str, int], ...]:
    """A mapped class's text attributes that have a length limit, with the limit."""
    found = _BOUNDED.get(cls)
    if found is None:
        found = tuple(
            (attr.key, column.type.length)
            for attr in sa_inspect(cls).column_attrs for column in attr.columns
            if isinstance(column.type, String | AutoString) and column.type.length)
        _BOUNDED[cls] = found
    return found


@event.listens_for(Session, "before_flush")
def _text_fits_its_column(session: Session, _context, _instances) -> None:
    for row in (*session.new, *session.dirty):
        for key, length in bounded_text(type(row)):
            value = row.__dict__.get(key)  # only what is loaded: never a read inside a flush
            if isinstance(value, str) and len(value) > length:
                raise Invalid(_("Use at most %(n)s characters.", n=length), field=key)
