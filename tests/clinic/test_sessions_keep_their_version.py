"""A new protocol version never rewrites the record of the sessions before it: each past session
is judged by the version in force when it was due (app/protocols/schedule.py
occurrences_in_force), on the prescriber's timeline, the patient list's flags (page and API),
the one-page summary, the patient's Today and the caregiver's page. Through real sign-ins and
the real forms, as the tester found it: change only the time of day, or move the phase, and
sessions taken on the old schedule stayed taken; one missed on it stays missed."""

import html
import re
import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from app.careteam import access
from app.db import utcnow
from app.doses.models import Dose
from app.seed import DEMO_PASSWORD
from tests import factories

MISSED_ENTRY = re.compile(r'<li class="tl tl-missed"><p><strong>([^<]*?) · ')


class _Form(HTMLParser):
    """What a browser would submit from the form whose action is `action`."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.values = action, False, []
        self._select: str | None = None
        self._first_option: str | None = None
        self._chosen = False
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.values.append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self._select, self._first_option, self._chosen = a.get("name"), None, False
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value") or ""
            if "selected" in a:
                self.values.append((self._select, a.get("value") or ""))
                self._chosen = True
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.values.append((self._textarea, ""))

    def handle_data(self, data):
        if self.inside and self._textarea:
            name, text = self.values[-1]
            self.values[-1] = (name, text + data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            if not self._chosen:
                self.values.append((self._select, self._first_option or ""))
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_values(page: str, action: str) -> dict:
    """The form's fields as the browser sends them (a name given twice becomes a list)."""
    parser = _Form(action)
    parser.feed(page)
    values: dict = {}
    for name, value in parser.values:
        if name in values:
            kept = values[name]
            values[name] = [*kept, value] if isinstance(kept, list) else [kept, value]
        else:
            values[name] = value
    assert values, f"no form posting to {action}"
    return values


def change_the_time(client, auth, patient_id, at: str) -> None:
    """As the tester did: open the protocol editor, change only the induction time, save."""
    path = f"/patients/{patient_id}/protocol"
    values = form_values(client.get(path).text, path)
    assert values["induction_at"] != at
    values.update(induction_at=at, reason="Sessions move to the afternoon.")
    response = auth.post(path, values)
    assert response.status_code == 303, response.text[:2000]


def missed_on_timeline(client, patient_id) -> list[str]:
    return MISSED_ENTRY.findall(client.get(f"/patients/{patient_id}").text)


def flags_of(client, patient_id) -> dict[str, str]:
    listed = client.get("/api/v1/patients")
    assert listed.status_code == 200, listed.text
    row = next(r for r in listed.json() if r["id"] == str(patient_id))
    return {f["code"]: f["message"] for f in row["flags"]}


def sessions_in_summary(client, patient_id) -> tuple[int, int, int]:
    """(taken, scheduled, missed) as the summary's "Sessions, last 4 weeks" line says them."""
    page = html.unescape(client.get(f"/patients/{patient_id}/summary").text)
    line = page[page.index("Sessions, last 4 weeks"):]
    line = line[line.index("<dd>"):line.index("</dd>")]
    taken, scheduled, missed = (int(n) for n in re.findall(r"\d+", line)[:3])
    return taken, scheduled, missed


def dose_at(db, patient, version, taken_at: datetime) -> Dose:
    row = Dose(id=uuid.uuid4(), patient_id=patient.id, protocol_version_id=version.id,
               taken_at=taken_at, recorded_at=taken_at, received_at=taken_at,
               dose_mg=version.dose_mg, troches=Decimal(1), route="sublingual")
    db.add(row)
    db.flush()
    return row


def test_a_new_time_keeps_the_demo_patients_sessions_taken(db, demo, client, auth):
    """The tester's steps: Lucía took her four sessions at 10:00; the prescriber moves the
    induction to 14:00. Her timeline, flags and summary still say she took all four."""
    lucia = demo["paciente@demo.test"]
    assert auth.login("prescriber@demo.test", DEMO_PASSWORD).status_code == 303
    assert missed_on_timeline(client, lucia.id) == []
    assert sessions_in_summary(client, lucia.id) == (4, 4, 0)

    change_the_time(client, auth, lucia.id, "14:00")

    assert missed_on_timeline(client, lucia.id) == []
    assert "missed_sessions" not in flags_of(client, lucia.id)
    listed = html.unescape(client.get("/patients").text)
    assert "4 scheduled sessions missed in 14 days" not in listed
    assert sessions_in_summary(client, lucia.id) == (4, 4, 0)


def test_a_session_missed_on_the_old_schedule_stays_missed_and_only_it(db, client, auth):
    """Every 3 days at 10:00 from ten days ago, taken on time but for the third session; then
    the time moves to 14:00. The timeline, flags, summary and the patient's Today show the one
    missed session, at 10:00, and the others taken."""
    prescriber = factories.user(db, role="prescriber")
    patient = factories.user(db, role="patient")
    tz = ZoneInfo(patient.timezone)
    now = utcnow()
    first_day = (now.astimezone(tz) - timedelta(days=10)).date()
    version = factories.protocol(
        db, prescriber, patient, now=now - timedelta(days=11), starts_on=first_day.isoformat(),
        induction={"cadence": "interval", "every_n_days": 3, "at": "10:00"}, maintenance=None)
    for n in (0, 1, 3):  # days -10, -7 and -1; the session of day -4 is missed
        day = first_day + timedelta(days=3 * n)
        dose_at(db, patient, version,
                datetime.combine(day, time(10, 5), tzinfo=tz).astimezone(UTC))
    db.commit()
    assert auth.login(prescriber.email).status_code == 303

    change_the_time(client, auth, patient.id, "14:00")

    missed = missed_on_timeline(client, patient.id)
    assert len(missed) == 1 and missed[0].startswith("10:00"), missed
    assert flags_of(client, patient.id)["missed_sessions"] == (
        "1 scheduled session missed in 14 days.")
    assert sessions_in_summary(client, patient.id) == (3, 4, 1)

    auth.logout()
    assert auth.login(patient.email).status_code == 303
    today = client.get("/today").text
    recent = today[today.index('id="recent-heading"'):]
    assert recent.count("state-taken") == 3 and recent.count("state-missed") == 1


def _zone_at_three_pm() -> ZoneInfo:
    """A fixed-offset zone where it is now 15:xx, so sessions earlier today (10:00, 13:00)
    have passed whatever the hour this runs."""
    offset = (15 - utcnow().hour) % 24
    if offset > 14:
        offset -= 24
    # Etc/GMT zones are named with the sign reversed: Etc/GMT-5 is five hours ahead of UTC.
    return ZoneInfo("Etc/GMT" + (f"{-offset:+d}" if offset else ""))


def test_a_phase_change_keeps_todays_session_taken(db, client, auth):
    """Daily induction at 10:00 (grace 1 hour), maintenance planned at 13:00; today's 10:00
    dose is logged, and at 15:00 the prescriber moves the patient to maintenance from today.
    Today's session was the 10:00 one, taken: no 13:00 session appears missed on the timeline,
    the flags, the summary, the patient's Today or the caregiver's page."""
    tz = _zone_at_three_pm()
    now = utcnow()
    today = now.astimezone(tz).date()
    assert now.astimezone(tz).hour == 15
    prescriber = factories.user(db, role="prescriber", timezone=tz.key)
    patient = factories.user(db, role="patient", timezone=tz.key)
    caregiver = factories.user(db, role="caregiver", timezone=tz.key)
    version = factories.protocol(
        db, prescriber, patient, now=now - timedelta(days=3),
        starts_on=(today - timedelta(days=2)).isoformat(), grace_hours="1",
        induction={"cadence": "interval", "every_n_days": 1, "at": "10:00"},
        maintenance={"cadence": "interval", "every_n_days": 7, "at": "13:00"})
    factories.link(db, patient, caregiver, scope=access.Scope.SUPERVISION)
    for days in (2, 1, 0):
        day = today - timedelta(days=days)
        dose_at(db, patient, version,
                datetime.combine(day, time(10, 5), tzinfo=tz).astimezone(UTC))
    db.commit()
    assert auth.login(prescriber.email).status_code == 303

    response = auth.post(f"/patients/{patient.id}/phase", {
        "phase_client_id": str(uuid.uuid4()), "phase": "maintenance",
        "effective_on": today.isoformat(), "phase_reason": "Good response.",
    })
    assert response.status_code == 303, response.text[:2000]

    assert missed_on_timeline(client, patient.id) == []
    assert "missed_sessions" not in flags_of(client, patient.id)
    assert sessions_in_summary(client, patient.id) == (3, 3, 0)

    auth.logout()
    assert auth.login(patient.email).status_code == 303
    page = client.get("/today").text
    recent = page[page.index('id="recent-heading"'):]
    assert recent.count("state-taken") == 3 and "state-missed" not in recent

    auth.logout()
    assert auth.login(caregiver.email).status_code == 303
    supporting = html.unescape(client.get("/supporting").text)
    assert "Today's session, 10:00" in supporting
    assert 'state-missed' not in supporting
