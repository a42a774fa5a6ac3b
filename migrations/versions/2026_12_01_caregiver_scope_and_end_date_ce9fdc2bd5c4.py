"""caregiver scope and end date: what a caregiver sees, and until when (issue 10)

Revision ID: ce9fdc2bd5c4
Revises: e44288340247
Create Date: 2026-12-01 23:34:53.486636
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'ce9fdc2bd5c4'
down_revision: str | None = 'e44288340247'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('care_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('ends_on', sa.Date(), nullable=True))

    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('ends_on', sa.Date(), nullable=True))

    # Caregivers linked before scopes existed saw everything; no patient chose that. They get the
    # least scope ("supervision") until the patient widens it. Prescribers stay NULL (whole record).
    care_links = sa.table(
        'care_links', sa.column('relation', sa.String), sa.column('scope', sa.String)
    )
    op.execute(
        care_links.update()
        .where(care_links.c.relation == 'caregiver')
        .values(scope='supervision')
    )
    invites = sa.table('invites', sa.column('kind', sa.String), sa.column('scope', sa.String))
    op.execute(invites.update().where(invites.c.kind == 'caregiver').values(scope='supervision'))


def downgrade() -> None:
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.drop_column('ends_on')
        batch_op.drop_column('scope')

    with op.batch_alter_table('care_links', schema=None) as batch_op:
        batch_op.drop_column('ends_on')
        batch_op.drop_column('scope')
