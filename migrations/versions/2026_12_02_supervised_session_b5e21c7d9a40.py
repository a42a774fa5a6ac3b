"""supervised session: the gate's co-signing sitter check, the per-patient caregiver alert delay

Revision ID: b5e21c7d9a40
Revises: ce9fdc2bd5c4
Create Date: 2026-12-02 02:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b5e21c7d9a40'
down_revision: str | None = 'ce9fdc2bd5c4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('checkin_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('caregiver_alert_minutes', sa.Integer(), nullable=True))

    with op.batch_alter_table('gate_checks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sitter_check_id', sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('gate_checks', schema=None) as batch_op:
        batch_op.drop_column('sitter_check_id')

    with op.batch_alter_table('checkin_settings', schema=None) as batch_op:
        batch_op.drop_column('caregiver_alert_minutes')
