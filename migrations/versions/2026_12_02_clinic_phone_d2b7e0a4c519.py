"""a prescriber's clinic phone number, for "Call my clinic" (issue 12)

Revision ID: d2b7e0a4c519
Revises: c8a4f2d61e93
Create Date: 2026-12-02 02:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'd2b7e0a4c519'
down_revision: str | None = 'c8a4f2d61e93'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clinic_phone', sqlmodel.sql.sqltypes.AutoString(length=40),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('clinic_phone')
