"""What Today says after the record moves on from a safety check: holds that came later (a
high-risk screen, a sitter's crisis reading) always show with their resources, a hold judged on
doses since struck says so, a sitter's co-signature never sits above a hold, and a dose taken
against a hold is never greeted as an ordinary one."""

import html
import re
import uuid

from app.db import utcnow
from app.web.formats import format_datetime
from tests import factories
from tests.conftest import Auth
from tests.factories import gate_data, sync_item, sync_post
from tests.helpers import another_client
from tests.safety.test_safety_hold import high_risk_screen

HOLD_HEADING = "Hold: it is not safe to dose right now"
REVIEW = "Your care team must review your recent answers before your next dose."
OUTDATED = "Your record changed after this check"
CHECKLIST = {"sitter_present": True, "bp_taken": True, "safe_place": True, "no_driving": True}


def send(client, kind: str, data: dict) -> dict:
    (result,) = sync_post(client, sync_item(kind, data)).json()["results"]
    assert result["status"] == "created", result
    return result


def dosed_then_held(client) -> tuple[dict, dict]:
    """A dose after a check that passed, then a second check: held, too soon."""
    first = send(client, "gate", gate_data())
    dose = send(client, "dose", {"taken_at": utcnow().isoformat(), "dose_mg": "100",
                                 "route": "sublingual", "gate_id": first["id"]})
    held = send(client, "gate", gate_data())
    assert held["verdict"] == "hold"
    assert "too_soon" in [r["code"] for r in held["reasons"]]
    return dose, held


def today(client) -> str:
    return html.unescape(client.get("/today").text)


def test_a_high_risk_screen_after_a_held_check_shows_beside_it_with_crisis_resources(
        client, auth, patient):
    dosed_then_held(client)
    high_risk_screen(auth)
    page = today(client)
    # The check made before the screen is still the one on Today...
    assert HOLD_HEADING in page and "Too soon" in page
    # ...and the hold that came after it shows in it, with the crisis resources (it hid them).
    assert REVIEW in page
    assert 'href="tel:988"' in page


def test_a_hold_judged_on_a_dose_since_struck_says_the_record_changed(client, patient):
    dose, _held = dosed_then_held(client)
    assert OUTDATED not in today(client)
    send(client, "dose_entered_in_error", {"dose_id": dose["id"], "reason": "Logged twice."})
    page = today(client)
    assert HOLD_HEADING in page
    assert OUTDATED in page
    # The check is offered again, open, not folded away behind the old reasons.
    assert re.search(r"<details open><summary>Check again</summary>", page)


def test_a_sitters_checklist_with_a_crisis_reading_never_reads_as_confirmed(
        db, client, patient):
    sitter = factories.user(db, role="caregiver", display_name="Alex Sitter")
    factories.link(db, patient, sitter)
    db.commit()
    with another_client() as phone:
        assert Auth(phone).login(sitter.email).status_code == 303
        send(phone, "sitter_checkin", {"patient_id": str(patient.id), "slot": "sitter_check",
                                       "values": {**CHECKLIST, "systolic": 190,
                                                  "diastolic": 125}})
    page = today(client)
    assert "Dosing is on hold" in page
    assert "Sitter confirmed" not in page


def test_a_dose_recorded_against_a_hold_is_not_greeted_as_logged(auth, client, patient):
    _dose, held = dosed_then_held(client)
    form = client.get("/today").text
    dose_id = re.search(r'name="dose_client_id" value="([^"]+)"', form).group(1)
    taken_at = re.search(r'name="taken_at"[^>]* value="([^"]+)"', form).group(1)
    response = auth.post("/today/dose", {
        "dose_client_id": dose_id, "gate_id": held["id"], "dose_mg": "100",
        "taken_at": taken_at, "route": "sublingual", "already_taken": "yes",
        "override_reason": "I took it before checking."})
    assert response.status_code == 303, response.text
    page = html.unescape(client.get(response.headers["location"]).text)
    assert "Dose recorded as taken against a hold" in page
    assert "your care team has been told" in page
    assert "Dose logged. Stay seated" not in page
    # The address said nothing of it: only that a dose was logged.
    assert "hold" not in response.headers["location"]


def test_an_ordinary_dose_is_still_greeted_as_logged(client, auth, patient):
    first = send(client, "gate", gate_data())
    form = client.get("/today").text
    dose_id = re.search(r'name="dose_client_id" value="([^"]+)"', form).group(1)
    taken_at = re.search(r'name="taken_at"[^>]* value="([^"]+)"', form).group(1)
    response = auth.post("/today/dose", {
        "dose_client_id": dose_id, "gate_id": first["id"], "dose_mg": "100",
        "taken_at": taken_at, "route": "sublingual"})
    assert response.status_code == 303, response.text
    page = html.unescape(client.get(response.headers["location"]).text)
    assert "Dose logged. Stay seated" in page
    assert "against a hold" not in page


def test_the_last_two_weeks_say_when_a_sessions_dose_was_taken(db, client, patient):
    """A session taken 45 minutes late read "Taken Sat Nov 28, 1:00 PM": the session's time,
    which History contradicted with the dose's."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from sqlmodel import select

    from app.doses.models import Dose
    from app.protocols.models import ProtocolVersion

    for version in db.exec(select(ProtocolVersion)).all():
        version.created_at -= timedelta(days=8)  # in force for yesterday's session too
        db.add(version)
    db.commit()
    dose, _held = dosed_then_held(client)
    row = db.exec(select(Dose).where(Dose.id == uuid.UUID(dose["id"]))).one()
    row.taken_at = row.taken_at - timedelta(days=1) + timedelta(minutes=45)
    db.add(row)
    db.commit()
    page = today(client)
    recent = page[page.index('id="recent-heading"'):]
    at = row.taken_at.astimezone(ZoneInfo(patient.timezone))
    # With its weekday when it fell on the day after the session's (the session late at night).
    on_day = (at - timedelta(minutes=45)).date() == at.date()
    taken = "taken at " if on_day else f"taken on {at.strftime('%a ')}"
    session_at = format_datetime(at - timedelta(minutes=45), "datetime")
    # The session's own time is named as scheduled: "Taken Sun 3:30 PM · dose at 4:15 PM"
    # read as taken at 3:30.
    assert f"scheduled {session_at} · {taken}{at.strftime('%-I:%M %p')}" in html.unescape(recent)


def test_a_dose_form_with_two_wrong_fields_marks_both(auth, client, patient):
    """A negative amount and a time in the future: the time's error alone came back, then the
    amount's after the time was fixed."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    first = send(client, "gate", gate_data())
    form = client.get("/today").text
    dose_id = re.search(r'name="dose_client_id" value="([^"]+)"', form).group(1)
    later = (utcnow() + timedelta(hours=3)).astimezone(ZoneInfo(patient.timezone))
    response = auth.post("/today/dose", {
        "dose_client_id": dose_id, "gate_id": first["id"], "dose_mg": "-5",
        "taken_at": later.strftime("%Y-%m-%dT%H:%M"), "route": "sublingual"})
    assert response.status_code == 422
    page = html.unescape(response.text)
    errors = dict(re.findall(r'<p class="field-error" id="([a-z_]+)-error">([^<]+)</p>', page))
    assert errors["taken_at"] == "That time is in the future."
    assert "dose_mg" in errors
    assert 'value="-5"' in page


def test_a_dose_taken_before_its_session_time_is_in_the_last_two_weeks_at_once(
        db, auth, client):
    """A dose taken 40 minutes before its session (inside the two hours it may be taken early)
    takes that session; the last two weeks left it out until the session's time came, so the
    dose just logged was nowhere in the list. A session still ahead and not taken stays out:
    the next-session card has it."""
    from datetime import timedelta

    from app.doses.today import today as today_state

    prescriber = factories.user(db, role="prescriber")
    patient = factories.user(db, role="patient")
    factories.protocol(db, prescriber, patient, now=utcnow() - timedelta(days=8),
                       **factories.session_now_protocol(patient, hours_from_now=40 / 60))
    db.commit()
    assert auth.login(patient.email).status_code == 303

    before = today_state(db, patient, utcnow())
    assert before.next_session.state == "due"
    assert before.recent and all(r.occurrence.scheduled_at <= utcnow() for r in before.recent)

    gate = send(client, "gate", gate_data())
    send(client, "dose", {"taken_at": utcnow().isoformat(), "dose_mg": "100",
                          "route": "sublingual", "gate_id": gate["id"]})
    db.expire_all()
    after = today_state(db, patient, utcnow())
    newest = after.recent[0]
    assert newest.state == "taken" and newest.occurrence.scheduled_at > utcnow()
    assert after.next_session.occurrence.scheduled_at > newest.occurrence.scheduled_at
    page = today(client)
    recent = page[page.index('id="recent-heading"'):]
    assert "Taken" in recent.split("</li>")[0]


def test_a_dose_entered_twice_is_refused_with_the_dose_it_repeats(db, auth, client, patient):
    """A dose logged from the phone, then again on the web form as one "already taken" (the
    same amount, a few minutes off): refused as too soon, and nothing said it was most likely
    the same troche, so a patient could record it "taken" with a reason: a second dose and a
    safety alert that never happened. The refusal now names the dose it repeats, first."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from sqlmodel import func, select

    from app.doses.models import Dose

    taken = utcnow() - timedelta(minutes=30)
    send(client, "dose", {"taken_at": taken.isoformat(), "dose_mg": "100",
                          "route": "sublingual", "no_gate_reason": "Checked on paper."})
    at = taken.astimezone(ZoneInfo(patient.timezone))
    said = f"You already logged 100 mg at {at.strftime('%a %-I:%M %p')}."
    again = {"taken_at": (at + timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M"),
             "dose_client_id": str(uuid.uuid4()), "dose_mg": "100", "route": "sublingual",
             "already_taken": "yes", "no_gate_reason": "Forgot I had logged it."}
    response = auth.post("/today/dose", again)
    assert response.status_code == 422
    page = html.unescape(response.text)
    alert = page[page.index('class="alert alert-hold"'):]
    assert alert.index(said) < alert.index("Too soon")
    assert "If this is that dose, it is recorded and there is nothing more to do." in alert

    # The phone's outbox hears it too, in the detail it shows and on its own.
    (result,) = sync_post(client, sync_item("dose", {
        "taken_at": (taken - timedelta(minutes=2)).isoformat(), "dose_mg": "100",
        "route": "sublingual", "no_gate_reason": "Logged twice?"})).json()["results"]
    assert result["status"] == "rejected"
    assert result["detail"].startswith(said) and result["same_as_logged"].startswith(said)

    # Another amount is not the same troche, and one 20 minutes away is not either.
    for mg, minutes in (("50", 4), ("100", 20)):
        (other,) = sync_post(client, sync_item("dose", {
            "taken_at": (taken + timedelta(minutes=minutes)).isoformat(), "dose_mg": mg,
            "route": "sublingual", "no_gate_reason": "Another."})).json()["results"]
        assert other["status"] == "rejected" and "same_as_logged" not in other
        assert "You already logged" not in other["detail"]
    assert db.exec(select(func.count()).select_from(Dose)).one() == 1


def test_a_dose_recorded_twice_anyway_is_kept_flagged_and_named(db, auth, client, patient):
    """The refusal names the dose an entry repeats, but the "already taken" record accepts it
    with a reason, and a patient who did not read the hint recorded one troche as two (a
    second dose against a hold, and an alert about it). The record keeps what was sent and
    flags it possibly entered twice; the form shows the last logged dose before it is sent,
    and Today, after it, names the dose it looks like and where to strike one."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from sqlmodel import select

    from app.doses.models import Dose

    first = send(client, "gate", gate_data())
    taken = utcnow() - timedelta(minutes=10)
    send(client, "dose", {"taken_at": taken.isoformat(), "dose_mg": "100",
                          "route": "sublingual", "gate_id": first["id"]})
    held = send(client, "gate", gate_data())
    assert held["verdict"] == "hold"
    # With its date: "Sun 4:15 PM" alone read as today's when the dose was a week old.
    at = format_datetime(taken.astimezone(ZoneInfo(patient.timezone)), "datetime")

    form = today(client)
    form = form[form.index('class="record-taken"'):]
    assert f"Your last logged dose: 100 mg on {at}." in html.unescape(form.split("</form>")[0])

    again = {"taken_at": (taken + timedelta(minutes=5)).astimezone(
                 ZoneInfo(patient.timezone)).strftime("%Y-%m-%dT%H:%M"),
             "dose_client_id": str(uuid.uuid4()), "gate_id": held["id"], "dose_mg": "100",
             "route": "sublingual", "already_taken": "yes",
             "override_reason": "Took it and forgot to log it."}
    response = auth.post("/today/dose", again)
    assert response.status_code == 303, response.text
    both = db.exec(select(Dose)).all()
    assert len(both) == 2
    recorded = max(both, key=lambda d: d.received_at)
    assert {"possible_duplicate", "against_hold"} <= set(recorded.flags)
    page = html.unescape(client.get(response.headers["location"]).text)
    said = page[page.index('id="logged-same-as"'):].split("</p>")[0]
    clock = taken.astimezone(ZoneInfo(patient.timezone)).strftime("%a %-I:%M %p")
    assert f"This looks like the dose you had already logged: 100 mg at {clock}." in said
    assert 'href="/doses"' in said
    assert "Possibly entered twice" in client.get("/doses").text

    # Another amount minutes away is a different troche: recorded against the hold, and not
    # called a second entry.
    other = {**{k: v for k, v in again.items() if k != "gate_id"}, "dose_mg": "50",
             "dose_client_id": str(uuid.uuid4()), "no_gate_reason": "Checked on paper."}
    response = auth.post("/today/dose", other)
    assert response.status_code == 303, response.text
    db.expire_all()
    newest = max(db.exec(select(Dose)).all(), key=lambda d: d.received_at)
    assert newest.dose_mg == 50 and "possible_duplicate" not in newest.flags
    page = client.get(response.headers["location"]).text
    assert 'id="logged-same-as"' not in page


def _zone_where_it_is_ten_in_the_morning() -> str:
    """An Etc/GMT zone whose clock reads about 10:00 now, so a session hours later is still
    today whatever time the test runs."""
    offset = (10 - utcnow().hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def test_a_new_time_saved_after_todays_dose_asks_for_no_second_dose_today(db, auth, client):
    """Dosed at 10:00 for the 10:40 session, then the prescriber moved the time to 17:00:
    Today read "Next session: today 5:00 PM" and the 10:40 session vanished from the list (the
    dose matched nothing), and by evening the day read missed."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from app.doses.today import today as today_state

    prescriber = factories.user(db, role="prescriber")
    patient = factories.user(db, role="patient", timezone=_zone_where_it_is_ten_in_the_morning())
    factories.protocol(db, prescriber, patient, now=utcnow() - timedelta(days=8),
                       **factories.session_now_protocol(patient, hours_from_now=40 / 60))
    db.commit()
    assert auth.login(patient.email).status_code == 303
    gate = send(client, "gate", gate_data())
    send(client, "dose", {"taken_at": utcnow().isoformat(), "dose_mg": "100",
                          "route": "sublingual", "gate_id": gate["id"]})
    factories.protocol(db, prescriber, patient,
                       **factories.session_now_protocol(patient, hours_from_now=7))
    db.commit()

    state = today_state(db, patient, utcnow())
    local_today = utcnow().astimezone(ZoneInfo(patient.timezone)).date()
    assert state.next_session.occurrence.local_date > local_today
    assert state.recent[0].state == "taken"
    assert state.recent[0].occurrence.local_date == local_today


def test_a_crisis_reading_during_the_session_is_in_its_record(db, auth, client, patient):
    """A 185/125 safety check a minute after the dose was on the timeline and among the safety
    events, and not in that session's record, which listed only the readings before and at +40."""
    first = send(client, "gate", gate_data())
    send(client, "dose", {"taken_at": utcnow().isoformat(), "dose_mg": "100",
                          "route": "sublingual", "gate_id": first["id"]})
    crisis = send(client, "gate", gate_data(systolic=185, diastolic=125))
    assert crisis["verdict"] == "emergency"
    page = html.unescape(client.get("/doses").text)
    readings = page[page.index('class="table readings"'):].split("</table>")[0]
    rows = re.findall(r"<tr>.*?</tr>", readings, flags=re.S)
    assert any("Safety check during the session" in r and "185/125" in r for r in rows), rows
    assert any("Safety check before the dose" in r for r in rows), rows


def test_an_extra_dose_is_in_the_last_two_weeks_among_the_sessions(db, auth, client):
    """A dose that took no session (taken 12 hours off a daily session) was missing from
    Today's last two weeks, which listed sessions alone; History had it. It is listed as an
    extra dose at its time, between the sessions either side of it."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    prescriber = factories.user(db, role="prescriber")
    patient = factories.user(db, role="patient")
    factories.protocol(db, prescriber, patient, now=utcnow() - timedelta(days=8),
                       **factories.session_now_protocol(patient, hours_from_now=6))
    db.commit()
    assert auth.login(patient.email).status_code == 303
    taken = utcnow() - timedelta(days=2, hours=6)  # 12 hours after that day's session
    (result,) = sync_post(client, sync_item("dose", {
        "taken_at": taken.isoformat(), "dose_mg": "100", "route": "sublingual",
        "no_gate_reason": "Took one when I could not sleep."})).json()["results"]
    assert result["status"] == "created", result
    page = today(client)
    recent = page[page.index('id="recent-heading"'):page.index("</ul>", page.index(
        'id="recent-heading"'))]
    rows = re.findall(r"<li>(.*?)</li>", recent, re.S)
    at = taken.astimezone(ZoneInfo(patient.timezone))
    extra = [i for i, row in enumerate(rows) if "Extra dose" in row]
    assert len(extra) == 1, rows
    row = rows[extra[0]]
    assert f"taken on {at.strftime('%a ')}{at.strftime('%-I:%M %p')}" in re.sub(r"<[^>]+>", "",
                                                                                row)
    # Without a check it was also taken against none of the plan's holds: no red badge.
    assert "state-against" not in row
    # Newest first: the sessions of the last two days above it, the older ones below.
    assert extra[0] == 2, rows
