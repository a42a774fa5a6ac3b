"""doses.gate_id unique: one safety check clears one dose, held by the database too (the dose
service refuses a second dose for a check with a readable message; the index makes the rule
hold for any writer that does not go through it)

Revision ID: e7b4d1a9c602
Revises: c5e2a9d7f318
Create Date: 2026-12-04 06:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'e7b4d1a9c602'
down_revision: str | None = 'c5e2a9d7f318'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Index changes need no table rebuild, so no batch mode. NULL (a dose logged without a
    # check) may repeat: both databases treat NULLs as distinct in a unique index.
    op.drop_index('ix_doses_gate_id', table_name='doses')
    op.create_index('ix_doses_gate_id', 'doses', ['gate_id'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_doses_gate_id', table_name='doses')
    op.create_index('ix_doses_gate_id', 'doses', ['gate_id'])
