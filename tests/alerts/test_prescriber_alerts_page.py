"""The prescriber's /alerts page ("All alerts, and those recently acknowledged") lists every open
alert the patient's page lets them acknowledge. The caregivers-only kinds (a severe side effect,
a blood-pressure hold) were on the patient's page but missing from /alerts; they are now listed
apart, in the patient page's words, not counted in the menu (the prescriber is not paged for
them), and only for the patients whose page the prescriber may open (app/careteam/access.py)."""

import html
import re

import pytest
from sqlmodel import select

from app.alerts.models import Alert
from app.careteam.models import CareLink
from tests import factories
from tests.alerts.conftest import alerts_of, hard_to_rouse
from tests.alerts.test_caregiver_kinds import CAREGIVERS_ONLY
from tests.alerts.test_pages import menu_alerts
from tests.helpers import follow

ACK = re.compile(r'action="/alerts/([0-9a-f-]+)/acknowledge"')
# The patient page's words for each kind (app/templates/alerts/_alerts.html alert_words).
WORDS = {
    "severe_side_effect": "A severe side effect was reported.",
    "bp_hold": "Blood pressure at or above the hold level before a dose: the dose is on hold.",
}


def text(response) -> str:
    return html.unescape(response.text)


def acknowledgeable(page: str) -> set[str]:
    return set(ACK.findall(page))


@pytest.mark.parametrize("kind", sorted(CAREGIVERS_ONLY))
def test_alerts_lists_every_alert_the_patient_page_lets_the_prescriber_acknowledge(
        db, auth, client, clinic, kind):
    hard_to_rouse(db, clinic.patient, clinic.t0)  # paged: in the count and the first list
    CAREGIVERS_ONLY[kind](db, clinic.patient, clinic.t0)
    db.commit()
    [paged] = [a for a in alerts_of(db, clinic.patient) if a.kind == "hard_to_rouse"]
    [caregivers_only] = [a for a in alerts_of(db, clinic.patient) if a.kind == kind]

    assert auth.login(clinic.first.email).status_code == 303
    patient_page = text(client.get(f"/patients/{clinic.patient.id}"))
    assert acknowledgeable(patient_page) == {str(paged.id), str(caregivers_only.id)}

    page = text(client.get("/alerts"))
    assert acknowledgeable(page) == acknowledgeable(patient_page)
    words = WORDS[kind]
    assert words in patient_page and words in page
    # Apart from the paged ones, said why, with the patient's name; the count is the paged one.
    assert "Open, sent to caregivers" in page
    apart = page.split("Open, sent to caregivers", 1)[1].split("Recently acknowledged", 1)[0]
    assert acknowledgeable(apart) == {str(caregivers_only.id)}
    assert f"Robin Example: {words}" in re.sub(r"<[^>]+>", "", apart)
    assert menu_alerts(page) == "Alerts, 1 open"

    # Acknowledged from there, it moves to the recently acknowledged.
    done = auth.post(f"/alerts/{caregivers_only.id}/acknowledge",
                     {"note": "Called the caregiver.", "back": "/alerts"})
    assert done.status_code == 303
    after = text(follow(client, done))
    assert "Alert acknowledged." in after
    assert acknowledgeable(after) == {str(paged.id)}
    assert "Open, sent to caregivers" not in after
    assert "Acknowledged by Dr Zhou" in after
    db.expire_all()
    assert db.get(Alert, caregivers_only.id).acknowledged_by_id == clinic.first.id


def test_in_spanish(db, auth, client, clinic):
    clinic.first.language = "es"
    db.add(clinic.first)
    db.commit()
    CAREGIVERS_ONLY["severe_side_effect"](db, clinic.patient, clinic.t0)
    db.commit()
    assert auth.login(clinic.first.email).status_code == 303
    page = text(client.get("/alerts"))
    assert "Abiertas, enviadas a los cuidadores" in page
    assert "También puede confirmarlas." in page
    assert "Se informó un efecto secundario grave." in page


def test_only_for_patients_whose_page_the_prescriber_may_open(db, auth, client, clinic):
    CAREGIVERS_ONLY["bp_hold"](db, clinic.patient, clinic.t0)
    db.commit()
    [alert] = alerts_of(db, clinic.patient)
    outsider = factories.user(db, role="prescriber")
    link = db.exec(select(CareLink).where(CareLink.member_id == clinic.second.id)).one()
    link.revoked_at = clinic.t0  # Dr Adams was removed from the team
    db.add(link)
    db.commit()
    for who in (outsider, clinic.second):
        assert auth.login(who.email).status_code == 303
        page = text(client.get("/alerts"))
        assert str(alert.id) not in page and "Open, sent to caregivers" not in page
        assert client.get(f"/patients/{clinic.patient.id}").status_code == 404
        refused = auth.post(f"/alerts/{alert.id}/acknowledge", {"note": "", "back": "/alerts"})
        assert refused.status_code == 404
        auth.logout()
    db.expire_all()
    assert db.get(Alert, alert.id).acknowledged_at is None


def test_a_caregivers_page_has_no_such_section(db, auth, client, clinic):
    CAREGIVERS_ONLY["severe_side_effect"](db, clinic.patient, clinic.t0)
    db.commit()
    [alert] = alerts_of(db, clinic.patient)
    assert auth.login(clinic.caregiver.email).status_code == 303
    page = text(client.get("/alerts"))
    assert acknowledgeable(page) == {str(alert.id)}  # in their open list: they are paged
    assert "Open, sent to caregivers" not in page
