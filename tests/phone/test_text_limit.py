"""Issue 12 item 7: text is never cut silently. The note's limit shows on the form (without
JavaScript), the browser is not told to cut it (no maxlength), and the server refuses longer
text with a message next to the field, keeping what was typed and saving nothing."""

import html as htmllib
import re

from sqlmodel import func, select

from app.checkins.models import CheckIn
from tests import factories
from tests.phone.test_words import visible_text


def _patient(db, login_as):
    patient = login_as("patient")
    factories.link(db, patient, factories.user(db, role="prescriber"))
    db.commit()
    return patient


def _textarea(page: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, f"no textarea {name}"
    return match.group(0)


def test_the_note_shows_its_limit_and_no_browser_cut(db, client, login_as):
    _patient(db, login_as)
    page = client.get("/checkins/daily").text
    area = _textarea(page, "note")
    assert " maxlength=" not in area and 'data-maxlength="1000"' in area
    assert 'aria-describedby="note-limit' in area
    assert "At most 1000 characters." in visible_text(page)


def test_an_over_long_note_is_refused_and_kept(db, client, auth, login_as):
    _patient(db, login_as)
    typed = ("I slept badly and woke early. " * 70)[:1960]
    response = auth.post("/checkins/daily", {"mood": "4", "note": typed})
    assert response.status_code == 422
    text = visible_text(response.text)
    assert "This is 1960 characters; the limit is 1000. Shorten it by 960" in text
    assert 'id="note-error"' in response.text
    kept = re.search(r">(.*?)</textarea>", _textarea(response.text, "note"), re.S).group(1)
    assert htmllib.unescape(kept) == typed
    assert db.exec(select(func.count()).select_from(CheckIn)).one() == 0


def test_line_breaks_count_once(db, client, auth, login_as):
    _patient(db, login_as)
    seen = "a\n" * 400 + "b" * 200  # 1000 characters in the text area
    response = auth.post("/checkins/daily", {"mood": "4", "note": seen.replace("\n", "\r\n")})
    assert response.status_code == 303  # 1400 as the browser sends them: still within the limit
    assert db.exec(select(CheckIn)).one().values["note"] == seen
