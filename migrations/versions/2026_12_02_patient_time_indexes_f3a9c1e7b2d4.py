"""indexes on (patient, time) for the tables that grow with time (issue 14: data growth)

A patient's doses, safety checks, check-ins, questionnaires, safety events, ledger entries and
audit entries are read by patient and time range or latest first (Today, the timeline, the
patient list's flags, the access log): one index range instead of every row of the patient.

Revision ID: f3a9c1e7b2d4
Revises: eb90f9e1a6af
Create Date: 2026-12-02 10:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'f3a9c1e7b2d4'
down_revision: str | None = 'eb90f9e1a6af'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ('audit_events', 'at'),
    ('checkins', 'recorded_at'),
    ('questionnaire_responses', 'completed_at'),
    ('safety_events', 'occurred_at'),
    ('gate_checks', 'checked_at'),
    ('doses', 'taken_at'),
    ('ledger_entries', 'occurred_at'),
)


def upgrade() -> None:
    # CREATE INDEX needs no table rebuild, so no batch mode (a rebuild of audit_events would
    # also trip its no-UPDATE/DELETE triggers).
    for table, column in INDEXES:
        op.create_index(f'ix_{table}_patient_id_{column}', table, ['patient_id', column])


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(f'ix_{table}_patient_id_{column}', table_name=table)
