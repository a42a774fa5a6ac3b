"""each person's language for the app, and each push device's browser language (issue 15)

users.language NULL follows the browser; push_subscriptions.language is the browser's language
when it subscribed, for notifications to someone who has not chosen one.

Revision ID: 9e4b7a2c1d60
Revises: f3a9c1e7b2d4
Create Date: 2026-12-03 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '9e4b7a2c1d60'
down_revision: str | None = 'f3a9c1e7b2d4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8),
                                      nullable=True))
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.drop_column('language')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')
