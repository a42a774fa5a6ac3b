"""Text too long on the care team's forms: the form comes back with what was typed and the
limit beside the field, never a bare page naming an internal field with everything lost."""

import re
import uuid

import pytest
from sqlmodel import func, select

from app.accounts.models import Invite, User
from app.careteam.models import CareLink
from app.checkins.models import CheckinSettings
from tests import factories

LONG_NAME = ("Maximiliana Anastasia " * 23)[:501]  # 501 characters, as a person might paste
LONG_EMAIL = "sam." + "x" * 300 + "@example.test"


def _count(db, model, *where) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model).where(*where)).one()


def _field_error(html: str, name: str) -> str:
    """The error shown beside a field, tied to it for screen readers."""
    assert re.search(rf'<input id="{name}"[^>]*aria-describedby="{name}-error"', html), name
    found = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', html)
    assert found, name
    return found.group(1)


def _no_internal_names(html: str) -> None:
    assert "display_name:" not in html and "email:" not in html
    assert "That did not work" not in html


@pytest.fixture
def patient(login_as):
    return login_as("patient", display_name="Robin Patient")


def _invite(auth, **fields):
    return auth.post("/care-team/invite", {"client_id": str(uuid.uuid4()),
                                           "display_name": "Casey Sitter",
                                           "email": "casey@example.test", "scope": "doses",
                                           **fields})


def test_a_501_character_name_comes_back_with_what_was_typed(db, auth, patient):
    response = _invite(auth, display_name=LONG_NAME)
    assert response.status_code == 422
    assert _field_error(response.text, "display_name") == "Use at most 120 characters."
    assert f'value="{LONG_NAME}"' in response.text
    assert 'value="casey@example.test"' in response.text
    assert re.search(r'id="scope-doses"[^>]*checked', response.text)
    _no_internal_names(response.text)
    assert _count(db, Invite) == 0


def test_an_email_past_its_limit_comes_back_with_the_limit_beside_it(db, auth, patient):
    response = _invite(auth, email=LONG_EMAIL)
    assert response.status_code == 422
    assert _field_error(response.text, "email") == "Use at most 254 characters."
    assert f'value="{LONG_EMAIL}"' in response.text and 'value="Casey Sitter"' in response.text
    _no_internal_names(response.text)
    assert _count(db, Invite) == 0


def test_both_too_long_are_said_at_once(db, auth, patient):
    response = _invite(auth, display_name=LONG_NAME, email=LONG_EMAIL)
    assert response.status_code == 422
    assert _field_error(response.text, "display_name") == "Use at most 120 characters."
    assert _field_error(response.text, "email") == "Use at most 254 characters."
    assert _count(db, Invite) == 0


def test_the_inputs_carry_the_limits_for_the_browser(client, patient):
    page = client.get("/care-team").text
    assert re.search(r'<input id="display_name"[^>]*maxlength="120"', page)
    assert re.search(r'<input id="email"[^>]*maxlength="254"', page)


@pytest.mark.parametrize("field,value,words", [
    ("ends_on", "2026-12-31" + " " * 30 + "x", "Enter a date like"),
    ("scope", "doses" * 10, "Choose one of the three options."),
])
def test_the_invites_other_fields_past_any_length_come_back_beside_the_field(
        db, auth, patient, field, value, words):
    response = _invite(auth, **{field: value})
    assert response.status_code == 422
    assert words in response.text and 'value="Casey Sitter"' in response.text
    assert f'id="{field}-error"' in response.text
    assert f"{field}:" not in response.text
    assert _count(db, Invite) == 0


def test_changing_a_caregivers_terms_with_a_long_date_comes_back_beside_the_field(db, auth,
                                                                                 patient):
    caregiver = factories.user(db, role="caregiver")
    factories.link(db, patient, caregiver, scope="doses")
    db.commit()
    link = db.exec(select(CareLink).where(CareLink.member_id == caregiver.id)).one()
    response = auth.post(f"/care-team/caregivers/{link.id}",
                         {"scope": "doses", "ends_on": "31/12/2026 or thereabouts, say"})
    assert response.status_code == 422
    assert "Enter a date like" in response.text and "ends_on:" not in response.text
    assert "31/12/2026 or thereabouts, say" in response.text
    db.expire_all()
    assert db.get(CareLink, link.id).ends_on is None


def test_the_alert_delay_past_any_length_comes_back_with_the_choices(db, auth, patient):
    response = auth.post("/care-team/caregiver-alerts", {"caregiver_alert_minutes": "9" * 30})
    assert response.status_code == 422
    assert "Choose one of the times offered." in response.text
    assert "caregiver_alert_minutes:" not in response.text
    assert db.get(CheckinSettings, patient.id) is None


def test_the_prescribers_new_patient_form_keeps_a_long_name_too(db, auth, login_as):
    login_as("prescriber")
    before = _count(db, User)
    response = auth.post("/patients/new", {"client_id": str(uuid.uuid4()),
                                           "display_name": LONG_NAME,
                                           "email": "robin@example.test",
                                           "timezone": "America/Denver"})
    assert response.status_code == 422
    assert _field_error(response.text, "display_name") == "Use at most 120 characters."
    assert f'value="{LONG_NAME}"' in response.text
    assert 'value="robin@example.test"' in response.text
    assert re.search(r'<option value="America/Denver" selected', response.text)
    _no_internal_names(response.text)
    assert _count(db, User) == before and _count(db, Invite) == 0
