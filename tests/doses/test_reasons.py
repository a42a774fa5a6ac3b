"""A safety check's reasons are kept as codes and numbers and put into words when shown, in the
reader's language (app/doses/reasons.py): the Spanish-speaking patient reads Spanish, their
prescriber reads English, and a patient who changes language reads their old holds in the new
one."""

import csv
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from app import i18n
from app.db import utcnow
from app.doses import reasons, rules
from app.doses.models import GateCheck
from app.doses.rules import Reason, ReasonCode
from app.exports import csv_export, fhir, records
from tests import factories
from tests.factories import gate_data, sync_item, sync_post

AT = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
TZ = "America/Chicago"

# One reason of every code, with parameters of the types the rules give them.
EVERY_CODE = [
    Reason(ReasonCode.TOO_SOON, {"hours": Decimal("48"), "next_allowed_at": AT,
                                 "conflicting_at": (AT - timedelta(hours=3),)}),
    Reason(ReasonCode.OVER_24H_MAX, {"limit_mg": Decimal("150.00"),
                                     "total_mg": Decimal("212.5")}),
    Reason(ReasonCode.OVER_7D_MAX, {"limit_mg": Decimal("1200"), "total_mg": Decimal("1250")}),
    Reason(ReasonCode.BP_HOLD, {"systolic": 166, "diastolic": 98, "hold_systolic": 160,
                                "hold_diastolic": 100}),
    Reason(ReasonCode.BP_EMERGENCY, {"systolic": 182, "diastolic": 96, "crisis_systolic": 180,
                                     "crisis_diastolic": 120}),
    Reason(ReasonCode.SITTER_REQUIRED, {}),
    Reason(ReasonCode.CHECKLIST_FAILED, {"items": ("fasted", "no_driving")}),
    Reason(ReasonCode.PULSE_HOLD, {"heart_rate": 118, "low": 50, "high": None}),
    Reason(ReasonCode.SAFETY_REVIEW, {}),
    Reason(ReasonCode.SCREENER_PENDING, {}),
    Reason(ReasonCode.RECENT_EMERGENCY, {"at": AT - timedelta(hours=2),
                                         "until": AT + timedelta(hours=22)}),
]


def test_the_sample_covers_every_code():
    assert {r.code for r in EVERY_CODE} == set(ReasonCode)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("reason", EVERY_CODE, ids=lambda r: r.code.value)
def test_a_stored_reason_reads_as_the_rules_gave_it(reason, language):
    # Through JSON, as the column keeps it: the same words as the reason straight from the rules.
    kept = json.loads(json.dumps(reasons.stored([reason])))
    assert kept[0]["code"] == reason.code.value and "message" not in kept[0]
    with i18n.using(language):
        expected = reasons.reason_message(reason, TZ)
        assert reasons.text(kept[0], TZ) == expected
        assert reasons.shown(kept, TZ) == [{**kept[0], "message": expected}]
    assert expected and expected != reason.code.value


@pytest.mark.parametrize("reason", EVERY_CODE, ids=lambda r: r.code.value)
def test_a_clinician_reads_each_reason_about_the_patient_not_addressed_to_them(reason):
    """The prescriber's timeline and the FHIR export read a hold as the record says it ("the
    hold limit", "Not confirmed: ..."), never as the patient was told it ("your hold limit",
    "Wait until you have, then check again"): the same numbers, no second person."""
    kept = json.loads(json.dumps(reasons.stored([reason])))[0]
    with i18n.using("en"):
        told, recorded = reasons.text(kept, TZ), reasons.text_about_patient(kept, TZ)
    assert not re.search(r"\b(you|your)\b", recorded, re.I), recorded
    # Every number the patient was told is in the record's sentence, in the same order.
    numbers = re.findall(r"\d+", recorded)
    assert [n for n in numbers if n in re.findall(r"\d+", told)] == re.findall(r"\d+", told)
    if not re.search(r"\b(you|your)\b", told, re.I):
        assert recorded == told  # one sentence for every reader
    with i18n.using("es"):
        spanish = reasons.text_about_patient(kept, TZ)
    assert spanish != recorded and not re.search(r"\b(usted|su|sus)\b", spanish), spanish


def test_the_prescribers_timeline_reads_a_hold_about_the_patient(db, auth, client):
    prescriber, patient, _version = factories.patient_with_protocol(db, sitter_required=True)
    db.commit()
    assert auth.login(patient.email).status_code == 303
    sync_post(client, sync_item("gate", gate_data(
        systolic=166, diastolic=98,
        checklist={**factories.CHECKLIST_ALL_YES, "sitter_present": False})))
    auth.logout()
    assert auth.login(prescriber.email).status_code == 303
    page = client.get(f"/patients/{patient.id}")
    assert page.status_code == 200
    shown = re.sub(r"\s+", " ", page.text)
    assert "is at or above the hold limit of" in shown
    assert "A sitter must be present for this session, and none was confirmed." in shown
    assert "your hold limit" not in shown and "Your sitter" not in shown


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_phones_sentences_have_a_slot_for_each_number_the_rules_give(language):
    """Offline, the phone fills each reason's sentence from the parameters its own copy of the
    rules gives (offline.js): every {slot} must name one of them, whatever the language."""
    with i18n.using(language):
        sentences = reasons.sentences()
    assert set(sentences) == {code.value for code in ReasonCode}
    for reason in EVERY_CODE:
        slots = set(re.findall(r"\{(\w+)\}", sentences[reason.code.value]))
        assert slots <= set(reason.params), reason.code
        filled = re.sub(r"\{(\w+)\}", "", sentences[reason.code.value])
        assert "{" not in filled and "}" not in filled


def test_the_words_follow_the_reader_and_the_times_the_patients_zone():
    (kept,) = reasons.stored([EVERY_CODE[0]])
    english = reasons.text(kept, TZ)
    with i18n.using("es"):
        spanish = reasons.text(kept, TZ)
    assert english.startswith("Too soon: doses must be at least 48 hours apart.")
    assert spanish.startswith("Demasiado pronto: entre dosis debe haber al menos 48 horas.")
    assert "9:30" in english and "9:30" in spanish  # 15:30 UTC is 9:30 in Chicago
    assert "9:30" not in reasons.text(kept, "Europe/Madrid")


def test_a_reason_stored_before_parameters_were_kept_shows_its_own_words():
    legacy = {"code": "bp_hold", "message": "La presión arterial 170/95 está en su límite."}
    assert reasons.text(legacy, TZ) == legacy["message"]


@pytest.mark.parametrize("stored", [
    {"code": "retired_rule", "params": {}, "message": "Words of a rule since removed."},
    {"code": "bp_hold", "params": {"systolic": 170}, "message": "Words of a damaged row."},
    {"code": "recent_emergency", "params": {"until": "not a time"},
     "message": "Words of a damaged row."},
])
def test_a_reason_that_cannot_be_worded_again_shows_what_it_has(stored):
    assert reasons.text(stored, TZ) == stored["message"]
    assert reasons.text({k: v for k, v in stored.items() if k != "message"}, TZ) == stored["code"]


def test_the_gate_rules_stored_parameters_are_json():
    policy = rules.GuardPolicy(
        min_hours_between_doses=Decimal(48), max_mg_per_24h=Decimal(150),
        max_mg_per_7d=Decimal(1200), bp_hold_systolic=160, bp_hold_diastolic=100,
        sitter_required=True, required_checklist=frozenset({"fasted"}))
    result = rules.evaluate_gate(
        policy, [rules.PastDose(AT - timedelta(hours=3), Decimal(100))],
        rules.GateAnswers(systolic=166, diastolic=98, heart_rate=70, checklist={}),
        AT, Decimal(100))
    kept = reasons.stored(result.reasons)
    assert json.loads(json.dumps(kept)) == kept
    assert [r["code"] for r in kept] == ["bp_hold", "too_soon", "over_24h_max",
                                         "sitter_required", "checklist_failed"]
    assert kept[1]["params"]["conflicting_at"] == [(AT - timedelta(hours=3)).isoformat()]


# --- through the app --------------------------------------------------------------------------


@pytest.fixture
def spanish_patient(db, login_as):
    """A signed-in patient who reads Spanish, with a plan whose session is now."""
    patient = login_as("patient", language="es", timezone=TZ)
    prescriber = factories.user(db, role="prescriber", language="en")
    factories.protocol(db, prescriber, patient, **factories.session_now_protocol(patient))
    db.commit()
    return patient, prescriber


def _held(client) -> dict:
    response = sync_post(client, sync_item("gate", gate_data(systolic=170, diastolic=95)))
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["verdict"] == "hold"
    return result


SPANISH = "La presión arterial 170/95 está en su límite de pausa de 160/100 o por encima."
ENGLISH = "Blood pressure 170/95 is at or above your hold limit of 160/100."
# As a clinician reads the record (the prescriber's timeline, FHIR): about the patient.
ENGLISH_RECORD = "Blood pressure 170/95 is at or above the hold limit of 160/100."


def test_a_hold_reads_in_each_readers_language(db, client, auth, spanish_patient):
    patient, prescriber = spanish_patient
    # Offline, the phone words its own verdict from the same sentences, in her language.
    assert ('data-text-reason-bp_hold="La presión arterial {systolic}/{diastolic} está en su '
            'límite de pausa de {hold_systolic}/{hold_diastolic} o por encima."'
            ) in client.get("/today").text
    result = _held(client)
    assert [r["message"] for r in result["reasons"]] == [SPANISH]
    stored = db.exec(select(GateCheck).where(GateCheck.patient_id == patient.id)).one().reasons
    assert stored == [{"code": "bp_hold", "params": {
        "systolic": 170, "diastolic": 95, "hold_systolic": 160, "hold_diastolic": 100}}]
    assert SPANISH in client.get("/today").text

    # Their prescriber reads the same hold in English on the patient's timeline.
    client.cookies.clear()
    assert auth.login(prescriber.email).status_code == 303
    timeline = client.get(f"/patients/{patient.id}").text
    assert ENGLISH_RECORD in timeline and SPANISH not in timeline

    # The patient changes language: the hold they were shown reads in the new one.
    patient.language = "en"
    db.add(patient)
    db.commit()
    client.cookies.clear()
    assert auth.login(patient.email).status_code == 303
    today = client.get("/today").text
    assert ENGLISH in today and SPANISH not in today


def test_exports_word_a_hold_for_their_reader(db, client, spanish_patient):
    patient, _prescriber = spanish_patient
    _held(client)
    day = utcnow().astimezone(ZoneInfo(TZ)).date()
    with i18n.using("en"):  # an English-speaking prescriber asked
        found = records.gather(db, patient, day - timedelta(days=1), day + timedelta(days=1))
        bundle = fhir.bundle(found, generated_at=utcnow())
        archive = csv_export.patient_zip(found, generated_at=utcnow())
    not_done = [e["resource"] for e in bundle["entry"]
                if e["resource"]["resourceType"] == "MedicationAdministration"
                and e["resource"]["status"] == "not-done"]
    assert [r["text"] for r in not_done[0]["statusReason"]] == [ENGLISH_RECORD]
    with zipfile.ZipFile(io.BytesIO(archive)) as files:
        gates = list(csv.DictReader(io.StringIO(files.read("gates.csv").decode()[1:])))
    # The CSV's column is "why, as the patient was told": in the patient's language.
    assert [(g["reason_codes"], g["reason_messages"]) for g in gates] == [("bp_hold", SPANISH)]
