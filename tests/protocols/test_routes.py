"""The prescriber's protocol pages: edit with history, the 422 re-render, phase moves."""

import re
import uuid
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from app.db import utcnow
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion
from tests import factories

# A complete, valid submission of the protocol form (field names as edit.html sends them).
FORM = {
    "strength_mg": "100",
    "dose_mg": "150",
    "halving_allowed": "yes",
    "route": "buccal",
    "hold_minutes": "15",
    "min_hours_between_doses": "60",
    "max_mg_per_24h": "200",
    "max_mg_per_7d": "450",
    "bp_hold_systolic": "160",
    "bp_hold_diastolic": "100",
    "sitter_required": "yes",
    "required_checklist": ["fasted", "no_sedatives", "no_driving", "safe_place"],
    "fasting_hours": "2",
    "sedative_free_hours": "24",
    "grace_hours": "4",
    "early_refill_days": "10",
    "starts_on": "2026-01-05",
    "induction_cadence": "weekdays",
    "induction_weekdays": ["0", "3"],
    "induction_at": "10:00",
    "induction_weeks": "4",
    "maintenance_cadence": "interval",
    "maintenance_every_n_days": "7",
    "maintenance_at": "10:00",
    "taper_cadence": "",
    "reason": "Starting at-home treatment.",
}


def _patient_today(patient) -> date:
    """The patient's date now, in their time zone (phase changes are bounded by it)."""
    return utcnow().astimezone(ZoneInfo(patient.timezone)).date()


def _count(db) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(ProtocolVersion)).one()


@pytest.fixture
def prescriber_and_patient(db, login_as):
    prescriber = login_as("prescriber")
    patient = factories.user(db, role="patient", display_name="Jordan Test")
    factories.link(db, patient, prescriber)
    db.commit()
    return prescriber, patient


def _field_error(html: str, name: str) -> str | None:
    match = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', html)
    return match.group(1) if match else None


def _input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input id="{name}" name="{name}"[^>]*value="([^"]*)"', html)
    return match.group(1) if match else None


def test_new_protocol_page_leaves_clinical_limits_blank(client, prescriber_and_patient):
    _, patient = prescriber_and_patient
    page = client.get(f"/patients/{patient.id}/protocol")
    assert page.status_code == 200
    assert "Protocol for Jordan Test" in page.text
    # No silent default for the blood-pressure hold, the dose or the maxima.
    for name in ("bp_hold_systolic", "bp_hold_diastolic", "dose_mg", "strength_mg",
                 "max_mg_per_24h", "max_mg_per_7d"):
        assert _input_value(page.text, name) == "", name
    assert _input_value(page.text, "grace_hours") == "4"


def test_saving_the_form_creates_a_version_and_shows_it(db, auth, client,
                                                        prescriber_and_patient):
    prescriber, patient = prescriber_and_patient
    response = auth.post(f"/patients/{patient.id}/protocol",
                         {**FORM, "client_id": str(uuid.uuid4())})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/patients/{patient.id}?saved=protocol"

    db.expire_all()
    version = protocols.current(db, patient.id)
    assert version.version == 1 and version.created_by_id == prescriber.id
    assert str(version.route) == "buccal" and version.halving_allowed
    assert version.phases["induction"]["weekdays"] == [0, 3]
    assert "taper" not in version.phases

    detail = client.get(f"/patients/{patient.id}")
    assert "Version 1: 150 mg (100 mg troches), buccal." in detail.text
    assert "hold at 160/100" in detail.text

    # The edit page is prefilled from the current version, with a blank reason.
    edit = client.get(f"/patients/{patient.id}/protocol")
    assert _input_value(edit.text, "dose_mg") == "150"
    assert _input_value(edit.text, "bp_hold_systolic") == "160"
    assert 'name="induction_weekdays" value="3" checked' in edit.text
    assert re.search(r'name="reason"[^>]*>\s*</textarea>', edit.text)


def test_history_lists_versions_newest_first(db, auth, client, prescriber_and_patient):
    _, patient = prescriber_and_patient
    for dose, reason in (("100", "Start low."), ("150", "Partial response."),
                         ("200", "Still partial.")):
        response = auth.post(f"/patients/{patient.id}/protocol",
                             {**FORM, "dose_mg": dose, "reason": reason,
                              "client_id": str(uuid.uuid4())})
        assert response.status_code == 303, response.text
    page = client.get(f"/patients/{patient.id}/protocol").text
    history = page[page.index('id="history-heading"'):]
    found = re.findall(r"<strong>Version (\d) — [^<]*</strong> · (\d+) mg</p>\s*<p>([^<]+)</p>",
                       history)
    assert found == [("3", "200", "Still partial."), ("2", "150", "Partial response."),
                     ("1", "100", "Start low.")]


def test_a_double_submitted_form_saves_once(db, auth, prescriber_and_patient):
    _, patient = prescriber_and_patient
    form = {**FORM, "client_id": str(uuid.uuid4())}
    assert auth.post(f"/patients/{patient.id}/protocol", form).status_code == 303
    assert auth.post(f"/patients/{patient.id}/protocol", form).status_code == 303
    assert _count(db) == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"bp_hold_systolic": "", "bp_hold_diastolic": ""}, "bp_hold_systolic",
         "This is required."),
        ({"halving_allowed": ""}, "dose_mg",
         "Use whole troches of 100 mg: halving is not allowed."),
        ({"dose_mg": "300"}, "max_mg_per_24h", "The 24-hour maximum must be at least one dose."),
        ({"max_mg_per_7d": "150"}, "max_mg_per_7d",
         "The 7-day maximum cannot be lower than the 24-hour maximum."),
        ({"reason": "  "}, "reason", "This is required."),
        ({"grace_hours": "abc"}, "grace_hours", "Enter a number."),
        ({"bp_hold_systolic": "200"}, "bp_hold_systolic",
         "Enter less than 180: at 180 systolic or more the emergency guidance applies "
         "whatever the hold."),
        # A hold at the emergency level itself used to be accepted: it could never apply.
        ({"bp_hold_systolic": "180"}, "bp_hold_systolic",
         "Enter less than 180: at 180 systolic or more the emergency guidance applies "
         "whatever the hold."),
        ({"bp_hold_diastolic": "120"}, "bp_hold_diastolic",
         "Enter less than 120: at 120 diastolic or more the emergency guidance applies "
         "whatever the hold."),
        ({"min_hours_between_doses": "0"}, "min_hours_between_doses", "Enter more than 0."),
        # A number past what the interval warning could print was a 500; an exponent is now
        # refused as a typo before it is read at all.
        ({"min_hours_between_doses": "1e308"}, "min_hours_between_doses", "Enter a number."),
        ({"min_hours_between_doses": "721"}, "min_hours_between_doses", "Enter 720 or less."),
        # Pydantic's own English used to show here ("Decimal input should have no more than 2
        # decimal places", "… no more than 8 digits in total").
        ({"dose_mg": "100.005"}, "dose_mg", "Use at most 2 digits after the decimal point."),
        ({"max_mg_per_7d": "123456789"}, "max_mg_per_7d", "Enter 2000 or less."),
        ({"maintenance_at": "25:61"}, "maintenance_at", "Enter a time like 10:00."),
        # Seconds were stored as sent and shown without them: a session 30 s off the form.
        ({"maintenance_at": "10:00:30"}, "maintenance_at", "Enter a time like 10:00."),
        ({"starts_on": "2026-02-30"}, "starts_on", "Enter a date as YYYY-MM-DD."),
        ({"gate_valid_minutes": "200"}, "gate_valid_minutes", "Enter 120 or less."),
        ({"observation_minutes": "30"}, "observation_minutes", "Enter 60 or more."),
        ({"emergency_lockout_hours": "0"}, "emergency_lockout_hours", "Enter 1 or more."),
        ({"pulse_hold_low": "120", "pulse_hold_high": "110"}, "pulse_hold_low",
         "Enter 100 or less."),
        ({"pulse_hold_low": "60", "pulse_hold_high": "60"}, "pulse_hold_high",
         "The upper pulse limit must be above the lower one."),
    ],
)
def test_invalid_form_is_shown_again_with_values_and_the_error_by_the_field(
        db, auth, prescriber_and_patient, changes, field, message):
    _, patient = prescriber_and_patient
    response = auth.post(f"/patients/{patient.id}/protocol",
                         {**FORM, **changes, "client_id": str(uuid.uuid4())})
    assert response.status_code == 422
    html = response.text
    assert "Please correct the fields marked below." in html
    assert _field_error(html, field) == message.replace("'", "&#39;")
    # The error is one of the field's descriptions (a text area also names its limit).
    assert re.search(rf'aria-describedby="(?:[^"]* )?{field}-error"', html)
    # What the prescriber typed is kept.
    assert _input_value(html, "strength_mg") == "100"
    assert _input_value(html, "max_mg_per_24h") == changes.get("max_mg_per_24h", "200")
    assert _input_value(html, "induction_at") == "10:00"
    assert 'name="induction_weekdays" value="0" checked' in html
    assert 'name="required_checklist" value="no_driving" checked' in html
    assert 'option value="buccal" selected' in html
    assert _count(db) == 0


def test_weekday_schedule_without_days_is_reported_by_the_phase(db, auth,
                                                                prescriber_and_patient):
    _, patient = prescriber_and_patient
    form = {k: v for k, v in FORM.items() if k != "induction_weekdays"}
    response = auth.post(f"/patients/{patient.id}/protocol",
                         {**form, "client_id": str(uuid.uuid4())})
    assert response.status_code == 422
    assert _field_error(response.text, "induction") == "Choose at least one weekday."
    assert _count(db) == 0


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_prescriber_not_linked_to_the_patient_gets_404(db, auth, client, login_as, method):
    login_as("prescriber")
    owner = factories.user(db, role="prescriber")
    patient = factories.user(db, role="patient")
    factories.link(db, patient, owner)
    db.commit()
    for path in (f"/patients/{patient.id}/protocol", f"/patients/{patient.id}/phase"):
        if method == "get" and path.endswith("/phase"):
            continue
        if method == "get":
            response = client.get(path)
        else:
            response = auth.post(path, {**FORM, "client_id": str(uuid.uuid4()),
                                        "phase": "maintenance", "effective_on": "2026-01-19",
                                        "phase_reason": "x"})
        assert response.status_code == 404, path
    assert _count(db) == 0


@pytest.mark.parametrize("role", ["patient", "caregiver"])
def test_patients_and_caregivers_cannot_open_the_protocol_editor(db, auth, client, login_as,
                                                                 role):
    member = login_as(role)
    patient = member if role == "patient" else factories.user(db, role="patient")
    if role == "caregiver":
        factories.link(db, patient, member)
    db.commit()
    # The same 404 as for a patient who does not exist (issue 10), not a role refusal.
    assert client.get(f"/patients/{patient.id}/protocol").status_code == 404
    response = auth.post(f"/patients/{patient.id}/protocol",
                         {**FORM, "client_id": str(uuid.uuid4())})
    assert response.status_code == 404
    assert _count(db) == 0


def test_phase_change_from_the_patient_page(db, auth, client, prescriber_and_patient):
    prescriber, patient = prescriber_and_patient
    factories.protocol(db, prescriber, patient)
    db.commit()
    page = client.get(f"/patients/{patient.id}")
    assert f'action="/patients/{patient.id}/phase"' in page.text

    # A phase change takes effect from the patient's today at the earliest (see below).
    today = _patient_today(patient)
    response = auth.post(f"/patients/{patient.id}/phase", {
        "phase_client_id": str(uuid.uuid4()), "phase": "maintenance",
        "effective_on": today.isoformat(), "phase_reason": "Good response.",
    })
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/patients/{patient.id}?saved=phase"
    db.expire_all()
    version = protocols.current(db, patient.id)
    assert version.version == 2 and version.reason == "Good response."
    assert version.timeline[-1] == {"phase": "maintenance", "starts_on": today.isoformat()}
    # From today the patient is in maintenance.
    assert '<span class="badge">Maintenance</span>' in client.get(f"/patients/{patient.id}").text

    back_on = today + timedelta(days=14)
    back = auth.post(f"/patients/{patient.id}/phase", {
        "phase_client_id": str(uuid.uuid4()), "phase": "induction",
        "effective_on": back_on.isoformat(), "phase_reason": "Symptoms returned.",
    })
    assert back.status_code == 303
    db.expire_all()
    assert protocols.current(db, patient.id).timeline[-2:] == [
        {"phase": "induction", "starts_on": back_on.isoformat()},
        {"phase": "maintenance", "starts_on": (back_on + timedelta(weeks=4)).isoformat()},
    ]


def test_invalid_phase_change_is_shown_again(db, auth, prescriber_and_patient):
    prescriber, patient = prescriber_and_patient
    factories.protocol(db, prescriber, patient)
    db.commit()
    response = auth.post(f"/patients/{patient.id}/phase", {
        "phase_client_id": str(uuid.uuid4()), "phase": "maintenance",
        "effective_on": "", "phase_reason": " ",
    })
    assert response.status_code == 422
    assert _field_error(response.text, "phase_reason") == "Say why, for the record."
    assert _field_error(response.text, "effective_on") == "Enter the date the change takes effect."
    assert 'option value="maintenance" selected' in response.text
    assert _count(db) == 1


# --- session safety settings --------------------------------------------------------------------

SAFETY = {
    "gate_valid_minutes": "45",
    "observation_minutes": "180",
    "emergency_lockout_hours": "48",
    "pulse_hold_low": "50",
    "pulse_hold_high": "110",
    "overridable_holds": ["pulse_hold", "bp_hold"],
}
NEVER_OVERRIDABLE = ("too soon, over the 24-hour or 7-day maximum, an emergency reading now or "
                     "recently, a pending safety review and safety questions not yet answered "
                     "can never be overridden before dosing")


def _checked(html: str, name: str, value: str) -> bool:
    return f'name="{name}" value="{value}" checked' in html


def test_new_protocol_page_offers_the_session_safety_defaults(client, prescriber_and_patient):
    _, patient = prescriber_and_patient
    page = client.get(f"/patients/{patient.id}/protocol").text
    assert _input_value(page, "gate_valid_minutes") == "30"
    assert _input_value(page, "observation_minutes") == "120"
    assert _input_value(page, "emergency_lockout_hours") == "24"
    # No pulse limit unless the prescriber sets one, and nothing may be overridden by default.
    assert _input_value(page, "pulse_hold_low") == ""
    assert _input_value(page, "pulse_hold_high") == ""
    assert not re.search(r'<input id="pulse_hold_low"[^>]*required', page)
    for hold in ("bp_hold", "pulse_hold", "sitter_required", "checklist_failed"):
        assert f'name="overridable_holds" value="{hold}"' in page
        assert not _checked(page, "overridable_holds", hold)
    for label in ("Blood-pressure hold", "Pulse hold", "Sitter not present",
                  "Checklist not complete"):
        assert label in page
    assert NEVER_OVERRIDABLE in page.replace("\n", " ")


def test_session_safety_settings_are_saved_prefilled_and_summarised(db, auth, client,
                                                                    prescriber_and_patient):
    _, patient = prescriber_and_patient
    response = auth.post(f"/patients/{patient.id}/protocol",
                         {**FORM, **SAFETY, "client_id": str(uuid.uuid4())})
    assert response.status_code == 303, response.text
    db.expire_all()
    version = protocols.current(db, patient.id)
    assert (version.gate_valid_minutes, version.observation_minutes,
            version.emergency_lockout_hours) == (45, 180, 48)
    assert (version.pulse_hold_low, version.pulse_hold_high) == (50, 110)
    assert version.overridable_holds == ["bp_hold", "pulse_hold"]

    edit = client.get(f"/patients/{patient.id}/protocol").text
    for name in ("gate_valid_minutes", "observation_minutes", "emergency_lockout_hours",
                 "pulse_hold_low", "pulse_hold_high"):
        assert _input_value(edit, name) == SAFETY[name], name
    assert _checked(edit, "overridable_holds", "bp_hold")
    assert _checked(edit, "overridable_holds", "pulse_hold")
    assert not _checked(edit, "overridable_holds", "sitter_required")

    detail = client.get(f"/patients/{patient.id}").text
    summary = re.search(r'<p class="muted">(At least.*?)</p>', detail, re.S).group(1)
    assert "hold at 160/100." in summary
    assert "Pulse hold below 50 or above 110." in summary
    assert "Safety check valid 45 min" in summary
    assert "180 min" in summary and "48 h" in summary
    assert "daylight-saving" not in summary


@pytest.mark.parametrize(
    ("low", "high", "text"),
    [("", "120", "Pulse hold above 120."), ("45", "", "Pulse hold below 45."),
     ("", "", None)],
)
def test_the_summary_mentions_only_the_pulse_limits_set(db, auth, client, prescriber_and_patient,
                                                        low, high, text):
    _, patient = prescriber_and_patient
    response = auth.post(f"/patients/{patient.id}/protocol",
                         {**FORM, "pulse_hold_low": low, "pulse_hold_high": high,
                          "client_id": str(uuid.uuid4())})
    assert response.status_code == 303, response.text
    detail = client.get(f"/patients/{patient.id}").text
    summary = re.search(r'<p class="muted">(At least.*?)</p>', detail, re.S).group(1)
    if text:
        assert text in summary
    else:
        assert "Pulse" not in summary
    # Defaults, briefly.
    assert "Safety check valid 30 min" in summary


def test_session_safety_values_are_kept_when_the_form_comes_back(db, auth,
                                                                 prescriber_and_patient):
    _, patient = prescriber_and_patient
    response = auth.post(f"/patients/{patient.id}/protocol",
                         {**FORM, **SAFETY, "observation_minutes": "20",
                          "client_id": str(uuid.uuid4())})
    assert response.status_code == 422
    html = response.text
    assert _field_error(html, "observation_minutes") == "Enter 60 or more."
    assert _input_value(html, "observation_minutes") == "20"
    assert _input_value(html, "gate_valid_minutes") == "45"
    assert _input_value(html, "pulse_hold_low") == "50"
    assert _input_value(html, "pulse_hold_high") == "110"
    assert _checked(html, "overridable_holds", "pulse_hold")
    assert not _checked(html, "overridable_holds", "checklist_failed")
    assert _count(db) == 0


# --- the daylight-saving warning -----------------------------------------------------------------

EVERY_3_DAYS_FORM = {
    "induction_cadence": "interval", "induction_every_n_days": "3", "induction_weeks": "",
    "induction_weekdays": [], "maintenance_cadence": "", "min_hours_between_doses": "72",
}
DST_WARNING = ("Sessions are as little as 72 hours apart; across a daylight-saving change they "
               "are 71 hours apart, so a 72-hour minimum would hold that session as too soon, "
               "for up to an hour. If that wait is not what you mean, change the session times.")


def _warning(html: str) -> str | None:
    match = re.search(r'<p class="field-warning" id="min_hours_between_doses-warning">([^<]*)</p>',
                      html)
    return match.group(1) if match else None


def test_the_dst_warning_does_not_block_saving_and_shows_by_the_interval(db, auth, client,
                                                                         prescriber_and_patient):
    _, patient = prescriber_and_patient
    response = auth.post(f"/patients/{patient.id}/protocol",
                         {**FORM, **EVERY_3_DAYS_FORM, "client_id": str(uuid.uuid4())})
    assert response.status_code == 303, response.text
    assert _count(db) == 1

    edit = client.get(f"/patients/{patient.id}/protocol").text
    assert _warning(edit) == DST_WARNING
    assert re.search(r'<input id="min_hours_between_doses" name="min_hours_between_doses"'
                     r'[^>]*aria-describedby="min_hours_between_doses-warning"', edit)
    detail = client.get(f"/patients/{patient.id}").text
    summary = re.search(r'<p class="muted">(At least.*?)</p>', detail, re.S).group(1)
    assert DST_WARNING in summary


def test_the_dst_warning_shows_when_the_form_comes_back(db, auth, prescriber_and_patient):
    _, patient = prescriber_and_patient
    response = auth.post(f"/patients/{patient.id}/protocol",
                         {**FORM, **EVERY_3_DAYS_FORM, "min_hours_between_doses": "72",
                          "reason": " ", "client_id": str(uuid.uuid4())})
    assert response.status_code == 422
    assert _warning(response.text) == DST_WARNING
    assert _input_value(response.text, "min_hours_between_doses") == "72"
    # Fixed in the form: the warning goes with the problem.
    fixed = auth.post(f"/patients/{patient.id}/protocol",
                      {**FORM, **EVERY_3_DAYS_FORM, "min_hours_between_doses": "71",
                       "reason": " ", "client_id": str(uuid.uuid4())})
    assert fixed.status_code == 422
    assert _warning(fixed.text) is None


def test_no_dst_warning_for_the_usual_protocol(db, auth, client, prescriber_and_patient):
    _, patient = prescriber_and_patient
    assert _warning(client.get(f"/patients/{patient.id}/protocol").text) is None
    auth.post(f"/patients/{patient.id}/protocol", {**FORM, "client_id": str(uuid.uuid4())})
    assert _warning(client.get(f"/patients/{patient.id}/protocol").text) is None
    assert "daylight-saving" not in client.get(f"/patients/{patient.id}").text


def test_a_saved_protocol_moves_the_patients_reminders_at_once(db, auth, prescriber_and_patient):
    """The planner ran once a minute in the background; a session moved by the prescriber kept
    its reminders at the old time until then (one could go out meanwhile)."""
    from app.reminders.models import OccurrenceStatus, ReminderOccurrence

    _prescriber, patient = prescriber_and_patient
    today = _patient_today(patient)
    daily = {**FORM, "starts_on": (today - timedelta(days=7)).isoformat(),
             "induction_cadence": "interval", "induction_every_n_days": "1",
             "induction_weekdays": [], "induction_weeks": "", "maintenance_cadence": "",
             "maintenance_every_n_days": "", "maintenance_at": ""}

    def planned_sessions() -> set[str]:
        db.expire_all()
        return {r.local_time[11:] for r in db.exec(select(ReminderOccurrence).where(
            ReminderOccurrence.user_id == patient.id, ReminderOccurrence.rule == "session",
            ReminderOccurrence.status == OccurrenceStatus.PENDING)).all()}

    for at in ("06:00", "21:00"):
        response = auth.post(f"/patients/{patient.id}/protocol", {
            **daily, "induction_at": at, "client_id": str(uuid.uuid4())})
        assert response.status_code == 303, response.text
        assert planned_sessions() == {at}


def test_a_schedule_over_its_own_maximum_is_warned_of_and_saved(db, auth, client,
                                                                 prescriber_and_patient):
    """Daily at 150 mg with a 450 mg week saved without a word: every week, the sessions over
    450 mg would be held (never overridable) and then read missed."""
    _prescriber, patient = prescriber_and_patient
    daily = {**FORM, "induction_cadence": "interval", "induction_every_n_days": "1",
             "induction_weekdays": [], "client_id": str(uuid.uuid4())}
    warning = "In some 7 days this schedule has"
    # Refused for another field: the warning comes back with the form.
    refused = auth.post(f"/patients/{patient.id}/protocol", {**daily, "reason": ""})
    assert refused.status_code == 422 and warning in refused.text
    saved = auth.post(f"/patients/{patient.id}/protocol", daily)
    assert saved.status_code == 303
    assert warning in client.get(f"/patients/{patient.id}").text
    edit = client.get(f"/patients/{patient.id}/protocol").text
    assert 'id="maxima-warning"' in edit and warning in edit
    # Within its maximum, nothing is said.
    auth.post(f"/patients/{patient.id}/protocol", {**FORM, "client_id": str(uuid.uuid4())})
    assert warning not in client.get(f"/patients/{patient.id}/protocol").text


def test_a_phase_starting_within_the_interval_after_the_last_dose_is_warned_of(
        db, auth, client, prescriber_and_patient):
    """Dosed yesterday, minimum 48 hours; the prescriber moved the patient to maintenance every
    7 days from today: its first session is today, a day after the dose, and nothing said
    the safety check would hold it."""
    from app.doses import service as dose_service

    prescriber, patient = prescriber_and_patient
    later = (utcnow() + timedelta(hours=3)).astimezone(ZoneInfo(patient.timezone))
    if later.date() != _patient_today(patient):
        later = utcnow().astimezone(ZoneInfo(patient.timezone))  # late evening: now, still due
    weekly = {"cadence": "interval", "every_n_days": 7, "at": later.strftime("%H:%M")}
    factories.protocol(db, prescriber, patient, now=utcnow() - timedelta(days=20),
                       starts_on=(_patient_today(patient) - timedelta(days=20)).isoformat(),
                       induction={"cadence": "interval", "every_n_days": 3,
                                  "at": later.strftime("%H:%M"), "weeks": 8},
                       maintenance=weekly)
    db.commit()
    now = utcnow()
    # 25 hours ago, not 24: late in the evening the sessions are at this minute (seconds cut),
    # and induction's next one, tomorrow, would fall seconds inside the 48 hours.
    dose_service.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now, data={
        "taken_at": (now - timedelta(hours=25)).isoformat(), "dose_mg": "100",
        "route": "sublingual", "no_gate_reason": "On paper.", "override_reason": "History.",
        "already_taken": True}, now=now)
    db.commit()
    warning = "is within 48 hours of the last dose"
    assert warning not in client.get(f"/patients/{patient.id}").text

    response = auth.post(f"/patients/{patient.id}/phase", {
        "phase_client_id": str(uuid.uuid4()), "phase": "maintenance",
        "effective_on": _patient_today(patient).isoformat(), "phase_reason": "Stable."})
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert 'id="next-too-soon"' in page and warning in page


def test_a_start_date_that_ends_induction_at_once_is_said_after_saving(db, auth, client,
                                                                       prescriber_and_patient):
    """A start moved to 2020 (everything else unchanged) saved without a word, and the patient's
    page quietly read Maintenance instead of Induction."""
    _, patient = prescriber_and_patient
    today = _patient_today(patient)
    current = {**FORM, "starts_on": (today - timedelta(days=3)).isoformat()}
    assert auth.post(f"/patients/{patient.id}/protocol",
                     {**current, "client_id": str(uuid.uuid4())}).status_code == 303
    # A change that keeps the phase: only "Saved."
    kept = auth.post(f"/patients/{patient.id}/protocol",
                     {**current, "dose_mg": "100", "reason": "Lower dose.",
                      "client_id": str(uuid.uuid4())})
    assert kept.headers["location"] == f"/patients/{patient.id}?saved=protocol"

    moved = auth.post(f"/patients/{patient.id}/protocol",
                      {**current, "starts_on": "2020-01-01", "reason": "Backdated.",
                       "client_id": str(uuid.uuid4())})
    assert moved.status_code == 303
    page = client.get(moved.headers["location"]).text
    said = re.search(r'<p class="alert alert-hold" role="status" id="phase-moved">([^<]*)</p>',
                     page)
    assert said and said.group(1) == (
        "This save moved Jordan Test to Maintenance today, by the dates in the plan. If that is "
        "not what you meant, edit the start date or the weeks of induction; to move phases on "
        "purpose, use Change phase.")


def test_a_refused_amount_is_not_weighed_in_the_warnings(db, auth, prescriber_and_patient):
    """5000 mg refused ("Enter 2000 or less.") was still counted against the maxima: "some 7
    days hold 3 sessions (15,000 mg)", a figure from a value that cannot be saved."""
    _, patient = prescriber_and_patient
    response = auth.post(f"/patients/{patient.id}/protocol",
                         {**FORM, **EVERY_3_DAYS_FORM, "min_hours_between_doses": "48",
                          "dose_mg": "5000", "max_mg_per_24h": "6000", "max_mg_per_7d": "10000",
                          "client_id": str(uuid.uuid4())})
    assert response.status_code == 422
    assert response.text.count("Enter 2000 or less.") == 3
    assert 'id="maxima-warning"' not in response.text and "15,000" not in response.text
    # Amounts that could be saved are weighed when something else is refused: 150 mg every 3
    # days over a 7-day maximum of 300 mg holds sessions (the form came back for its reason).
    response = auth.post(f"/patients/{patient.id}/protocol",
                         {**FORM, **EVERY_3_DAYS_FORM, "min_hours_between_doses": "48",
                          "max_mg_per_7d": "300", "reason": " ",
                          "client_id": str(uuid.uuid4())})
    assert response.status_code == 422
    assert 'id="maxima-warning"' in response.text


def test_a_minimum_that_lets_a_second_dose_through_the_same_day_takes_a_tick(
        db, client, auth, prescriber_and_patient):
    """A tester typed a 4-hour minimum: it went live at once, and its warning was first read
    on the patient's page afterwards. Now the form comes back with the warning and a box to
    tick, nothing saved; ticked, it saves."""
    _, patient = prescriber_and_patient
    path = f"/patients/{patient.id}/protocol"
    short = {**FORM, "min_hours_between_doses": "4", "max_mg_per_24h": "300",
             "client_id": str(uuid.uuid4())}
    response = auth.post(path, short)
    assert response.status_code == 422
    page = response.text.replace("&#39;", "'")
    assert "lets a second 150 mg dose be taken the same day" in page
    assert re.search(r'<p class="field-error" id="confirm_short_interval-error">Tick this to save '
                     r"a minimum this short, or make the minimum longer.</p>", page)
    assert _input_value(page, "min_hours_between_doses") == "4"  # what was typed, kept
    assert db.exec(select(ProtocolVersion).where(
        ProtocolVersion.patient_id == patient.id)).all() == []
    response = auth.post(path, {**short, "confirm_short_interval": "yes"})
    assert response.status_code == 303, response.text
    [saved] = db.exec(select(ProtocolVersion).where(
        ProtocolVersion.patient_id == patient.id)).all()
    assert saved.min_hours_between_doses == 4
    # The form for the next version asks again while the minimum stays this short.
    assert 'name="confirm_short_interval"' in client.get(path).text
    # A minimum of 48 hours needs no tick.
    assert auth.post(path, {**FORM, "client_id": str(uuid.uuid4())}).status_code == 303
