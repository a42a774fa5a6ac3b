"""flag_summaries.rules_version: a stored brief counts only for the rules that wrote it

The patient list's stored briefs (app/clinic/flag_index.py) were trusted while no write was
counted and before their settle time, whatever code had computed them. A deploy that changed
the flag rules had to ship a migration counting a change on every brief, and an old process
still serving during a rolling deploy could store briefs by the old rules as current until the
one-hour settle. Each brief now carries the rules' edition (app/clinic/flags.py RULES_VERSION)
and is current only for the same edition. Existing rows get 0, so every brief is computed
afresh once by the rules now in force.

Revision ID: f3b8e1c5a924
Revises: d4a7c2e9b158
Create Date: 2026-12-06 03:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'f3b8e1c5a924'
down_revision: str | None = 'd4a7c2e9b158'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('flag_summaries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rules_version', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('flag_summaries', schema=None) as batch_op:
        batch_op.drop_column('rules_version')
