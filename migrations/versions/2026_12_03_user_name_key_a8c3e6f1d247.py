"""users.name_key: the display name case-folded, for the patient list's order in SQL (issue 14)

Filled for existing rows from display_name with Python's str.casefold (the app keeps it on every
insert and update), so SQLite and PostgreSQL sort names the same way.

Revision ID: a8c3e6f1d247
Revises: 4f1a6b8c2d93
Create Date: 2026-12-03 07:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'a8c3e6f1d247'
down_revision: str | None = '4f1a6b8c2d93'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sqlmodel.sql.sqltypes.AutoString(length=480),
                                      nullable=False, server_default=''))
    users = sa.table('users', sa.column('id', sa.Uuid()), sa.column('display_name', sa.String()),
                     sa.column('name_key', sa.String()))
    connection = op.get_bind()
    rows = [{"b_id": row.id, "b_key": row.display_name.casefold()}
            for row in connection.execute(sa.select(users.c.id, users.c.display_name))]
    if rows:
        connection.execute(users.update().where(users.c.id == sa.bindparam("b_id"))
                           .values(name_key=sa.bindparam("b_key")), rows)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('name_key', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('name_key')
