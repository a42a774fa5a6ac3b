"""doses.gate_id indexed (issue 14: every dose a phone syncs asks whether its safety check was
already used, "one check, one dose"; without the index that question read every dose the
clinic ever recorded)

Revision ID: c5e2a9d7f318
Revises: a8c3e6f1d247
Create Date: 2026-12-04 02:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'c5e2a9d7f318'
down_revision: str | None = 'a8c3e6f1d247'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # CREATE INDEX needs no table rebuild, so no batch mode.
    op.create_index('ix_doses_gate_id', 'doses', ['gate_id'])


def downgrade() -> None:
    op.drop_index('ix_doses_gate_id', table_name='doses')
