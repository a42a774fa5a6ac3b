"""PHQ-9 item 9 flags screened by any screener answered at or after them

A screener used to mark only the PHQ-9 it followed, while the dosing hold and Today's prompt
count any screener answered at or after an answer. After two answers and one screener, the
older flag still read "not screened" on the prescriber's list and could raise the unanswered-
screener alert. This marks every such flag as the app now does (app/checkins/service.py): with
the first screener answered at or after it, within the two weeks one is waited for. The rule
is copied here, not imported, so that this migration keeps meaning what it meant when the app
changes. Every patient's stored list flags are marked outdated: the rules gained the
screener_pending flag in the same change.

Downgrade leaves the flags as they are: they say what happened either way.

Revision ID: d4a7c2e9b158
Revises: b6d2f8a4c913
Create Date: 2026-12-06 00:00:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = 'd4a7c2e9b158'
down_revision: str | None = 'b6d2f8a4c913'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive UTC times, PostgreSQL aware ones.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upgrade() -> None:
    events = sa.table('safety_events', sa.column('id', sa.Uuid()),
                      sa.column('patient_id', sa.Uuid()), sa.column('kind', sa.String()),
                      sa.column('level', sa.String()),
                      sa.column('occurred_at', sa.DateTime(timezone=True)),
                      sa.column('details', sa.JSON()))
    responses = sa.table('questionnaire_responses', sa.column('id', sa.Uuid()),
                         sa.column('patient_id', sa.Uuid()), sa.column('instrument', sa.String()),
                         sa.column('risk', sa.String()),
                         sa.column('completed_at', sa.DateTime(timezone=True)))
    summaries = sa.table('flag_summaries', sa.column('patient_id', sa.Uuid()),
                         sa.column('changes', sa.Integer()))
    connection = op.get_bind()
    screeners: dict = {}
    for row in connection.execute(
            sa.select(responses.c.id, responses.c.patient_id, responses.c.risk,
                      responses.c.completed_at)
            .where(responses.c.instrument == 'cssrs')
            .order_by(responses.c.completed_at)):
        screeners.setdefault(row.patient_id, []).append(
            (_utc(row.completed_at), row.id, row.risk))
    for event in connection.execute(
            sa.select(events.c.id, events.c.patient_id, events.c.occurred_at, events.c.details)
            .where(events.c.kind == 'phq9_item9', events.c.level == 'unscreened')).all():
        at = _utc(event.occurred_at)
        # Within the two weeks the hold and Today's prompt wait for a screener.
        first = next((s for s in screeners.get(event.patient_id, [])
                      if at <= s[0] <= at + timedelta(days=14)), None)
        if first is None:
            continue
        details = {**(event.details or {}), "screened_risk": first[2],
                   "screener_id": str(first[1])}
        connection.execute(events.update().where(events.c.id == event.id)
                           .values(level='screened', details=details))
    # Every patient's stored list flags are outdated: those above were worded from the old
    # level, and the rules now have a flag of their own for an answer not yet screened
    # (screener_pending, ranked above the other safety events). Count a change, as the app
    # does on every write to what flags are made of (app/clinic/flag_changes.py), so the next
    # reader evaluates them afresh instead of trusting them for up to an hour.
    connection.execute(summaries.update().values(changes=summaries.c.changes + 1))


def downgrade() -> None:
    pass
