"""Keyset pages for lists that grow without end (dose history, the supply ledger).

A page is the next `size` rows, newest first, older than a cursor: the (time, id) of the last
row shown. A row written meanwhile is newer than every cursor, so it never shifts the pages
being read (an offset would show a row twice). The cursor goes in the address
(`?before=20261124T203000.000000Z~<uuid>`): a moment and an opaque id, nothing of the record.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlmodel import col

T = TypeVar("T")

_TIME = "%Y%m%dT%H%M%S.%fZ"


@dataclass(frozen=True)
class Cursor:
    at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        return f"{self.at.astimezone(UTC).strftime(_TIME)}~{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> "Cursor | None":
        """The cursor in an address, or None for none or for anything malformed (an old or
        edited link shows the newest page rather than an error)."""
        if not text or len(text) > 80 or "~" not in text:
            return None
        at, _, ident = text.partition("~")
        try:
            return cls(datetime.strptime(at, _TIME).replace(tzinfo=UTC), uuid.UUID(ident))
        except ValueError:
            return None


@dataclass
class Page(Generic[T]):
    items: list[T]
    older: Cursor | None  # where the next page starts; None on the last page
    before: Cursor | None = None  # this page's own cursor; None on the newest page

    @property
    def first(self) -> bool:
        return self.before is None


def older_than(query, at_column, id_column, before: Cursor | None, size: int):
    """`query` limited to the page after `before`, newest first (one row more than `size`, to
    know whether another page follows)."""
    at, ident = col(at_column), col(id_column)
    if before is not None:
        query = query.where(or_(at < before.at, and_(at == before.at, ident < before.id)))
    return query.order_by(at.desc(), ident.desc()).limit(size + 1)


def page_of(rows: Sequence[T], size: int, key: Callable[[T], Cursor],
            before: Cursor | None = None) -> Page[T]:
    """The page from rows fetched by `older_than` (size + 1 of them at most)."""
    items = list(rows[:size])
    older = key(items[-1]) if len(rows) > size and items else None
    return Page(items, older, before)


def newer_than(query, at_column, id_column, row: Any):
    """`query` limited to the rows listed before `row` (newer, or as new with a higher id)."""
    at, ident = col(at_column), col(id_column)
    here_at, here_id = getattr(row, at_column.key), getattr(row, id_column.key)
    return query.where(or_(at > here_at, and_(at == here_at, ident > here_id)))


def holding_cursor(session, query, at_column, id_column, row: Any, size: int,
                   key: Callable[[Any], Cursor]) -> Cursor | None:
    """The cursor of the page that shows `row` when read from the newest page on (None: the
    newest page), so a form refused on page 3 comes back on page 3."""
    newer = session.scalar(
        select(func.count()).select_from(newer_than(query, at_column, id_column, row).subquery())
    ) or 0
    shown_before = (newer // size) * size
    if shown_before == 0:
        return None
    # The last row of the page before: the (shown_before)th newest.
    last = session.exec(
        newer_than(query, at_column, id_column, row)
        .order_by(col(at_column).desc(), col(id_column).desc())
        .offset(shown_before - 1).limit(1)
    ).first()
    return key(last) if last is not None else None
