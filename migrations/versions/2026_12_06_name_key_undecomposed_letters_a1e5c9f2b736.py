"""users.name_key writes ø, ł, æ and their kin as a keyboard without them does

Unicode decomposes "í" into "i" and a mark, which the fold drops, but not "ø", "ł", "đ", "ð",
"ħ", "ŧ", "ı", "æ", "œ" or "þ": the list sorted "Łukasz" after "Z" and a search for "soren" did
not find "Søren". Every existing key is folded again as app/accounts/models.py name_key now
folds a display name (these letters written o, l, d, d, h, t, i, ae, oe, th). The fold is copied
here, not imported, so that this migration keeps meaning what it meant when the app changes.

Revision ID: a1e5c9f2b736
Revises: f3b8e1c5a924
Create Date: 2026-12-06 04:00:00
"""
import unicodedata
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a1e5c9f2b736'
down_revision: str | None = 'f3b8e1c5a924'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNDECOMPOSED = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t",
                               "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"})


def _unaccented(display_name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", display_name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _refold(fold: Callable[[str], str]) -> None:
    users = sa.table('users', sa.column('id', sa.Uuid()), sa.column('display_name', sa.String()),
                     sa.column('name_key', sa.String()))
    connection = op.get_bind()
    rows = [{"b_id": row.id, "b_key": fold(row.display_name)[:480]}
            for row in connection.execute(sa.select(users.c.id, users.c.display_name))]
    if rows:
        connection.execute(users.update().where(users.c.id == sa.bindparam("b_id"))
                           .values(name_key=sa.bindparam("b_key")), rows)


def upgrade() -> None:
    _refold(lambda name: _unaccented(name).translate(_UNDECOMPOSED))


def downgrade() -> None:
    _refold(_unaccented)
