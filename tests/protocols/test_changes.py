"""A protocol version says who saved it and what it changed from the one before (changes.py):
pure over versions, then on the prescriber's protocol page through the real form."""

import html
import re
import uuid
from copy import deepcopy
from decimal import Decimal

import pytest

from app import i18n
from app.protocols import changes
from app.protocols.models import ProtocolVersion
from tests import factories
from tests.protocols.test_routes import FORM


def _version(**overrides) -> ProtocolVersion:
    values = dict(
        id=uuid.uuid4(), patient_id=uuid.uuid4(), version=1, created_by_id=uuid.uuid4(),
        reason="Start.", strength_mg=Decimal("100.00"), halving_allowed=True,
        dose_mg=Decimal("150.00"), route="sublingual", hold_minutes=15,
        min_hours_between_doses=Decimal("48.00"), max_mg_per_24h=Decimal("200.00"),
        max_mg_per_7d=Decimal("450.00"), bp_hold_systolic=160, bp_hold_diastolic=100,
        sitter_required=True, required_checklist=["fasted", "no_sedatives"], fasting_hours=2,
        sedative_free_hours=24, grace_hours=Decimal("4.00"), early_refill_days=10,
        gate_valid_minutes=30, observation_minutes=120, emergency_lockout_hours=24,
        pulse_hold_low=None, pulse_hold_high=None, overridable_holds=[],
        phases={"induction": {"cadence": "weekdays", "weekdays": [0, 3], "at": "10:00",
                              "weeks": 4}},
        timeline=[{"phase": "induction", "starts_on": "2026-10-05"}])
    values.update(overrides)
    return ProtocolVersion(**values)


def _worded(found: list[changes.Change]) -> list[str]:
    return [f"{c.label}: {c.before} → {c.after}" for c in found]


def test_a_first_version_and_a_save_that_changed_nothing_list_no_change():
    first = _version()
    assert changes.changes(None, first) == []
    # The same settings, stored differently: amounts with other trailing zeros, the checklist
    # in another order.
    again = _version(version=2, min_hours_between_doses=Decimal("48"),
                     required_checklist=["no_sedatives", "fasted"], reason="Checked.")
    assert changes.changes(first, again) == []


# Every setting the form saves, changed alone, is one change in the form's words.
@pytest.mark.parametrize(("field", "value", "expected"), [
    ("strength_mg", Decimal("50"), "Troche strength (mg): 100 → 50"),
    ("dose_mg", Decimal("187.5"), "Dose per session (mg): 150 → 187.5"),
    ("halving_allowed", False, "Troches may be halved: Yes → No"),
    ("route", "buccal", "Route: sublingual → buccal"),
    ("hold_minutes", 20, "Hold time (minutes): 15 → 20"),
    ("min_hours_between_doses", Decimal("72"), "Minimum hours between doses: 48 → 72"),
    ("max_mg_per_24h", Decimal("300"), "Maximum mg in any 24 hours: 200 → 300"),
    ("max_mg_per_7d", Decimal("1200"), "Maximum mg in any 7 days: 450 → 1,200"),
    ("bp_hold_systolic", 150, "Hold at systolic ≥: 160 → 150"),
    ("bp_hold_diastolic", 95, "Hold at diastolic ≥: 100 → 95"),
    ("pulse_hold_low", 50, "Hold when pulse is below: — → 50"),
    ("pulse_hold_high", 120, "Hold when pulse is above: — → 120"),
    ("sitter_required", False, "A sitter must be present: Yes → No"),
    ("required_checklist", ["safe_place"],
     "Pre-dose checklist items that must be ticked: Fasted, No alcohol or sedatives → Safe "
     "place"),
    ("fasting_hours", 4, "Fast for (hours): 2 → 4"),
    ("sedative_free_hours", 12, "No sedatives for (hours): 24 → 12"),
    ("gate_valid_minutes", 15, "A safety check stays valid for (minutes): 30 → 15"),
    ("observation_minutes", 180, "Observation period (minutes): 120 → 180"),
    ("emergency_lockout_hours", 48,
     "Dosing locked after an emergency reading (hours): 24 → 48"),
    ("overridable_holds", ["bp_hold", "sitter_required"],
     "Holds the patient may override before dosing, with a stated reason: none → "
     "Blood-pressure hold, Sitter not present"),
    ("grace_hours", Decimal("6"), "A session is missed after (hours): 4 → 6"),
    ("early_refill_days", 7, "Flag a refill while supply lasts more than (days): 10 → 7"),
    ("timeline", [{"phase": "induction", "starts_on": "2026-10-12"}],
     "Schedule: Induction from 2026-10-05: Mon, Thu at 10:00, 4 weeks → Induction from "
     "2026-10-12: Mon, Thu at 10:00, 4 weeks"),
])
def test_each_setting_changed_alone_is_one_change_in_the_forms_words(field, value, expected):
    with i18n.using("en"):
        assert _worded(changes.changes(_version(), _version(version=2, **{field: value}))) == \
            [expected]


def test_a_phase_set_up_ahead_of_the_schedule_is_a_change_too():
    """A taper template saved before any taper is on the timeline (or the maintenance after an
    open-ended induction) changes no date in the schedule's words, but is a change."""
    before = _version()
    taper = {**before.phases, "taper": {"cadence": "interval", "every_n_days": 14,
                                        "at": "10:00", "weeks": 6}}
    with i18n.using("en"):
        assert _worded(changes.changes(before, _version(version=2, phases=taper))) == [
            "Taper: — → every 14 days at 10:00, 6 weeks"]
        longer = {**taper, "taper": {**taper["taper"], "weeks": 8}}
        assert _worded(changes.changes(_version(version=2, phases=taper),
                                       _version(version=3, phases=longer))) == [
            "Taper: every 14 days at 10:00, 6 weeks → every 14 days at 10:00, 8 weeks"]


def test_every_setting_the_form_saves_is_compared():
    """A setting added to the form and the model but not to changes.py would change silently:
    every column of a version but its identity and reason is compared."""
    compared = {field for field, _label, _words in changes._settings()} | {"phases", "timeline"}
    identity = {"id", "patient_id", "version", "created_by_id", "created_at", "reason"}
    assert set(ProtocolVersion.model_fields) - identity == compared


def test_several_changes_come_in_the_forms_order_and_in_spanish():
    before = _version()
    phases = deepcopy(before.phases)
    phases["induction"]["at"] = "18:30"
    after = _version(version=2, dose_mg=Decimal("125"), sitter_required=False, phases=phases)
    with i18n.using("es"):
        assert _worded(changes.changes(before, after)) == [
            "Dosis por sesión (mg): 150 → 125",
            "Debe haber un acompañante presente: Sí → No",
            "Horario: Inducción desde 2026-10-05: Lun, Jue a las 10:00, 4 semanas → Inducción "
            "desde 2026-10-05: Lun, Jue a las 18:30, 4 semanas"]


def test_the_history_pairs_each_version_with_what_it_changed_newest_first():
    first, second = _version(), _version(version=2, dose_mg=Decimal("125"))
    third = _version(version=3, dose_mg=Decimal("125"), reason="Reviewed, no change.")
    found = changes.history([first, third, second])
    assert [(v.version, _worded(c)) for v, c in found] == [
        (3, []), (2, ["Dose per session (mg): 150 → 125"]), (1, [])]


# --- on the page ------------------------------------------------------------------------------


def _history(page_html: str) -> list[str]:
    section = page_html.split('id="history-heading"', 1)[1]
    items = re.findall(r"<li>\s*<p><strong>(.*?)</strong>.*?</p>\s*<p>(.*?)</p>(.*?)</li>\s*"
                       r"(?=<li>\s*<p><strong>|</ol>)", section, re.S)
    return [" | ".join(" ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split())
                       for part in item) for item in items]


def test_the_prescriber_reads_who_changed_what_and_why(db, auth, client, login_as):
    prescriber = login_as("prescriber", display_name="Dr. Amara Okafor")
    patient = factories.user(db, role="patient")
    factories.link(db, patient, prescriber)
    db.commit()
    form = {**FORM, "client_id": str(uuid.uuid4())}
    assert auth.post(f"/patients/{patient.id}/protocol", form).status_code == 303
    changed = {**FORM, "client_id": str(uuid.uuid4()), "min_hours_between_doses": "72",
               "sitter_required": "", "reason": "Longer interval after a high reading."}
    assert auth.post(f"/patients/{patient.id}/protocol", changed).status_code == 303
    again = {**changed, "client_id": str(uuid.uuid4()), "reason": "Reviewed at the visit."}
    assert auth.post(f"/patients/{patient.id}/protocol", again).status_code == 303

    page = client.get(f"/patients/{patient.id}/protocol")
    assert page.status_code == 200
    entries = _history(page.text)
    assert len(entries) == 3
    assert re.fullmatch(r"Version 3 — .+, by Dr\. Amara Okafor \| Reviewed at the visit\. \| "
                        r"No setting changed\.", entries[0]), entries[0]
    assert re.fullmatch(r"Version 2 — .+, by Dr\. Amara Okafor \| Longer interval after a high "
                        r"reading\. \| Minimum hours between doses: from 60 to 72 "
                        r"A sitter must be present: from Yes to No", entries[1]), entries[1]
    assert re.fullmatch(r"Version 1 — .+, by Dr\. Amara Okafor \| Starting at-home treatment\. "
                        r"\| First version\.", entries[2]), entries[2]


def test_the_demo_shows_jordans_second_version_and_what_it_changed(demo, auth, client):
    from app.seed import DEMO_PASSWORD

    assert auth.login("prescriber@demo.test", DEMO_PASSWORD).status_code == 303
    jordan = demo["patient@demo.test"]
    entries = _history(client.get(f"/patients/{jordan.id}/protocol").text)
    assert len(entries) == 2
    assert re.fullmatch(r"Version 2 — .+, by Dr\. Amara Okafor \| Moderate nausea after the "
                        r"third session: fast 4 hours before each dose\. \| Fast for \(hours\): "
                        r"from 2 to 4", entries[0]), entries[0]
    assert entries[1].endswith("| First version.")
