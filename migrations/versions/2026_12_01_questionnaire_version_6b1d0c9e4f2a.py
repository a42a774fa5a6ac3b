"""questionnaire version: the C-SSRS screener's wording (recent or since last contact)

Revision ID: 6b1d0c9e4f2a
Revises: a3d7017f1835
Create Date: 2026-12-01 20:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '6b1d0c9e4f2a'
down_revision: str | None = 'a3d7017f1835'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no backfill: screens stored before this have the six-answer shape and are
    # recognised by it (app/checkins/words.py).
    with op.batch_alter_table('questionnaire_responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('questionnaire_responses', schema=None) as batch_op:
        batch_op.drop_column('version')
