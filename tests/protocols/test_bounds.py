"""The protocol's bounds an exploratory tester found open: a missed-session grace of 0 hours, a
diastolic hold at or above the systolic one, phase changes backdated or years ahead, a plan
starting years ahead, and tampered choices refused with nothing marked. Each is refused beside
its field, the form comes back as typed, and nothing is written; the boundary values pass."""

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from app.db import utcnow
from app.errors import Invalid
from app.protocols import routes
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion
from tests import factories
from tests.protocols.test_routes import FORM

GRACE_TOO_SHORT = "Enter 1 or more."
DIASTOLIC_NOT_BELOW = "Enter less than {s}: the diastolic hold must be below the systolic hold."
TOO_FAR = "Enter a date at most 365 days ahead: {last} or earlier."
BACKDATED = ("A phase change cannot be backdated: enter {first} (today in the patient&#39;s "
             "time zone) or later.")


def _count(db) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(ProtocolVersion)).one()


def _field_error(html: str, name: str) -> str | None:
    match = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', html)
    return match.group(1) if match else None


def _input(html: str, name: str) -> str:
    match = re.search(rf'<input id="{name}" name="{name}"[^>]*>', html)
    assert match, name
    return match.group(0)


def _value(html: str, name: str) -> str | None:
    match = re.search(r'value="([^"]*)"', _input(html, name))
    return match.group(1) if match else None


def _day(value: date) -> str:
    """A date as the English messages write it ("Dec 5, 2026")."""
    return f"{value:%b} {value.day}, {value.year}"


def _patient_today(patient) -> date:
    return utcnow().astimezone(ZoneInfo(patient.timezone)).date()


def _zone_not_on_utcs_date() -> str:
    """A zone whose date differs from UTC's right now, so "today" can only be the patient's:
    UTC+14 is a day ahead from 10:00 UTC, UTC-11 a day behind until 11:00 UTC."""
    return "Pacific/Kiritimati" if utcnow().hour >= 10 else "Pacific/Pago_Pago"


@pytest.fixture
def team(db, login_as):
    """A signed-in prescriber and their patient, whose date is not UTC's."""
    prescriber = login_as("prescriber")
    patient = factories.user(db, role="patient", timezone=_zone_not_on_utcs_date())
    factories.link(db, patient, prescriber)
    db.commit()
    return prescriber, patient


def _post_protocol(auth, patient, **changes):
    return auth.post(f"/patients/{patient.id}/protocol",
                     {**FORM, **changes, "client_id": str(uuid.uuid4())})


def _refused(db, response, field: str, message: str, before: int) -> str:
    assert response.status_code == 422, response.text
    html = response.text
    assert _field_error(html, field) == message
    assert re.search(rf'aria-describedby="(?:[^"]* )?{field}-error"', html)
    assert _count(db) == before
    return html


# --- 1. the missed-session grace: at least an hour ---------------------------------------------


@pytest.mark.parametrize("grace", ["0", "0.5", "0.99"])
def test_a_grace_under_an_hour_is_refused_by_the_field(db, auth, team, grace):
    _, patient = team
    html = _refused(db, _post_protocol(auth, patient, grace_hours=grace), "grace_hours",
                    GRACE_TOO_SHORT, 0)
    assert "Please correct the fields marked below." in html
    # As typed: the grace itself and the rest of the form.
    assert _value(html, "grace_hours") == grace
    assert _value(html, "bp_hold_systolic") == "160"
    assert 'name="induction_weekdays" value="3" checked' in html


def test_a_grace_from_one_to_48_hours_is_saved(db, auth, team):
    _, patient = team
    for refused, saved in (("0.99", "1"), ("48.01", "48")):  # the maximum stays as it was
        assert _post_protocol(auth, patient, grace_hours=refused).status_code == 422
        response = _post_protocol(auth, patient, grace_hours=saved)
        assert response.status_code == 303, response.text
        db.expire_all()
        assert protocols.current(db, patient.id).grace_hours == Decimal(saved)
    assert _count(db) == 2


def test_the_grace_field_carries_the_servers_bounds(client, team):
    _, patient = team
    page = client.get(f"/patients/{patient.id}/protocol").text
    grace = _input(page, "grace_hours")
    assert 'min="1"' in grace and 'max="48"' in grace and 'step="any"' in grace
    assert "1 to 48; usually 4." in page


def test_every_amount_field_takes_a_decimal_in_the_browser(client, team):
    """A number input without a step allows whole numbers only: the browser itself refused a
    12.5 mg troche before the server could say anything."""
    _, patient = team
    page = client.get(f"/patients/{patient.id}/protocol").text
    for name in ("strength_mg", "dose_mg", "max_mg_per_24h", "max_mg_per_7d",
                 "min_hours_between_doses", "grace_hours"):
        field = _input(page, name)
        assert 'inputmode="decimal"' in field and 'step="any"' in field, field


# --- 2. the diastolic hold below the systolic one ---------------------------------------------


@pytest.mark.parametrize("diastolic", ["110", "100"])
def test_a_diastolic_hold_not_below_the_systolic_is_refused_by_the_field(db, auth, team,
                                                                         diastolic):
    _, patient = team
    html = _refused(db, _post_protocol(auth, patient, bp_hold_systolic="100",
                                       bp_hold_diastolic=diastolic),
                    "bp_hold_diastolic", DIASTOLIC_NOT_BELOW.format(s=100), 0)
    assert _value(html, "bp_hold_systolic") == "100"
    assert _value(html, "bp_hold_diastolic") == diastolic
    assert _field_error(html, "bp_hold_systolic") is None


def test_a_diastolic_hold_one_below_the_systolic_is_saved(db, auth, team):
    _, patient = team
    equal = _post_protocol(auth, patient, bp_hold_systolic="100", bp_hold_diastolic="100")
    assert equal.status_code == 422
    response = _post_protocol(auth, patient, bp_hold_systolic="100", bp_hold_diastolic="99")
    assert response.status_code == 303, response.text
    db.expire_all()
    version = protocols.current(db, patient.id)
    assert (version.bp_hold_systolic, version.bp_hold_diastolic) == (100, 99)


# --- 3. dates: a phase change from the patient's today to a year ahead -------------------------


def _post_phase(auth, patient, effective_on: str):
    return auth.post(f"/patients/{patient.id}/phase", {
        "phase_client_id": str(uuid.uuid4()), "phase": "maintenance",
        "effective_on": effective_on, "phase_reason": "Good response.",
    })


@pytest.fixture
def with_protocol(db, team):
    prescriber, patient = team
    factories.protocol(db, prescriber, patient)
    db.commit()
    return prescriber, patient


@pytest.mark.parametrize(("refused", "days"), [(-1, 0), (366, 365)])
def test_a_phase_change_from_the_patients_today_to_a_year_ahead_is_saved(
        db, auth, with_protocol, refused, days):
    _, patient = with_protocol
    outside = _patient_today(patient) + timedelta(days=refused)
    assert _post_phase(auth, patient, outside.isoformat()).status_code == 422
    day = _patient_today(patient) + timedelta(days=days)
    response = _post_phase(auth, patient, day.isoformat())
    assert response.status_code == 303, response.text
    db.expire_all()
    assert protocols.current(db, patient.id).timeline[-1] == {
        "phase": "maintenance", "starts_on": day.isoformat()}


def test_the_phase_date_field_offers_only_the_days_the_server_takes(client, with_protocol):
    _, patient = with_protocol
    today = _patient_today(patient)
    page = client.get(f"/patients/{patient.id}").text
    field = re.search(r'<input id="effective_on"[^>]*>', page).group(0)
    assert f'min="{today.isoformat()}"' in field
    assert f'max="{(today + timedelta(days=365)).isoformat()}"' in field


def test_a_backdated_phase_change_is_refused_in_the_patients_time_zone(db, auth, with_protocol):
    _, patient = with_protocol
    today = _patient_today(patient)
    yesterday = today - timedelta(days=1)
    html = _refused(db, _post_phase(auth, patient, yesterday.isoformat()), "effective_on",
                    BACKDATED.format(first=_day(today)), 1)
    assert _value(html, "effective_on") == yesterday.isoformat()
    assert _value(html, "phase_reason") == "Good response."
    assert 'option value="maintenance" selected' in html


@pytest.mark.parametrize("effective_on", ["2020-01-01", "past"])
def test_a_phase_change_years_back_is_refused(db, auth, with_protocol, effective_on):
    _, patient = with_protocol
    if effective_on == "past":
        effective_on = (_patient_today(patient) - timedelta(days=400)).isoformat()
    html = _refused(db, _post_phase(auth, patient, effective_on), "effective_on",
                    BACKDATED.format(first=_day(_patient_today(patient))), 1)
    assert _value(html, "effective_on") == effective_on


@pytest.mark.parametrize("days", [366, 1000])
def test_a_phase_change_more_than_a_year_ahead_is_refused(db, auth, with_protocol, days):
    _, patient = with_protocol
    day = _patient_today(patient) + timedelta(days=days)
    html = _refused(db, _post_phase(auth, patient, day.isoformat()), "effective_on",
                    TOO_FAR.format(last=_day(_patient_today(patient) + timedelta(days=365))), 1)
    assert _value(html, "effective_on") == day.isoformat()


def test_the_testers_2030_phase_change_is_refused(db, auth, with_protocol):
    _, patient = with_protocol
    response = _post_phase(auth, patient, "2030-01-01")
    assert response.status_code == 422, response.text
    assert _field_error(response.text, "effective_on").startswith(
        "Enter a date at most 365 days ahead")
    assert _count(db) == 1


# --- 3b. the plan's start: in the past (a running plan), at most a year ahead --------------------


@pytest.mark.parametrize("days", [-400, -1, 0, 365])
def test_a_plan_may_start_in_the_past_or_up_to_a_year_ahead(db, auth, team, days):
    _, patient = team
    too_far = _patient_today(patient) + timedelta(days=366)
    assert _post_protocol(auth, patient, starts_on=too_far.isoformat()).status_code == 422
    day = _patient_today(patient) + timedelta(days=days)
    response = _post_protocol(auth, patient, starts_on=day.isoformat())
    assert response.status_code == 303, response.text
    db.expire_all()
    assert protocols.current(db, patient.id).timeline[0]["starts_on"] == day.isoformat()


def test_a_plan_starting_more_than_a_year_ahead_is_refused_by_the_field(db, auth, team):
    _, patient = team
    day = _patient_today(patient) + timedelta(days=366)
    html = _refused(db, _post_protocol(auth, patient, starts_on=day.isoformat()), "starts_on",
                    TOO_FAR.format(last=_day(_patient_today(patient) + timedelta(days=365))), 0)
    assert _value(html, "starts_on") == day.isoformat()
    assert _value(html, "dose_mg") == "150"


def test_the_start_field_carries_the_last_day_and_a_new_plan_starts_on_the_patients_today(
        client, team):
    _, patient = team
    page = client.get(f"/patients/{patient.id}/protocol").text
    start = _input(page, "starts_on")
    last = _patient_today(patient) + timedelta(days=365)
    assert f'max="{last.isoformat()}"' in start and "min=" not in start
    assert _value(page, "starts_on") == _patient_today(patient).isoformat()


# --- the same rules for every caller of the service (there is no protocol API) ------------------

# 03:00 UTC on 10 March is still 9 March in Los Angeles (19:00 PST).
NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
LA_TODAY = date(2026, 3, 9)


@pytest.fixture
def la_team(db):
    prescriber = factories.user(db, role="prescriber")
    patient = factories.user(db, role="patient", timezone="America/Los_Angeles")
    factories.link(db, patient, prescriber)
    return prescriber, patient


def _save(db, prescriber, patient, **overrides):
    return protocols.save(db, prescriber=prescriber, patient_id=patient.id,
                          version_id=uuid.uuid4(), now=NOW,
                          values=factories.protocol_values(**overrides))


def _phase(db, prescriber, patient, effective_on: date):
    return protocols.change_phase(db, prescriber=prescriber, patient_id=patient.id,
                                  version_id=uuid.uuid4(), phase="maintenance",
                                  effective_on=effective_on, reason="Review.", now=NOW)


def _total(db) -> int:
    return db.exec(select(func.count()).select_from(ProtocolVersion)).one()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param({"grace_hours": "0"}, "grace_hours", GRACE_TOO_SHORT, id="grace-0"),
        pytest.param({"bp_hold_systolic": 110, "bp_hold_diastolic": 110}, "bp_hold_diastolic",
                     DIASTOLIC_NOT_BELOW.format(s=110), id="diastolic-equal"),
        pytest.param({"starts_on": "2027-03-10"}, "starts_on",
                     TOO_FAR.format(last="Mar 9, 2027"), id="start-366-days-ahead"),
    ],
)
def test_the_service_refuses_the_same_values(db, la_team, overrides, field, message):
    prescriber, patient = la_team
    with pytest.raises(Invalid) as caught:
        _save(db, prescriber, patient, **overrides)
    assert caught.value.errors[field] == message
    assert _total(db) == 0


@pytest.mark.parametrize(
    ("refused", "overrides"),
    [
        pytest.param({"grace_hours": "0"}, {"grace_hours": "1"}, id="grace-1"),
        pytest.param({"bp_hold_systolic": 110, "bp_hold_diastolic": 110},
                     {"bp_hold_systolic": 110, "bp_hold_diastolic": 109}, id="diastolic-1-below"),
        pytest.param({"starts_on": "2027-03-10"}, {"starts_on": "2027-03-09"},
                     id="start-365-days-ahead"),
        pytest.param({"starts_on": "2027-03-10"}, {"starts_on": "2025-01-06"},
                     id="start-in-the-past"),
    ],
)
def test_the_service_accepts_the_boundaries(db, la_team, refused, overrides):
    prescriber, patient = la_team
    with pytest.raises(Invalid):
        _save(db, prescriber, patient, **refused)
    _save(db, prescriber, patient, **overrides)
    assert _total(db) == 1


@pytest.mark.parametrize(
    ("effective_on", "message"),
    [
        # 9 March in Los Angeles, though already 10 March in UTC.
        (date(2026, 3, 8), BACKDATED.replace("&#39;", "'").format(first="Mar 9, 2026")),
        (date(2027, 3, 10), TOO_FAR.format(last="Mar 9, 2027")),
        (date(2020, 1, 1), BACKDATED.replace("&#39;", "'").format(first="Mar 9, 2026")),
    ],
)
def test_the_service_refuses_a_phase_change_outside_the_patients_year(db, la_team, effective_on,
                                                                      message):
    prescriber, patient = la_team
    _save(db, prescriber, patient)
    with pytest.raises(Invalid) as caught:
        _phase(db, prescriber, patient, effective_on)
    assert caught.value.errors == {"effective_on": message}
    assert _total(db) == 1


@pytest.mark.parametrize(("refused", "effective_on"), [
    (date(2026, 3, 8), LA_TODAY),
    (date(2026, 3, 8), date(2026, 3, 10)),
    (date(2027, 3, 10), date(2027, 3, 9)),
])
def test_the_service_accepts_a_phase_change_within_the_patients_year(db, la_team, refused,
                                                                     effective_on):
    prescriber, patient = la_team
    _save(db, prescriber, patient)
    with pytest.raises(Invalid):
        _phase(db, prescriber, patient, refused)
    version = _phase(db, prescriber, patient, effective_on)
    assert version.timeline[-1] == {"phase": "maintenance", "starts_on": effective_on.isoformat()}


def test_the_messages_are_in_spanish_for_a_spanish_speaking_prescriber(db, la_team):
    from app import i18n

    prescriber, patient = la_team
    i18n.activate("es")
    try:
        with pytest.raises(Invalid) as caught:
            _save(db, prescriber, patient, grace_hours="0", bp_hold_systolic=100,
                  bp_hold_diastolic=100, starts_on="2027-03-10")
        _save(db, prescriber, patient)
        with pytest.raises(Invalid) as phase:
            _phase(db, prescriber, patient, date(2026, 3, 8))
    finally:
        i18n.activate("en")
    assert caught.value.errors == {
        "grace_hours": "Escriba 1 o más.",
        "bp_hold_diastolic": "Escriba menos de 100: la pausa por diastólica debe ser menor que "
                             "la pausa por sistólica.",
        "starts_on": "Escriba una fecha de 365 días a partir de hoy como máximo: el 9 mar 2027 "
                     "o antes.",
    }
    assert phase.value.errors == {
        "effective_on": "Un cambio de fase no puede tener fecha pasada: escriba el 9 mar 2026 "
                        "(hoy en la zona horaria del paciente) o una fecha posterior."}


# --- tampered choices: marked where they were sent ---------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param({"route": "intravenous"}, "route", "Choose one of the options.",
                     id="route"),
        pytest.param({"induction_weekdays": ["0", "9"]}, "induction_weekdays",
                     "Choose weekdays from the list.", id="weekday-out-of-range"),
        # Used to be dropped quietly: the schedule saved without it.
        pytest.param({"induction_weekdays": ["0", "3", "mon"]}, "induction_weekdays",
                     "Choose weekdays from the list.", id="weekday-not-a-number"),
        pytest.param({"maintenance_cadence": "monthly"}, "maintenance",
                     "Choose one of the options.", id="cadence"),
        pytest.param({"required_checklist": ["fasted", "sitter_present"]}, "required_checklist",
                     "Choose one of the options.", id="checklist-item"),
        pytest.param({"overridable_holds": ["too_soon"]}, "overridable_holds",
                     "Choose one of the options.", id="overridable-hold"),
    ],
)
def test_a_tampered_choice_is_marked_by_its_field(db, auth, team, changes, field, message):
    _, patient = team
    response = _post_protocol(auth, patient, **changes)
    assert response.status_code == 422, response.text
    html = response.text
    assert "Please correct the fields marked below." in html
    assert _field_error(html, field) == message
    # The error is read with its field (after the field's hint, where it has one).
    assert re.search(rf'aria-describedby="(?:[^"]* )?{field}-error"', html)
    assert _value(html, "dose_mg") == "150"
    assert _count(db) == 0


def test_an_error_the_form_has_no_place_for_is_said_at_the_top(db, auth, team, monkeypatch):
    """Defensive: a field the form does not show is never refused in silence."""
    _, patient = team

    def refuse(*args, **kwargs):
        raise Invalid(errors={"mystery_field": "Enter a number."})

    monkeypatch.setattr(protocols, "save", refuse)
    response = _post_protocol(auth, patient)
    assert response.status_code == 422
    alert = re.search(r'<div class="alert alert-error" role="alert">([^<]*)</div>',
                      response.text).group(1)
    assert alert == "The form sent a choice it does not offer. Reload the page and try again."
    assert _count(db) == 0


def test_shown_errors_keeps_known_fields_and_folds_list_items():
    assert routes.shown_errors({
        "grace_hours": "Enter 1 or more.",
        "taper_weekdays_2": "Enter 6 or less.",
        "induction_cadence": "Choose one of the options.",
        "overridable_holds_0": "Choose one of the options.",
        "__all__": "Set up a protocol first.",
    }) == {
        "grace_hours": "Enter 1 or more.",
        "taper_weekdays": "Choose weekdays from the list.",
        "induction": "Choose one of the options.",
        "overridable_holds": "Choose one of the options.",
        "__all__": "Set up a protocol first.",
    }
