"""Alembic owns the schema: it builds everything from nothing, takes it all down, and matches
the models exactly."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import app.models  # noqa: F401 - registers every table on the metadata
from app.accounts.models import name_key
from app.cli import alembic_config
from app.db import engine, make_engine
from tests.conftest import IS_POSTGRES


@dataclass
class EmptyDatabase:
    url: str
    schema: str | None  # PostgreSQL: a fresh schema of its own; SQLite: a fresh file

    def tables(self) -> set[str]:
        fresh_engine = make_engine(self.url)
        try:
            with fresh_engine.connect() as conn:
                return set(inspect(conn).get_table_names(schema=self.schema))
        finally:
            fresh_engine.dispose()

    def diff(self) -> list:
        fresh_engine = make_engine(self.url)
        try:
            with fresh_engine.connect() as conn:
                return _diff(conn)
        finally:
            fresh_engine.dispose()

    def versions(self) -> list[str]:
        fresh_engine = make_engine(self.url)
        try:
            with fresh_engine.connect() as conn:
                return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        finally:
            fresh_engine.dispose()


def _diff(conn) -> list:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return compare_metadata(context, SQLModel.metadata)


@pytest.fixture
def empty_database(tmp_path) -> Iterator[EmptyDatabase]:
    if not IS_POSTGRES:
        yield EmptyDatabase(f"sqlite:///{tmp_path / 'empty.db'}", None)
        return
    schema = f"migration_test_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = engine.url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield EmptyDatabase(url.render_as_string(hide_password=False), schema)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def _public_tables() -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def test_upgrade_from_nothing_and_downgrade_to_nothing(empty_database):
    config = alembic_config(empty_database.url)
    assert empty_database.tables() == set()
    untouched = _public_tables()

    command.upgrade(config, "head")
    assert empty_database.tables() == set(SQLModel.metadata.tables) | {"alembic_version"}
    assert empty_database.versions() == ScriptDirectory.from_config(config).get_heads()
    # Built from nothing, the schema is exactly what the models describe.
    assert empty_database.diff() == []

    command.downgrade(config, "base")
    assert empty_database.tables() == {"alembic_version"}
    assert empty_database.versions() == []

    # Down really left nothing behind that a fresh upgrade would trip over.
    command.upgrade(config, "head")
    assert empty_database.tables() == set(SQLModel.metadata.tables) | {"alembic_version"}
    command.downgrade(config, "base")
    assert empty_database.tables() == {"alembic_version"}

    # The test database itself was never touched.
    assert _public_tables() == untouched


def test_models_and_migrations_do_not_drift():
    """A model changed without a migration (or the reverse) shows up here."""
    with engine.connect() as conn:
        assert _diff(conn) == []


def test_migration_history_is_one_straight_line():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, "parallel migrations: merge them or rebase one"
    assert len(script.get_bases()) == 1


def test_test_database_is_at_head():
    script = ScriptDirectory.from_config(alembic_config())
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    assert set(current) == set(script.get_heads())


def test_existing_names_get_their_sort_key(empty_database):
    """users.name_key arrived after people had accounts: the migration folds every existing
    name, as the app does (the list sorts by it): case-folded, then with its accents set aside,
    then with the letters Unicode does not decompose written as on a plain keyboard."""
    config = alembic_config(empty_database.url)
    command.upgrade(config, "4f1a6b8c2d93")
    fresh_engine = make_engine(empty_database.url)
    try:
        with fresh_engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO users (id, email, display_name, role, timezone, is_active, "
                "created_at) VALUES (:id, 'a@example.test', 'ÁNGELA Straße-Søe', 'patient', "
                "'America/New_York', :yes, :at)"),
                {"id": uuid.uuid4().hex if not IS_POSTGRES else uuid.uuid4(), "yes": True,
                 "at": "2026-12-01 10:00:00"})
        command.upgrade(config, "a8c3e6f1d247")
        with fresh_engine.connect() as conn:
            assert conn.execute(text("SELECT name_key FROM users")).scalar_one() == \
                "ángela strasse-søe"
        # Then with its accents set aside, as the list now sorts and searches (b6d2f8a4c913),
        # and the letters Unicode does not decompose written plainly too (a1e5c9f2b736).
        command.upgrade(config, "b6d2f8a4c913")
        with fresh_engine.connect() as conn:
            assert conn.execute(text("SELECT name_key FROM users")).scalar_one() == \
                "angela strasse-søe"
        command.upgrade(config, "head")
        with fresh_engine.connect() as conn:
            assert conn.execute(text("SELECT name_key FROM users")).scalar_one() == \
                "angela strasse-soe" == name_key("ÁNGELA Straße-Søe")
        command.downgrade(config, "f3b8e1c5a924")
        with fresh_engine.connect() as conn:
            assert conn.execute(text("SELECT name_key FROM users")).scalar_one() == \
                "angela strasse-søe"
        command.downgrade(config, "e7b4d1a9c602")
        with fresh_engine.connect() as conn:
            assert conn.execute(text("SELECT name_key FROM users")).scalar_one() == \
                "ángela strasse-søe"
    finally:
        fresh_engine.dispose()
    command.downgrade(config, "base")


def _add_user(conn, user_id: uuid.UUID, *, role: str, timezone: str, at: datetime) -> None:
    """One account, written without the models (they are at head, the database is not)."""
    users = sa.table("users", *(sa.column(c) for c in (
        "email", "display_name", "name_key", "role", "timezone")),
        sa.column("id", sa.Uuid()), sa.column("is_active", sa.Boolean()),
        sa.column("created_at", sa.DateTime(timezone=True)))
    conn.execute(users.insert().values(
        id=user_id, email="p@example.test", display_name="P", name_key="p", role=role,
        timezone=timezone, is_active=True, created_at=at))


def test_item9_flags_before_a_screener_are_marked_screened(empty_database):
    """Flags written while a screener marked only the PHQ-9 it followed: an older answer the
    same screener came after reads "screened" after the migration (d4a7c2e9b158), as the
    dosing hold already judged it; an answer after the last screener stays unscreened."""
    config = alembic_config(empty_database.url)
    command.upgrade(config, "b6d2f8a4c913")
    t0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    patient, screener = uuid.uuid4(), uuid.uuid4()
    older, followed, later, stale = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    responses = sa.table("questionnaire_responses", sa.column("instrument"), sa.column("risk"),
                         sa.column("id", sa.Uuid()), sa.column("patient_id", sa.Uuid()),
                         sa.column("answers", sa.JSON()),
                         sa.column("completed_at", sa.DateTime(timezone=True)),
                         sa.column("received_at", sa.DateTime(timezone=True)))
    events = sa.table("safety_events", sa.column("kind"), sa.column("level"),
                      sa.column("id", sa.Uuid()), sa.column("patient_id", sa.Uuid()),
                      sa.column("source_id", sa.Uuid()), sa.column("details", sa.JSON()),
                      sa.column("share_with_caregiver", sa.Boolean()),
                      sa.column("holds_dosing", sa.Boolean()),
                      sa.column("occurred_at", sa.DateTime(timezone=True)))
    summaries = sa.table("flag_summaries", sa.column("patient_id", sa.Uuid()),
                         sa.column("changes"), sa.column("computed_from"), sa.column("urgency"),
                         sa.column("codes"))
    fresh_engine = make_engine(empty_database.url)
    try:
        with fresh_engine.begin() as conn:
            _add_user(conn, patient, role="patient", timezone="America/New_York", at=t0)
            conn.execute(responses.insert().values(
                id=screener, patient_id=patient, instrument="cssrs", risk="low", answers={},
                completed_at=t0 - timedelta(hours=12), received_at=t0))
            # Too long before the screener for it to speak for that answer (two weeks).
            for event_id, at, level in ((stale, t0 - timedelta(days=15), "unscreened"),
                                        (older, t0 - timedelta(days=3), "unscreened"),
                                        (followed, t0 - timedelta(days=1), "screened"),
                                        (later, t0, "unscreened")):
                details = {"score": 3}
                if level == "screened":
                    details |= {"screened_risk": "low", "screener_id": str(screener)}
                conn.execute(events.insert().values(
                    id=event_id, patient_id=patient, kind="phq9_item9", level=level,
                    source_id=uuid.uuid4(), details=details, share_with_caregiver=False,
                    holds_dosing=False, occurred_at=at))
            # The patient list's flags, stored by the rules before: all outdated after.
            conn.execute(summaries.insert().values(patient_id=patient, changes=4,
                                                   computed_from=4, urgency=11, codes=""))
        command.upgrade(config, "head")
        with fresh_engine.connect() as conn:
            rows = {row.id: (row.level, row.details) for row in conn.execute(
                sa.select(events.c.id, events.c.level, events.c.details))}
            # Outdated, so the next reader evaluates the flags afresh.
            assert conn.execute(sa.select(summaries.c.changes)).scalar_one() == 5
        screened = ("screened", {"score": 3, "screened_risk": "low",
                                 "screener_id": str(screener)})
        assert rows == {older: screened, followed: screened,
                        later: ("unscreened", {"score": 3}), stale: ("unscreened", {"score": 3})}
        command.downgrade(config, "b6d2f8a4c913")  # leaves the flags as they are
    finally:
        fresh_engine.dispose()
    command.downgrade(config, "base")


def test_the_never_written_event_acknowledgement_goes_and_a_hand_set_one_stops_the_upgrade(
        empty_database):
    """b9e4d1a7c362 drops safety_events.acknowledged_at/_by_id, which the app never set: the
    events and their reviews stay; a value someone set by hand stops the upgrade, unchanged."""
    config = alembic_config(empty_database.url)
    command.upgrade(config, "c3f9a2d7e481")
    t0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    patient, reviewed, marked = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def columns():  # a column belongs to one table object, so each gets its own
        return [sa.column("kind"), sa.column("level"), sa.column("id", sa.Uuid()),
                sa.column("patient_id", sa.Uuid()), sa.column("source_id", sa.Uuid()),
                sa.column("details", sa.JSON()), sa.column("share_with_caregiver", sa.Boolean()),
                sa.column("holds_dosing", sa.Boolean()),
                sa.column("occurred_at", sa.DateTime(timezone=True)),
                sa.column("reviewed_at", sa.DateTime(timezone=True)),
                sa.column("reviewed_by_id", sa.Uuid()), sa.column("review_note")]

    events = sa.table("safety_events", *columns())
    before = sa.table("safety_events", *columns(),
                      sa.column("acknowledged_at", sa.DateTime(timezone=True)))
    row = dict(kind="hard_to_rouse", level="low", patient_id=patient, source_id=uuid.uuid4(),
               details={}, share_with_caregiver=False, holds_dosing=False, occurred_at=t0)
    fresh_engine = make_engine(empty_database.url)
    try:
        with fresh_engine.begin() as conn:
            _add_user(conn, patient, role="prescriber", timezone="UTC", at=t0)
            conn.execute(events.insert().values(
                id=reviewed, reviewed_at=t0, reviewed_by_id=patient, review_note="Called.", **row))
            conn.execute(before.insert().values(id=marked, acknowledged_at=t0, **row))
        with pytest.raises(RuntimeError, match="1 safety event"):
            command.upgrade(config, "head")
        assert empty_database.versions() == ["c3f9a2d7e481"]
        with fresh_engine.begin() as conn:
            conn.execute(before.update().values(acknowledged_at=None))
        command.upgrade(config, "head")
        with fresh_engine.connect() as conn:
            names = {c["name"] for c in inspect(conn).get_columns(
                "safety_events", schema=empty_database.schema)}
            kept = conn.execute(sa.select(events.c.id, events.c.review_note)).all()
        assert not names & {"acknowledged_at", "acknowledged_by_id"}
        assert sorted(kept, key=str) == sorted([(reviewed, "Called."), (marked, None)], key=str)
        command.downgrade(config, "c3f9a2d7e481")
    finally:
        fresh_engine.dispose()
