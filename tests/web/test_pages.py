"""The keyset cursor in an address (app/web/pages.py)."""

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.web.pages import Cursor, page_of


def test_a_cursor_survives_the_address_to_the_microsecond():
    at = datetime(2026, 11, 24, 15, 30, 0, 123456, tzinfo=timezone(timedelta(hours=-5)))
    cursor = Cursor(at, uuid.uuid4())
    text = cursor.encode()
    assert text.startswith("20261124T203000.123456Z~")  # always UTC
    assert Cursor.decode(text) == cursor
    assert Cursor.decode(text).at.tzinfo is UTC


@pytest.mark.parametrize("text", [None, "", "~", "20261124T203000Z~" + str(uuid.UUID(int=7)),
                                  "20261124T203000.1Z~nope", "x" * 200, "2026~" + "0" * 32])
def test_a_spoiled_cursor_is_no_cursor(text):
    assert Cursor.decode(text) is None


def test_page_of_knows_whether_more_follow():
    def key(n):
        return Cursor(datetime(2026, 1, 1, tzinfo=UTC) - timedelta(days=n), uuid.UUID(int=n))

    full = page_of(list(range(6)), 5, key)
    assert full.items == [0, 1, 2, 3, 4] and full.older == key(4) and full.first
    last = page_of(list(range(5)), 5, key, before=key(9))
    assert last.items == list(range(5)) and last.older is None and not last.first
    assert page_of([], 5, key).older is None
