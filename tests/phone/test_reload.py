"""Issue 12 item 3: a reload (GET) of a form's POST URL brings the person back to the page the
form is on, instead of "That action is not available here"."""

import pytest

from app.web.reload import FORM_PAGES
from tests import factories
from tests.helpers import app_routes

# Fixed, so test ids are the same in every worker of a parallel run (pytest-xdist).
ANY = "5a0f7f0e-3c2b-4d6e-9b1a-7c8d9e0f1a2b"


def test_every_form_post_without_a_page_of_its_own_is_covered():
    routes = app_routes()
    gets = {path for path, route in routes if "GET" in route.methods} - {"/checkins/settings"}
    posts = {path for path, route in routes
             if "POST" in route.methods and not path.startswith("/api/")}
    uncovered = sorted(p for p in posts - gets if p not in FORM_PAGES)
    assert uncovered == []


# (role, posted path with {patient} for the signed-in person's patient, expected page)
CASES = [
    ("patient", "/today/gate", "/today"),
    ("patient", "/today/dose", "/today"),
    ("patient", f"/doses/{ANY}/correct", "/doses"),
    ("patient", f"/doses/{ANY}/entered-in-error", "/doses"),
    ("patient", "/supply/fill", "/supply"),
    ("patient", "/supply/count", "/supply"),
    ("patient", "/checkins/settings", "/checkins"),
    ("patient", "/account/timezone", "/account"),
    ("patient", "/account/password", "/account"),
    ("patient", f"/account/reminders/devices/{ANY}/test", "/account/reminders"),
    ("patient", f"/account/reminders/devices/{ANY}/remove", "/account/reminders"),
    ("patient", "/care-team/invite", "/care-team"),
    ("patient", "/care-team/caregiver-alerts", "/care-team"),
    ("patient", f"/care-team/caregivers/{ANY}", "/care-team"),
    ("patient", f"/care-team/caregivers/{ANY}/remove", "/care-team"),
    ("patient", f"/care-team/invites/{ANY}/cancel", "/care-team"),
    ("caregiver", "/supporting/{patient}/alerts", "/supporting"),
    ("caregiver", f"/alerts/{ANY}/acknowledge", "/alerts"),
    ("caregiver", "/account/password", "/account"),
    ("prescriber", "/patients/{patient}/invite", "/patients/{patient}"),
    ("prescriber", "/patients/{patient}/flags/review", "/patients"),
    ("prescriber", f"/patients/{{patient}}/safety-events/{ANY}/review", "/patients/{patient}"),
    ("prescriber", "/patients/{patient}/caregiver-alerts", "/patients/{patient}"),
    ("prescriber", "/patients/{patient}/phase", "/patients/{patient}"),
    ("prescriber", "/patients/{patient}/questionnaires", "/patients/{patient}"),
]


@pytest.mark.parametrize(("role", "posted", "page"), CASES,
                         ids=[f"{r}:{p}" for r, p, _ in CASES])
def test_a_reload_of_a_form_post_goes_back_to_its_page(db, client, auth, role, posted, page):
    prescriber, patient, _version = factories.patient_with_protocol(db)
    signed_in = {"patient": patient, "prescriber": prescriber}.get(role)
    if role == "caregiver":
        signed_in = factories.user(db, role="caregiver")
        factories.link(db, patient, signed_in)
    db.commit()
    assert auth.login(signed_in.email).status_code == 303

    posted = posted.format(patient=patient.id)
    page = page.format(patient=patient.id)
    response = client.get(posted)
    assert response.status_code == 303
    assert response.headers["location"] == page
    landed = client.get(page)
    assert landed.status_code == 200
    assert "That action is not available here" not in landed.text


def test_signed_out_reload_leads_to_sign_in(client):
    response = client.get("/today/dose")
    assert response.status_code == 303
    assert response.headers["location"] == "/today"
    assert client.get("/today").headers["location"].startswith("/login")
