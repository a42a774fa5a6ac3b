"""safety_events: drop acknowledged_at and acknowledged_by_id, which nothing ever set

A safety event is answered by its review (reviewed_at, reviewed_by_id, review_note); the people
it notified acknowledge its alert (alerts.acknowledged_at). These two columns came with the
first check-ins and were never written: the export that read them always printed blanks, and
was changed to leave them out. Dropping them keeps one answer to "who answered this event".
The upgrade refuses to run if a row has a value in either (set by hand, outside the app), so
nothing recorded is lost by it.

Revision ID: b9e4d1a7c362
Revises: c3f9a2d7e481
Create Date: 2026-12-07 18:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = 'b9e4d1a7c362'
down_revision: str | None = 'c3f9a2d7e481'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    written = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM safety_events"
        " WHERE acknowledged_at IS NOT NULL OR acknowledged_by_id IS NOT NULL")).scalar_one()
    if written:
        raise RuntimeError(
            f"{written} safety event(s) have an acknowledgement that the app never writes; "
            "copy it into the event's review (reviewed_at, reviewed_by_id, review_note) "
            "before upgrading")
    with op.batch_alter_table('safety_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_safety_events_acknowledged_by_id_users'),
                                 type_='foreignkey')
        batch_op.drop_column('acknowledged_by_id')
        batch_op.drop_column('acknowledged_at')


def downgrade() -> None:
    with op.batch_alter_table('safety_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_at', app.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_safety_events_acknowledged_by_id_users'),
                                    'users', ['acknowledged_by_id'], ['id'])
