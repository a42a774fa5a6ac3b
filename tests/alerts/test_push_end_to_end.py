"""From a crisis reading on the patient's phone to a push on the care team's phones, through
the real dispatcher and a local push service that verifies and decrypts every message."""

import json
import re
from datetime import timedelta

from app.alerts import service as alerts
from app.db import utcnow
from app.push import service as subscriptions
from app.reminders import dispatcher
from tests.alerts.conftest import alerts_of, bp_emergency_gate

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _phone(db, person, push_service, token):
    info = push_service.subscription(token)
    subscriptions.subscribe(
        db, user=person, endpoint=info["endpoint"], p256dh=info["keys"]["p256dh"],
        auth=info["keys"]["auth"], name=token, auth_session_id=None, now=utcnow(),
    )


def test_a_crisis_reading_pages_the_care_team_in_turn_until_someone_acknowledges(
    db, clinic, push_service
):
    for person, token in ((clinic.first, "zhou"), (clinic.second, "adams"),
                          (clinic.caregiver, "casey")):
        _phone(db, person, push_service, token)
    db.commit()
    now = utcnow()
    bp_emergency_gate(db, clinic.patient, now)
    db.commit()

    dispatcher.run_once(now, plan=False)
    assert [r.token for r in push_service.received] == ["zhou"]
    [first] = push_service.received
    assert first.urgency == "high"
    body = json.dumps({k: v for k, v in first.payload.items() if k != "title"}).lower()
    # Nothing about the patient or what happened: the page says it after sign-in. The payload
    # names the occurrence by a random id, which may hold any digits; take it out before
    # looking for the reading's numbers, and check it is not the patient's.
    assert str(clinic.patient.id) not in body
    words = UUID.sub("<id>", body)
    for word in ("robin", "185", "blood", "pressure", "emergency", "ketamine"):
        assert word not in words

    # Nobody acknowledged: the next contact, then the caregiver who accepted alerts.
    repeat = timedelta(minutes=15)
    dispatcher.run_once(now + repeat, plan=False)
    dispatcher.run_once(now + 2 * repeat, plan=False)
    assert [r.token for r in push_service.received] == ["zhou", "adams", "casey"]

    [alert] = alerts_of(db, clinic.patient)
    alerts.acknowledge(db, user=clinic.second, alert_id=alert.id, note="Called; resting, 150/95.",
                       now=now + 2 * repeat)
    db.commit()
    for step in range(3, 8):
        dispatcher.run_once(now + step * repeat, plan=False)
    assert len(push_service.received) == 3
    assert push_service.errors == []


def test_the_patient_sees_what_the_care_team_was_alerted_about_and_who_acknowledged(
    db, clinic, client, auth
):
    now = utcnow()
    bp_emergency_gate(db, clinic.patient, now - timedelta(hours=2))
    db.commit()
    [alert] = alerts_of(db, clinic.patient)
    assert auth.login(clinic.patient.email).status_code == 303
    page = client.get("/care-team").text
    section = page.split('id="team-alerts-heading"', 1)[1]
    assert "Blood pressure at or above 180/120." in section
    assert "Not yet acknowledged" in section

    alerts.acknowledge(db, user=clinic.first, alert_id=alert.id, note="Called.", now=now)
    db.commit()
    section = client.get("/care-team").text.split('id="team-alerts-heading"', 1)[1]
    assert "Acknowledged by Dr Zhou" in section
