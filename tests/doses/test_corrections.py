"""Correcting a logged dose from the history page: a revision with a reason, never a rewrite."""

import html
import re
from datetime import timedelta

from sqlmodel import select

from app.db import utcnow
from app.doses.models import Dose, DoseRevision
from app.templating import local_input
from tests import factories


def _logged_dose(db, auth, client, **protocol_overrides):
    _, patient, _ = factories.patient_with_protocol(db, **protocol_overrides)
    db.commit()
    auth.login(patient.email)
    taken = (utcnow() - timedelta(hours=2)).isoformat()
    response = factories.sync_post(client, factories.sync_item("dose", {
        "taken_at": taken, "dose_mg": "100", "route": "sublingual",
            "no_gate_reason": "Logged later."}))
    assert response.json()["results"][0]["status"] == "created"
    return patient, db.exec(select(Dose).where(Dose.patient_id == patient.id)).one()


def test_a_correction_keeps_the_old_value_and_the_reason(db, auth, client):
    _, dose = _logged_dose(db, auth, client)
    response = auth.post(f"/doses/{dose.id}/correct",
                         {"dose_mg": "50", "lot": "K-77", "reason": "Only took half"})
    assert response.status_code == 303
    db.expire_all()
    corrected = db.get(Dose, dose.id)
    assert (corrected.dose_mg, corrected.lot, corrected.revision) == (50, "K-77", 2)
    revision = db.exec(select(DoseRevision).where(DoseRevision.dose_id == dose.id)).one()
    assert revision.reason == "Only took half"
    assert revision.before == {"dose_mg": "100.00", "lot": None}
    assert "corrected" in auth.client.get("/doses").text


def test_a_correction_that_sends_the_time_back_as_the_form_shows_it_does_not_move_the_dose(
        db, auth, client):
    """The correction form is filled with the recorded time to the minute; adding a lot number
    must not drop the time's seconds and record a time revision."""
    patient, dose = _logged_dose(db, auth, client)
    dose_id, recorded = dose.id, dose.taken_at
    assert recorded.second or recorded.microsecond  # the dose has seconds to lose
    shown = local_input(recorded, patient.timezone)
    assert shown in client.get("/doses").text  # as the form shows it
    response = auth.post(f"/doses/{dose_id}/correct",
                         {"taken_at": shown, "lot": "K-77", "reason": "Adding the lot"})
    assert response.status_code == 303
    db.expire_all()
    corrected = db.get(Dose, dose_id)
    assert corrected.taken_at == recorded and corrected.lot == "K-77"
    revision = db.exec(select(DoseRevision).where(DoseRevision.dose_id == dose_id)).one()
    assert revision.before == {"lot": None}
    # A time that really changed is still a change.
    earlier = local_input(recorded - timedelta(minutes=30), patient.timezone)
    auth.post(f"/doses/{dose_id}/correct", {"taken_at": earlier, "reason": "Half an hour before"})
    db.expire_all()
    assert db.get(Dose, dose_id).taken_at < recorded - timedelta(minutes=29)


def test_a_correction_over_a_limit_is_kept_and_flagged(db, auth, client):
    _, dose = _logged_dose(db, auth, client, max_mg_per_24h="200")
    response = auth.post(f"/doses/{dose.id}/correct",
                         {"dose_mg": "300", "reason": "Took three troches, not one"})
    assert response.status_code == 303
    db.expire_all()
    flags = db.get(Dose, dose.id).flags
    assert "corrected_over_limit" in flags and "over_24h_max" in flags


def test_a_dose_moved_before_its_safety_check_is_flagged_as_without_one(db, auth, client):
    """Checked at 8:13 and logged at 8:13, then corrected to 7:55: the dose still read as
    checked everywhere (the timeline, the PDF, the list's flags) though the check came 18
    minutes after it. Moved within the check's window it stays checked."""
    _, patient, _ = factories.patient_with_protocol(db)
    db.commit()
    auth.login(patient.email)
    checked = factories.sync_post(client, factories.sync_item(
        "gate", factories.gate_data())).json()["results"][0]
    now = utcnow()
    factories.sync_post(client, factories.sync_item("dose", {
        "taken_at": now.isoformat(), "dose_mg": "100", "route": "sublingual",
        "gate_id": checked["id"]}))
    dose = db.exec(select(Dose).where(Dose.patient_id == patient.id)).one()
    assert "no_gate" not in dose.flags

    later = local_input(now + timedelta(minutes=10), patient.timezone)
    assert auth.post(f"/doses/{dose.id}/correct", {
        "taken_at": later, "reason": "A few minutes later"}).status_code == 303
    db.expire_all()
    assert "no_gate" not in db.get(Dose, dose.id).flags

    before = local_input(now - timedelta(minutes=18), patient.timezone)
    assert auth.post(f"/doses/{dose.id}/correct", {
        "taken_at": before, "reason": "Took it before I checked"}).status_code == 303
    db.expire_all()
    corrected = db.get(Dose, dose.id)
    assert "no_gate" in corrected.flags and "corrected_over_limit" not in corrected.flags
    assert corrected.gate_id is not None  # what was logged stays linked
    page = html.unescape(client.get("/doses").text)
    assert "No safety check" in page
    # Its session record no longer calls the check "before the dose".
    assert "Safety check, made after the dose's time" in page
    assert "Safety check before the dose" not in page


def test_a_correction_without_a_reason_or_with_a_bad_amount_changes_nothing(db, auth, client):
    _, dose = _logged_dose(db, auth, client)
    for data, message, field in (
        ({"dose_mg": "50", "reason": ""}, "Say why, for the record.", "reason"),
        ({"dose_mg": "lots", "reason": "typo"}, "Enter a number of mg.", "mg"),
        ({"dose_mg": "30", "reason": "typo"}, "half troches", "mg"),
    ):
        response = auth.post(f"/doses/{dose.id}/correct", data)
        assert response.status_code == 422
        assert message in response.text
        # Beside its field, which is marked: the reason's box is at the form's end, out of
        # sight of a message above the form.
        error_id = f"correct-{dose.id}-{field}-error"
        assert re.search(rf'<p class="field-error" id="{error_id}"[^>]*>[^<]*{message}',
                         response.text), response.text
        assert f'aria-invalid="true" aria-describedby="{error_id}"' in response.text
    db.expire_all()
    assert db.get(Dose, dose.id).revision == 1
    assert db.exec(select(DoseRevision)).all() == []
