"""The dose History a page at a time: newest first, "Show older doses" as a real link (and an
htmx append of just the rows), corrections refused on an older page shown on that page."""

import gzip
import re
import uuid
from datetime import timedelta
from decimal import Decimal
from html import unescape
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from app.db import utcnow
from app.doses import service
from app.doses.models import Dose
from app.doses.service import HISTORY_PAGE
from tests import factories
from tests.helpers import walk_pages

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial", "HX-Target": "li#history-more"}
_CARD = re.compile(r'<li id="dose-([0-9a-f-]{36})"')
_MORE = re.compile(r'<a class="button" href="([^"]+)" rel="next"')


def add_doses(db, patient, version, count: int, *, start=None, ties_every: int = 0):
    """`count` doses a day apart, newest first from `start`; with `ties_every`, every so many
    share the previous one's time (the id then decides the order)."""
    start = start or utcnow() - timedelta(hours=3)
    made, at = [], start
    for n in range(count):
        if not (ties_every and n % ties_every == 1):
            at = start - timedelta(days=n)
        dose = Dose(id=uuid.uuid4(), patient_id=patient.id, protocol_version_id=version.id,
                    taken_at=at, recorded_at=at, received_at=at, dose_mg=Decimal(100),
                    troches=Decimal(1), route="sublingual", lot=f"L-{n}",
                    no_gate_reason="Logged later.")
        db.add(dose)
        made.append(dose)
    db.commit()
    return made


def newest_first(doses):
    return [str(d.id) for d in sorted(doses, key=lambda d: (d.taken_at, d.id.hex), reverse=True)]


def cards(html: str) -> list[str]:
    return _CARD.findall(html)


def older_link(html: str) -> str | None:
    match = _MORE.search(html)
    return unescape(match.group(1)) if match else None


@pytest.fixture
def patient(db, auth):
    _, patient, version = factories.patient_with_protocol(db)
    db.commit()
    assert auth.login(patient.email).status_code == 303
    return SimpleNamespace(id=patient.id, timezone=patient.timezone, version=version)


def test_many_doses_show_the_newest_page_and_the_links_reach_every_dose_once(db, client,
                                                                            patient):
    doses = add_doses(db, patient, patient.version, 75, ties_every=7)
    # Another patient's doses never appear, whatever the cursor.
    _, other, other_version = factories.patient_with_protocol(db)
    add_doses(db, other, other_version, 5)
    first = client.get("/doses").text
    assert cards(first) == newest_first(doses)[:HISTORY_PAGE]
    assert "Show older doses" in first and "Newest doses" not in first
    pages = walk_pages(client, "/doses", _MORE)  # "Show older doses", page after page
    assert len(pages) == -(-75 // HISTORY_PAGE)
    assert [c for page in pages for c in cards(page)] == newest_first(doses)
    assert all("Newest doses" in page for page in pages[1:])
    assert older_link(pages[-1]) is None
    # The cursor is a moment and an id: nothing of the record in the address.
    link = older_link(first)
    assert re.fullmatch(r"/doses\?before=\d{8}T\d{6}\.\d{6}Z~[0-9a-f-]{36}", link)


def test_the_htmx_request_for_the_next_page_returns_only_the_rows(db, client, patient):
    doses = add_doses(db, patient, patient.version, 3 * HISTORY_PAGE)
    link = older_link(client.get("/doses").text)
    response = client.get(link, headers=PARTIAL)
    assert response.status_code == 200 and "HX-Request" in response.headers["vary"]
    html = response.text
    assert "<html" not in html and "<nav" not in html and "<h1" not in html
    assert html.lstrip().startswith("<li")
    assert cards(html) == newest_first(doses)[HISTORY_PAGE:2 * HISTORY_PAGE]
    # The first new row takes the focus (htmx focuses [autofocus] after the swap).
    first_row = html[:html.index(">")]
    assert 'tabindex="-1"' in first_row and "autofocus" in first_row
    assert html.count("autofocus") == 1
    # Its own "Show older" link replaces the one clicked; the forms still carry the token.
    assert older_link(html) and 'name="csrf_token"' in html
    # The budget for an htmx partial: 10 KB as sent (compressed).
    assert len(gzip.compress(response.content, 6)) <= 10_000
    # The same address without htmx (or boosted, a whole page) is the whole page.
    assert "<html" in client.get(link).text
    boosted = {"HX-Request": "true", "HX-Request-Type": "full", "HX-Boosted": "true"}
    assert "<html" in client.get(link, headers=boosted).text


def test_a_dose_logged_meanwhile_does_not_shift_the_pages(db, client, patient):
    doses = add_doses(db, patient, patient.version, 2 * HISTORY_PAGE + 1)
    link = older_link(client.get("/doses").text)
    add_doses(db, patient, patient.version, 1, start=utcnow())  # newer than everything
    assert cards(client.get(link).text) == newest_first(doses)[HISTORY_PAGE:2 * HISTORY_PAGE]


@pytest.mark.parametrize("count", [0, 1, HISTORY_PAGE])
def test_an_empty_or_one_page_history_has_no_link(db, client, patient, count):
    add_doses(db, patient, patient.version, count)
    html = client.get("/doses").text
    assert len(cards(html)) == count and older_link(html) is None
    assert ("No doses logged yet." in html) == (count == 0)


def test_one_dose_more_than_a_page_gets_the_link(db, client, patient):
    doses = add_doses(db, patient, patient.version, HISTORY_PAGE + 1)
    second = client.get(older_link(client.get("/doses").text)).text
    assert cards(second) == newest_first(doses)[-1:] and older_link(second) is None


@pytest.mark.parametrize("before", ["junk", "20261124T203000.000000Z~not-a-uuid",
                                    "99999999T999999.999999Z~" + str(uuid.UUID(int=7)), "~",
                                    "x" * 99])
def test_a_spoiled_cursor_shows_the_newest_page(db, client, patient, before):
    doses = add_doses(db, patient, patient.version, HISTORY_PAGE + 2)
    response = client.get("/doses", params={"before": before})
    assert response.status_code == 200
    assert cards(response.text) == newest_first(doses)[:HISTORY_PAGE]


def test_a_cursor_past_the_oldest_dose_says_there_are_none_older(db, client, patient):
    add_doses(db, patient, patient.version, 2)
    response = client.get("/doses", params={"before": "20000101T000000.000000Z~" + str(
        uuid.uuid4())})
    assert response.status_code == 200 and "No older doses." in response.text
    assert "Newest doses" in response.text


def _page_of(client, n: int) -> tuple[str, str]:
    url, html = "/doses", ""
    for _ in range(n):
        html = client.get(url).text
        previous, url = url, older_link(html)
    return previous, html


def test_a_refused_correction_on_page_three_comes_back_on_page_three(db, client, patient,
                                                                      auth):
    add_doses(db, patient, patient.version, 4 * HISTORY_PAGE, ties_every=5)
    url, page3 = _page_of(client, 3)
    shown = cards(page3)
    dose_id = shown[4]
    # No reason given: refused, nothing written, the typed values kept beside that dose.
    response = auth.post(f"/doses/{dose_id}/correct",
                         {"dose_mg": "200", "lot": "TYPED-LOT", "reason": ""})
    assert response.status_code == 422
    html = response.text
    assert cards(html) == shown and "Newest doses" in html
    card = html[html.index(f'<li id="dose-{dose_id}"'):]
    card = card[:card.index("</li>\n  <li") if "</li>\n  <li" in card else None]
    assert f'id="correct-{dose_id}-reason-error"' in card and "Say why, for the record." in card
    assert 'value="TYPED-LOT"' in card and 'value="200"' in card
    # Only that dose's form shows an error, and it is the one focused.
    assert html.count('class="field-error"') == 1 and "data-focus" in card
    db.expire_all()
    assert db.get(Dose, uuid.UUID(dose_id)).revision == 1

    # Entered in error without a reason: the same, beside the reason field of that dose.
    response = auth.post(f"/doses/{dose_id}/entered-in-error", {"reason": " "})
    assert response.status_code == 422
    assert cards(response.text) == shown
    assert f'id="reason-{dose_id}-error"' in response.text

    # Accepted: back to the page that shows the corrected dose.
    response = auth.post(f"/doses/{dose_id}/correct", {"lot": "K-9", "reason": "Wrong lot"})
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(url + "&") and location.endswith("corrected=1")
    shown_after = client.get(location).text
    assert dose_id in cards(shown_after) and "Correction saved." in shown_after


def test_a_correction_that_moves_a_dose_lands_on_its_new_page(db, client, patient, auth):
    doses = add_doses(db, patient, patient.version, 3 * HISTORY_PAGE)
    oldest = newest_first(doses)[-1]
    # Moved to the newest: the first page, plain /doses.
    taken = (utcnow() - timedelta(hours=1)).astimezone(ZoneInfo(patient.timezone))
    taken = taken.strftime("%Y-%m-%dT%H:%M")
    response = auth.post(f"/doses/{oldest}/correct",
                         {"taken_at": taken, "reason": "Typed the wrong day"})
    assert response.status_code == 303 and response.headers["location"] == "/doses?corrected=1"
    assert cards(client.get("/doses").text)[0] == oldest


def test_the_service_pages_match_the_order_on_both_databases(db, patient):
    doses = add_doses(db, patient, patient.version, 23, ties_every=3)
    seen, before = [], None
    while True:
        page = service.history_page(db, patient.id, before, size=5)
        seen += [str(d.id) for d in page.items]
        if page.older is None:
            break
        before = page.older
    assert seen == newest_first(doses)
    # The page holding each dose starts where reading from the newest would put it.
    by_id = {str(d.id): d for d in db.exec(select(Dose)).all()}
    for index, dose_id in enumerate(seen):
        cursor = service.history_cursor_of(db, by_id[dose_id], size=5)
        page = service.history_page(db, patient.id, cursor, size=5)
        assert dose_id in [str(d.id) for d in page.items]
        assert (cursor is None) == (index < 5)


def test_a_doses_answer_to_why_there_was_no_safety_check_is_shown(db, client, patient):
    """The patient's own History shows what they answered when a dose had no safety check, as
    the prescriber's timeline does; it was saved and shown to everyone but them."""
    (dose,) = add_doses(db, patient, patient.version, 1)
    page = unescape(client.get("/doses").text)
    assert f'id="dose-{dose.id}"' in page
    assert "No safety check because: Logged later." in page


def test_a_session_form_is_offered_only_while_it_is_still_to_do(db, client, patient, auth):
    """History offered "Add +40 minute check" under a dose marked entered in error, and again
    under a dose whose +40 minute check was recorded."""
    from tests.factories import sync_item, sync_post

    standing, struck = add_doses(db, patient, patient.version, 2)
    for dose in (standing, struck):
        assert auth.post("/checkins/plus40", {
            "dose_id": str(dose.id), "sedation": "0", "systolic": "120",
            "diastolic": "80"}).status_code == 303
    (result,) = sync_post(client, sync_item("dose_entered_in_error", {
        "dose_id": str(struck.id), "reason": "Logged twice."})).json()["results"]
    assert result["status"] == "created"
    page = client.get("/doses").text
    card = {dose_id: part for dose_id, part in zip(
        cards(page), page.split('<li id="dose-')[1:], strict=True)}
    assert "/checkins/plus40?dose=" not in card[str(standing.id)]
    assert f"/checkins/end?dose={standing.id}" in card[str(standing.id)]
    assert "?dose=" not in card[str(struck.id)]


def test_a_session_form_is_offered_only_once_it_opens(db, client, patient):
    """A retester met "Add +40 minute check · Add end of session" a minute after the dose;
    both forms refuse an entry until they open (35 minutes; 5 before the observation's end)."""
    (dose,) = add_doses(db, patient, patient.version, 1, start=utcnow() - timedelta(minutes=1))
    card = client.get("/doses").text.split(f'<li id="dose-{dose.id}"')[1]
    assert "?dose=" not in card.split("</li>")[0]
    dose.taken_at = utcnow() - timedelta(minutes=36)
    db.add(dose)
    db.commit()
    card = client.get("/doses").text.split(f'<li id="dose-{dose.id}"')[1].split("</li>")[0]
    assert f"/checkins/plus40?dose={dose.id}" in card
    assert f"/checkins/end?dose={dose.id}" not in card
