"""The care team's pages: the prescriber's home lists open alerts with a count in the menu,
acknowledging through the form (PRG), errors that keep the typed note, caregivers' switch."""

import html
import re
from datetime import timedelta

import pytest
from sqlmodel import select

from app.alerts.models import Alert
from app.careteam.models import CareLink
from app.checkins.models import CheckinSettings
from tests import factories
from tests.alerts.conftest import hard_to_rouse, open_alert
from tests.helpers import follow

MENU_ITEM = re.compile(r'<li[^>]*><a href="/alerts"([^>]*)>(.*?)</a></li>', re.S)
LABEL = re.compile(r'aria-label="([^"]+)"')


def text(response) -> str:
    return html.unescape(response.text)


def menu_alerts(page: str) -> str:
    """The menu's Alerts item as a screen reader names it (its label, else its text)."""
    match = MENU_ITEM.search(page)
    assert match, "no Alerts item in the menu"
    label = LABEL.search(match.group(1))
    if label:
        visible = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(2))).strip()
        # The visible words (and count) stay part of the name (WCAG 2.5.3).
        assert all(word in label.group(1) for word in visible.split()), (visible, label)
        return label.group(1)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(2))).strip()


def test_the_prescribers_home_shows_the_open_alert_and_the_count(db, auth, client, clinic):
    alert = open_alert(db, clinic)
    assert auth.login(clinic.first.email).status_code == 303
    home = text(client.get("/patients"))
    assert menu_alerts(home) == "Alerts, 1 open"
    assert "1 open alert" in home
    assert "Robin Example" in home and "Blood pressure at or above 180/120." in home
    assert f'action="/alerts/{alert.id}/acknowledge"' in home
    assert 'name="back" value="/patients"' in home
    assert "Nobody notified yet" in home
    # "Raised Sun Nov 29, 6:34 PM": whose clock, beside the patient's page that names theirs.
    place = clinic.first.timezone.split("/")[-1].replace("_", " ")
    assert f"Times are in your time zone ({place})." in home
    assert f"Times are in your time zone ({place})." in text(client.get("/alerts"))

    # The patient's own page shows it too.
    detail = text(client.get(f"/patients/{clinic.patient.id}"))
    assert f'action="/alerts/{alert.id}/acknowledge"' in detail
    assert menu_alerts(detail) == "Alerts, 1 open"


def test_acknowledging_through_the_form_records_it_and_the_count_drops(db, auth, client, clinic):
    alert = open_alert(db, clinic)
    hard_to_rouse(db, clinic.patient, clinic.t0 + timedelta(minutes=1))
    db.commit()
    auth.login(clinic.first.email)
    assert menu_alerts(text(client.get("/patients"))) == "Alerts, 2 open"

    response = auth.post(
        f"/alerts/{alert.id}/acknowledge",
        {"note": "Called Robin, BP rechecked 150/90.", "back": "/patients"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/patients?alert=acknowledged"
    home = text(follow(client, response))
    assert "Alert acknowledged. Nobody else will be notified about it." in home
    assert menu_alerts(home) == "Alerts, 1 open"
    assert f'action="/alerts/{alert.id}/acknowledge"' not in home

    db.expire_all()
    stored = db.get(Alert, alert.id)
    assert stored.acknowledged_by_id == clinic.first.id
    assert stored.acknowledgement_note == "Called Robin, BP rechecked 150/90."
    assert stored.acknowledged_at is not None

    page = text(client.get("/alerts"))
    assert "Acknowledged by Dr Zhou" in page and "Called Robin, BP rechecked 150/90." in page
    assert "Hard to rouse during a session." in page  # still open, listed first
    # Acknowledged, nobody else is notified: the count is final, with no "yet" to promise more.
    assert page.count("Nobody notified yet") == 1  # the open alert's
    assert "Nobody was notified" in page


def test_acknowledging_an_acknowledged_alert_says_so(db, auth, client, clinic):
    alert = open_alert(db, clinic)
    auth.login(clinic.first.email)
    auth.post(f"/alerts/{alert.id}/acknowledge", {"note": "First", "back": "/alerts"})
    again = auth.post(f"/alerts/{alert.id}/acknowledge", {"note": "Second", "back": "/alerts"})
    assert again.headers["location"] == "/alerts?alert=already"
    page = text(follow(client, again))
    assert "Someone had already acknowledged this alert" in page
    assert menu_alerts(page) == "Alerts"
    db.expire_all()
    assert db.get(Alert, alert.id).acknowledgement_note == "First"


@pytest.mark.parametrize("note", [
    "Spoke with Robin. " + "x" * 1000,
    # Pasted: past 5,000 characters an error page that lost the note used to come first.
    "Spoke with Robin. " * 400,
])
def test_a_form_error_keeps_the_typed_note_beside_the_field(db, auth, client, clinic, note):
    alert = open_alert(db, clinic)
    auth.login(clinic.first.email)
    response = auth.post(f"/alerts/{alert.id}/acknowledge", {"note": note, "back": "/patients"})
    assert response.status_code == 422
    page = text(response)
    assert f">{note}</textarea>" in page
    assert f'id="note-{alert.id}-error"' in page and "Use at most 1000 characters." in page
    assert 'aria-invalid="true"' in page
    # Fixing it still returns to where the form came from.
    assert 'name="back" value="/patients"' in page
    db.expire_all()
    assert db.get(Alert, alert.id).acknowledged_at is None


def test_another_prescribers_alert_is_not_found_and_nothing_is_written(
    db, auth, client, login_as, clinic
):
    alert = open_alert(db, clinic)
    login_as("prescriber")
    page = text(client.get("/alerts"))
    assert "Robin Example" not in page and menu_alerts(page) == "Alerts"
    response = auth.post(f"/alerts/{alert.id}/acknowledge", {"note": "mine?", "back": "/alerts"})
    assert response.status_code == 404
    assert "Robin Example" not in text(response)
    db.expire_all()
    stored = db.get(Alert, alert.id)
    assert stored.acknowledged_at is None and stored.acknowledgement_note is None


def test_a_redirect_never_leaves_the_site(db, auth, client, clinic):
    alert = open_alert(db, clinic)
    auth.login(clinic.first.email)
    response = auth.post(
        f"/alerts/{alert.id}/acknowledge", {"note": "", "back": "https://evil.example/"}
    )
    assert response.headers["location"] == "/alerts?alert=acknowledged"


# --- caregivers ------------------------------------------------------------------------------


def test_a_caregiver_turns_alerts_on_and_sees_them(db, auth, client, clinic):
    link = db.exec(select(CareLink).where(CareLink.member_id == clinic.caregiver.id)).one()
    link.receives_alerts = False
    db.add(link)
    db.commit()
    alert = open_alert(db, clinic)
    auth.login(clinic.caregiver.email)
    supporting = text(client.get("/supporting"))
    assert "Safety alerts about Robin Example: off." in supporting
    assert "own sharing setting allows safety alerts" in supporting
    # What they will be told of starts when they joined (app/alerts/service.py _visible_to).
    assert "only those raised since you joined the care team." in supporting
    assert menu_alerts(supporting) == "Alerts"
    before = text(client.get("/alerts"))
    assert f'action="/alerts/{alert.id}/acknowledge"' not in before
    assert "You are not receiving alerts about anyone." in before

    response = auth.post(f"/supporting/{clinic.patient.id}/alerts", {"receive": "on"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/supporting?alerts=on#alerts-{clinic.patient.id}"
    supporting = text(follow(client, response))
    assert "Safety alerts turned on." in supporting
    assert "Safety alerts about Robin Example: on." in supporting
    assert menu_alerts(supporting) == "Alerts, 1 open"

    page = text(client.get("/alerts"))
    assert f'action="/alerts/{alert.id}/acknowledge"' in page
    done = auth.post(
        f"/alerts/{alert.id}/acknowledge", {"note": "I'm with Robin.", "back": "/alerts"}
    )
    assert done.status_code == 303
    assert "Acknowledged by Casey Carer" in text(follow(client, done))

    off = auth.post(f"/supporting/{clinic.patient.id}/alerts", {"receive": "off"})
    assert "Safety alerts about Robin Example: off." in text(follow(client, off))


def test_a_caregiver_reads_who_acknowledged_but_not_the_prescribers_clinical_note(
        db, auth, client, clinic):
    """The patient shares the alert with their caregiver, not the clinic's notes on it; a
    caregiver's own note stays readable by everyone who sees the alert."""
    note = "PHQ-9 trending up, discussed ideation, started sertraline 50mg."
    by_prescriber = open_alert(db, clinic)
    auth.login(clinic.first.email)
    auth.post(f"/alerts/{by_prescriber.id}/acknowledge", {"note": note, "back": "/alerts"})
    assert note in text(client.get("/alerts"))  # the prescriber reads it
    client.cookies.clear()

    auth.login(clinic.caregiver.email)
    for path in ("/alerts", f"/supporting/{clinic.patient.id}"):
        page = text(client.get(path))
        assert "Acknowledged by Dr Zhou" in page, path
        assert "sertraline" not in page and "ideation" not in page, path


def test_a_caregiver_without_the_patients_consent_sees_no_alert(db, auth, client, clinic):
    db.add(CheckinSettings(patient_id=clinic.patient.id, share_alerts_with_caregiver=False))
    db.commit()
    alert = open_alert(db, clinic)
    auth.login(clinic.caregiver.email)
    assert menu_alerts(text(client.get("/supporting"))) == "Alerts"
    response = auth.post(f"/alerts/{alert.id}/acknowledge", {"note": "", "back": "/alerts"})
    assert response.status_code == 404
    db.expire_all()
    assert db.get(Alert, alert.id).acknowledged_at is None


def test_the_caregiver_switch_refuses_other_people_and_bad_values(db, auth, client, clinic):
    stranger = factories.user(db, role="patient", display_name="Not Theirs")
    db.commit()
    auth.login(clinic.caregiver.email)
    response = auth.post(f"/supporting/{stranger.id}/alerts", {"receive": "on"})
    assert response.status_code == 404 and "Not Theirs" not in text(response)
    bad = auth.post(f"/supporting/{clinic.patient.id}/alerts", {"receive": "maybe"})
    assert bad.status_code == 422
    assert "Choose whether to receive alerts." in text(bad)
    db.expire_all()
    links = db.exec(select(CareLink).where(CareLink.member_id == clinic.caregiver.id)).all()
    assert [link.receives_alerts for link in links] == [True]


def test_patients_have_no_alerts_page_and_no_menu_item(login_as, client):
    login_as("patient")
    assert client.get("/alerts").status_code == 403
    assert 'href="/alerts"' not in client.get("/today").text


def test_the_sitters_session_page_shows_an_open_alert_and_acknowledges_it_there(
        db, auth, client, clinic):
    """Morgan entered 185/125 during the session; the page the sitter keeps open read "Session
    under way" with the usual prompts, and the alert was only on "People I support"."""
    alert = open_alert(db, clinic)
    auth.login(clinic.caregiver.email)
    session_path = f"/supporting/{clinic.patient.id}/session"
    page = client.get(session_path).text
    section = page[page.index('id="session-alerts-heading"'):]
    assert "Open alerts about Robin Example" in section
    assert f'action="/alerts/{alert.id}/acknowledge"' in section
    assert f'name="back" value="{session_path}"' in section
    done = auth.post(f"/alerts/{alert.id}/acknowledge", {"note": "", "back": session_path})
    assert done.status_code == 303 and done.headers["location"].startswith(session_path)
    assert 'id="session-alerts-heading"' not in client.get(session_path).text


def test_a_caregiver_reads_an_unanswered_screener_alert_without_the_answer(
        db, auth, client, clinic):
    """A caregiver never reads a single questionnaire answer; the alert for a screener left
    unanswered told them "PHQ-9 question 9 (thoughts of self-harm) was answered above 0".
    They read what to do; the prescriber still reads what was answered."""
    from app.alerts import service as alerts
    from app.config import settings
    from tests.alerts.conftest import phq9

    phq9(db, clinic.patient, clinic.t0)
    later = clinic.t0 + timedelta(minutes=settings.screener_unanswered_minutes)
    (alert,) = alerts.raise_unanswered_screeners(db, later)
    db.commit()
    auth.login(clinic.caregiver.email)
    for path in ("/alerts", f"/supporting/{clinic.patient.id}", "/supporting"):
        page = text(client.get(path))
        assert f'action="/alerts/{alert.id}/acknowledge"' in page, path
        assert "Follow-up safety questions are still unanswered" in page, path
        assert "PHQ-9" not in page and "question 9" not in page, path
    client.cookies.clear()
    auth.login(clinic.first.email)
    assert "PHQ-9 question 9 (thoughts of self-harm)" in text(client.get("/alerts"))
