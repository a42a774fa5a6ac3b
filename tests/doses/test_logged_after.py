"""A dose recorded through "I have already taken a dose" reads as logged afterwards wherever
it is shown. Its reason is the patient's account of what happened: the PDF called it an
"Override", the FHIR bundle a "reason given for dosing despite a hold", and the pages a
"Reason", as if the hold had been weighed before the dose."""

import html
import re
import uuid
from datetime import timedelta

from app.careteam import access
from app.careteam.models import Relation
from app.db import utcnow
from app.doses import service
from app.exports import csv_export, fhir, pdf
from app.exports.records import gather
from tests import factories
from tests.exports.test_csv import table, unzip
from tests.exports.test_pdf import flat, text_of

ACCOUNT = "Took it at 9 before I saw the check, sorry."


def _record(db, patient, ago: timedelta, **extra):
    now = utcnow()
    row = service.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now,
                              data={"taken_at": (now - ago).isoformat(), "dose_mg": "100",
                                    "route": "sublingual", "no_gate_reason": "Logged later.",
                                    **extra}, now=now)
    db.commit()
    return row


def _page_text(response) -> str:
    assert response.status_code == 200, response.text
    return flat(html.unescape(re.sub(r"<[^>]+>", " ", response.text)))


def test_a_dose_logged_after_it_was_taken_says_so_everywhere(db, auth, client, patient):
    at_the_time = _record(db, patient, timedelta(hours=70))
    quiet = _record(db, patient, timedelta(hours=3), already_taken=True)
    # Ten minutes later, against the plan's minimum interval: recorded, flagged, and the
    # patient's words are what happened.
    held = _record(db, patient, timedelta(hours=2, minutes=50), already_taken=True,
                   override_reason=ACCOUNT)
    assert quiet.override_reason is None and "too_soon" in held.flags
    account = f"Logged after it was taken. What happened: {ACCOUNT}"

    history = _page_text(client.get("/doses"))
    assert account in history and history.count("Logged after it was taken.") == 2
    assert f"despite a hold: {ACCOUNT}" not in history

    prescriber = access.care_team_of(db, patient.id, Relation.PRESCRIBER)[0]
    auth.logout()
    auth.login(prescriber.email)
    chart = _page_text(client.get(f"/patients/{patient.id}"))
    assert account in chart and f"despite a hold: {ACCOUNT}" not in chart

    today = utcnow().date()
    records = gather(db, patient, today - timedelta(days=4), today + timedelta(days=1))
    rows = {r["dose_id"]: r for r in table(unzip(
        csv_export.patient_zip(records, generated_at=utcnow()))["doses.csv"])}
    assert [rows[str(d.id)]["already_taken"] for d in (quiet, held, at_the_time)] == [
        "yes", "yes", "no"]

    _, text = text_of(pdf.render(records, generated_at=utcnow(), prescriber=prescriber))
    assert account in flat(text) and f"despite a hold: {ACCOUNT}" not in flat(text)

    notes = [n["text"] for e in fhir.bundle(records, generated_at=utcnow())["entry"]
             if e["resource"]["resourceType"] == "MedicationAdministration"
             for n in e["resource"].get("note", [])]
    assert any(account in n for n in notes)
    assert not any("despite a hold: " + ACCOUNT in n for n in notes)


def test_a_dose_despite_a_hold_and_one_without_a_check_read_alike_everywhere(
        db, auth, client, patient):
    """The same dose read "Reason given: …" to the patient, "Reason: …" on the chart,
    "Override: …" in the PDF and "Reason given for dosing despite a hold: …" in FHIR; a dose
    without a safety check "No safety check because", "No safety check" and "Why there was no
    safety check". One sentence each, wherever the record is read."""
    prescriber = access.care_team_of(db, patient.id, Relation.PRESCRIBER)[0]
    factories.protocol(db, prescriber, patient, overridable_holds=["bp_hold"],
                       **factories.session_now_protocol(patient))
    _record(db, patient, timedelta(hours=70))
    now = utcnow()
    check = service.record_gate(db, patient=patient, gate_id=uuid.uuid4(), checked_at=now,
                                data=factories.gate_data(systolic=165, diastolic=90), now=now)
    assert check.verdict == "hold"
    despite = service.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now,
                                  data={"taken_at": now.isoformat(), "dose_mg": "100",
                                        "route": "sublingual", "gate_id": str(check.id),
                                        "override_reason": "Rechecked at 150/88."}, now=now)
    db.commit()
    assert not despite.already_taken and "override" in despite.flags
    said = ["Reason given for dosing despite a hold: Rechecked at 150/88.",
            "No safety check because: Logged later."]

    history = _page_text(client.get("/doses"))
    auth.logout()
    auth.login(prescriber.email)
    chart = _page_text(client.get(f"/patients/{patient.id}"))
    today = utcnow().date()
    records = gather(db, patient, today - timedelta(days=4), today + timedelta(days=1))
    _, text = text_of(pdf.render(records, generated_at=utcnow(), prescriber=prescriber))
    notes = " ".join(n["text"] for e in fhir.bundle(records, generated_at=utcnow())["entry"]
                     if e["resource"]["resourceType"] == "MedicationAdministration"
                     for n in e["resource"].get("note", []))
    for where, words in {"history": history, "chart": chart, "PDF": flat(text),
                         "FHIR": notes}.items():
        for sentence in said:
            assert sentence in words, (where, sentence)
