"""flag_summaries: the phase and the flags as the patient list shows them (issue 14)

Revision ID: 4f1a6b8c2d93
Revises: c7d2e5a91b38
Create Date: 2026-12-03 18:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '4f1a6b8c2d93'
down_revision: str | None = 'c7d2e5a91b38'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL in existing rows: the next list computes them (app/clinic/flag_index.py).
    with op.batch_alter_table('flag_summaries') as batch:
        batch.add_column(sa.Column('phase', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('shown', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('flag_summaries') as batch:
        batch.drop_column('shown')
        batch.drop_column('phase')
