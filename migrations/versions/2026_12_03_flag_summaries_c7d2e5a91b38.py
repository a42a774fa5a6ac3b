"""flag_summaries: each patient's open flags in brief, for long patient lists (issue 14)

Revision ID: c7d2e5a91b38
Revises: 9e4b7a2c1d60
Create Date: 2026-12-03 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = 'c7d2e5a91b38'
down_revision: str | None = '9e4b7a2c1d60'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'flag_summaries',
        sa.Column('patient_id', sa.Uuid(), nullable=False),
        sa.Column('changes', sa.Integer(), nullable=False),
        sa.Column('computed_from', sa.Integer(), nullable=False),
        sa.Column('urgency', sa.Integer(), nullable=False),
        sa.Column('codes', sa.String(length=400), nullable=False),
        sa.Column('settled_until', app.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['patient_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('patient_id'),
    )


def downgrade() -> None:
    op.drop_table('flag_summaries')
