"""users.name_key sets accents aside: the patient list's search finds Lucía as "lucia"

Every existing key is folded again as app/accounts/models.py name_key now folds a display name
(case-folded, NFKD, combining marks dropped), so the list sorts "Ángela" among the A's and a
search typed without accents finds names written with them. The fold is copied here, not
imported, so that this migration keeps meaning what it meant when the app changes.

Revision ID: b6d2f8a4c913
Revises: e7b4d1a9c602
Create Date: 2026-12-05 21:00:00
"""
import unicodedata
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b6d2f8a4c913'
down_revision: str | None = 'e7b4d1a9c602'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _unaccented(display_name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", display_name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()[:480]


def _refold(fold: Callable[[str], str]) -> None:
    users = sa.table('users', sa.column('id', sa.Uuid()), sa.column('display_name', sa.String()),
                     sa.column('name_key', sa.String()))
    connection = op.get_bind()
    rows = [{"b_id": row.id, "b_key": fold(row.display_name)}
            for row in connection.execute(sa.select(users.c.id, users.c.display_name))]
    if rows:
        connection.execute(users.update().where(users.c.id == sa.bindparam("b_id"))
                           .values(name_key=sa.bindparam("b_key")), rows)


def upgrade() -> None:
    _refold(_unaccented)


def downgrade() -> None:
    _refold(str.casefold)
