"""A flag review must name a flag of the patient's. A key made up or edited in the list's review
form (POST /patients/{id}/flags/review) used to be stored as a review and answered "Flag
reviewed"; a made-up safety event id answered a bare 404. Both now come back as the list with
"That flag was not found", and nothing is written. Keys of real flags still work, an older
occurrence's too (a list loaded before a newer one), and a second review keeps the first."""

import html
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from app.checkins.models import SafetyEvent
from app.clinic import flags as flag_rules
from app.clinic.models import FlagReview
from app.db import utcnow
from app.doses.models import Dose
from tests import factories
from tests.audit.conftest import entries
from tests.clinic.test_patient_list import safety_event
from tests.helpers import fresh

NOT_FOUND = "That flag was not found. Reload the list and try again."


def on_protocol(db, prescriber, name: str):
    """A patient whose protocol starts in two days: no session is due or missed, so every flag
    comes from what the test adds."""
    patient = factories.user(db, role="patient", display_name=name)
    starts = (utcnow() + timedelta(days=2)).date().isoformat()
    factories.protocol(db, prescriber, patient, now=utcnow() - timedelta(days=1),
                       starts_on=starts)
    return patient


def dose(db, patient, *, days_ago: float, flags=("override",)) -> Dose:
    from app.protocols import service as protocols

    taken = utcnow() - timedelta(days=days_ago)
    row = Dose(id=uuid.uuid4(), patient_id=patient.id,
               protocol_version_id=protocols.current(db, patient.id).id, taken_at=taken,
               recorded_at=taken, received_at=taken, dose_mg=Decimal(100), troches=Decimal(1),
               route="sublingual", flags=list(flags))
    db.add(row)
    db.flush()
    return row


@pytest.fixture
def amy(db):
    """Amy, the prescriber's patient: two doses through an override (an older and a newer), a
    dose with no flag, a sitter's "hard to rouse" to review, a high-risk screen holding dosing,
    and a crisis reading (three doses and no session yet: dose creep too). Sid is another
    prescriber's patient, with an override of his own."""
    prescriber = factories.user(db, role="prescriber")
    patient = on_protocol(db, prescriber, "Amy Override")
    found = {
        "prescriber": prescriber,
        "patient": patient,
        "older": dose(db, patient, days_ago=5),
        "newer": dose(db, patient, days_ago=1),
        "plain": dose(db, patient, days_ago=2, flags=()),
        "rouse": safety_event(db, patient, "hard_to_rouse"),
        "screen": safety_event(db, patient, "positive_screen", holds=True),
        "reading": safety_event(db, patient, "bp_emergency"),
    }
    sid = on_protocol(db, factories.user(db, role="prescriber"), "Sid Stranger")
    found["sids_dose"] = dose(db, sid, days_ago=1)
    found["sids_event"] = safety_event(db, sid, "hard_to_rouse")
    db.commit()
    return found


def review(auth, patient, code: str, key: str, note: str = "Called them; plan unchanged."):
    return auth.post(f"/patients/{patient.id}/flags/review",
                     {"code": code, "key": key, "note": note, "next": "/patients"})


def open_codes(client, patient) -> list[str]:
    listed = client.get("/api/v1/patients").json()
    return [f["code"] for p in listed if p["id"] == str(patient.id) for f in p["flags"]]


def assert_refused_and_nothing_written(db, client, amy, response) -> None:
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert "The review was not saved." in page and NOT_FOUND in page
    assert "Flag reviewed." not in page
    assert db.exec(select(FlagReview)).all() == []
    assert entries(db, action="flag.review") == []
    for name in ("rouse", "screen", "reading"):
        assert fresh(db, SafetyEvent, amy[name].id).reviewed_at is None
    # Every flag still open on the list.
    assert open_codes(client, amy["patient"]) == [
        "cssrs_high", "safety_event", "bp_emergency", "override", "dose_creep"]


@pytest.mark.parametrize("code", flag_rules.CODES)
@pytest.mark.parametrize("key", ["made-up", "2026-11-24", "00000000-0000-4000-8000-000000000000"])
def test_a_made_up_key_is_refused_with_the_list_and_a_message(db, auth, client, amy, code, key):
    assert auth.login(amy["prescriber"].email).status_code == 303
    response = review(auth, amy["patient"], code, key)
    assert_refused_and_nothing_written(db, client, amy, response)


@pytest.mark.parametrize(("code", "whose"), [
    ("override", "sids_dose"),  # another patient's flag
    ("override", "plain"),  # her dose, but it flags nothing
    ("late_or_extra", "newer"),  # her override, named as another flag
    ("safety_event", "sids_event"),  # another patient's event
    ("safety_event", "reading"),  # her crisis reading: a flag of its own, not an event to review
    ("cssrs_high", "rouse"),  # her event, but it holds nothing
])
def test_a_key_of_something_else_is_refused(db, auth, client, amy, code, whose):
    assert auth.login(amy["prescriber"].email).status_code == 303
    response = review(auth, amy["patient"], code, str(amy[whose].id))
    assert_refused_and_nothing_written(db, client, amy, response)
    assert fresh(db, SafetyEvent, amy["sids_event"].id).reviewed_at is None


def test_a_list_loaded_before_a_newer_occurrence_may_still_review_the_older(db, auth, client,
                                                                            amy):
    assert auth.login(amy["prescriber"].email).status_code == 303
    response = review(auth, amy["patient"], "override", str(amy["older"].id))
    assert response.status_code == 303
    assert "flag_reviewed=1" in response.headers["location"]
    [row] = db.exec(select(FlagReview)).all()
    assert (row.code, row.key) == ("override", str(amy["older"].id))
    # The newer override is still open, counted alone.
    listed = client.get("/api/v1/patients").json()
    [override] = [f for p in listed if p["id"] == str(amy["patient"].id) for f in p["flags"]
                  if f["code"] == "override"]
    assert override["message"].startswith("1 dose")


def test_a_second_review_of_a_real_flag_keeps_the_first(db, auth, amy):
    assert auth.login(amy["prescriber"].email).status_code == 303
    patient = amy["patient"]
    for code, key in (("override", str(amy["newer"].id)), ("safety_event", str(amy["rouse"].id)),
                      ("cssrs_high", str(amy["screen"].id))):
        assert review(auth, patient, code, key, note="First.").status_code == 303
        assert review(auth, patient, code, key, note="Second.").status_code == 303
    assert [r.note for r in db.exec(select(FlagReview)).all()] == ["First."]
    assert fresh(db, SafetyEvent, amy["rouse"].id).review_note == "First."
    assert fresh(db, SafetyEvent, amy["screen"].id).review_note == "First."
