"""doses.already_taken: whether the patient recorded the dose as taken at an earlier time

A safety check judges a dose by the checks made before it was written down, unless the patient
says it was taken earlier; a check that arrives after the dose is judged the same way
(app/doses/service.py). Without this, a check that held, sent late from another phone, could
not tell an old tab's dose (written down after the hold) from one logged later as taken
before it. Doses recorded before this change read as written down at their time (false).

Revision ID: c3f9a2d7e481
Revises: a1e5c9f2b736
Create Date: 2026-12-06 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c3f9a2d7e481'
down_revision: str | None = 'a1e5c9f2b736'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('doses') as batch_op:
        batch_op.add_column(sa.Column('already_taken', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('doses') as batch_op:
        batch_op.drop_column('already_taken')
