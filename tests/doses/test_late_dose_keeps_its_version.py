"""A dose logged late for a session before a protocol change is matched against the schedule that
was in force when that session was due (schedule.occurrences_in_force), not flagged extra for
missing the new time; a dose that matches neither schedule is still extra."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.db import utcnow
from tests import factories


def _late_dose(client, taken_at: datetime) -> dict:
    response = factories.sync_post(client, factories.sync_item("dose", {
        "taken_at": taken_at.isoformat(), "dose_mg": "100", "route": "sublingual",
        "no_gate_reason": "Forgot to log it yesterday."}))
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert result["status"] == "created", result
    return result


def test_a_dose_logged_late_matches_the_session_of_its_own_day(db, client, auth):
    # Daily at 10:00 since a week ago; an hour ago the prescriber moved sessions to 14:00.
    # The patient now logs yesterday's 10:05 dose: it took yesterday's 10:00 session.
    now = utcnow()
    prescriber = factories.user(db, role="prescriber")
    patient = factories.user(db, role="patient")
    tz = ZoneInfo(patient.timezone)
    today = now.astimezone(tz).date()
    daily = {"cadence": "interval", "every_n_days": 1}
    rules = {"min_hours_between_doses": "12", "max_mg_per_24h": "200", "max_mg_per_7d": "800",
             "starts_on": (today - timedelta(days=7)).isoformat(), "maintenance": None}
    factories.protocol(db, prescriber, patient, now=now - timedelta(days=8),
                       induction={**daily, "at": "10:00"}, **rules)
    factories.protocol(db, prescriber, patient, now=now - timedelta(hours=1),
                       induction={**daily, "at": "14:00"}, reason="Sessions move to the "
                       "afternoon.", **rules)
    db.commit()
    assert auth.login(patient.email).status_code == 303

    yesterday = today - timedelta(days=1)
    on_time = datetime.combine(yesterday, time(10, 5), tzinfo=tz).astimezone(UTC)
    flags = _late_dose(client, on_time)["flags"]
    assert "late_entry" in flags and "extra" not in flags

    # Four days ago at 18:30: no session under either schedule (10:00 then, 14:00 now).
    off = datetime.combine(today - timedelta(days=4), time(18, 30), tzinfo=tz).astimezone(UTC)
    assert "extra" in _late_dose(client, off)["flags"]
