"""The supply page's ledger a page at a time, newest first, like the dose History."""

import gzip
import re
import uuid
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest

from app.db import utcnow
from app.doses.ledger import LEDGER_PAGE
from app.doses.models import LedgerEntry, LedgerKind
from tests import factories
from tests.helpers import walk_pages

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial", "HX-Target": "tr#ledger-more"}
_ROW = re.compile(r"Fill · (Pharmacy \d+)")
_MORE = re.compile(r'<a href="([^"#]+)(?:#ledger-heading)?" rel="next"')


def add_fills(db, patient_id, count: int, *, start=None):
    """`count` fills, a week apart, newest first; every third shares the previous one's time."""
    start = start or utcnow() - timedelta(days=1)
    names, at = [], start
    for n in range(count):
        if n % 3 != 1:
            at = start - timedelta(days=7 * n)
        entry = LedgerEntry(id=uuid.uuid4(), patient_id=patient_id, kind=LedgerKind.FILL,
                            occurred_at=at, received_at=at, count=Decimal(4),
                            pharmacy=f"Pharmacy {n:03d}")
        db.add(entry)
        names.append((at, entry.id.hex, entry.pharmacy))
    db.commit()
    return [name for *_, name in sorted(names, reverse=True)]


def rows(html: str) -> list[str]:
    return _ROW.findall(html)


def older_link(html: str) -> str | None:
    match = _MORE.search(html)
    return unescape(match.group(1)) if match else None


@pytest.fixture
def patient(db, auth):
    _, patient, _ = factories.patient_with_protocol(db)
    db.commit()
    assert auth.login(patient.email).status_code == 303
    return patient


def test_the_ledger_pages_reach_every_entry_once_newest_first(db, client, patient):
    expected = add_fills(db, patient.id, 2 * LEDGER_PAGE + 5)
    _, other, _ = factories.patient_with_protocol(db)
    add_fills(db, other.id, 3)  # never shown
    pages = walk_pages(client, "/supply", _MORE)
    assert all("Troche supply" in html for html in pages)  # the whole page, forms included
    assert [row for html in pages for row in rows(html)] == expected and len(pages) == 3


def test_the_htmx_request_for_older_entries_returns_only_the_rows(db, client, patient):
    expected = add_fills(db, patient.id, 3 * LEDGER_PAGE)
    link = older_link(client.get("/supply").text)
    response = client.get(link, headers=PARTIAL)
    html = response.text
    assert response.status_code == 200 and html.lstrip().startswith("<tr")
    assert "<html" not in html and "<form" not in html
    assert rows(html) == expected[LEDGER_PAGE:2 * LEDGER_PAGE]
    assert html.count("autofocus") == 1 and older_link(html)
    assert len(gzip.compress(response.content, 6)) <= 10_000


@pytest.mark.parametrize("count", [0, 1, LEDGER_PAGE])
def test_a_short_ledger_has_no_link(db, client, patient, count):
    add_fills(db, patient.id, count)
    html = client.get("/supply").text
    assert len(rows(html)) == count and older_link(html) is None
    assert ('id="ledger-heading"' in html) == (count > 0)


def test_a_refused_count_still_shows_the_newest_entries(db, client, patient, auth):
    expected = add_fills(db, patient.id, LEDGER_PAGE + 1)
    response = auth.post("/supply/count", {"count_count": "lots", "count_counted_at": "",
                                           "count_client_id": str(uuid.uuid4())})
    assert response.status_code == 422
    assert rows(response.text) == expected[:LEDGER_PAGE] and older_link(response.text)


def test_a_spoiled_cursor_shows_the_newest_entries(db, client, patient):
    expected = add_fills(db, patient.id, 3)
    response = client.get("/supply", params={"before": "nonsense"}, headers=PARTIAL)
    assert response.status_code == 200 and "<html" in response.text
    assert rows(response.text) == expected
