"""The reminders page and its JSON: what each role is offered, saving preferences, the device
list with its test and remove buttons, the test and snooze endpoints, and the Today card."""

import re
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlmodel import Session, select

from app.db import utcnow
from app.push import texts
from app.push.models import PushSubscription
from app.reminders import kinds
from app.reminders.models import PushDelivery, ReminderOccurrence, ReminderPreferences
from tests import factories
from tests.helpers import another_client, fresh, names_error

PAGE = "/account/reminders"
REFUSED = "This form has expired or came from another site. Reload the page and try again."


def _device(db: Session, user, name: str = "Chrome on Android", **extra) -> PushSubscription:
    now = utcnow()
    row = PushSubscription(
        user_id=user.id,
        endpoint=f"https://push.example.test/send/{uuid.uuid4().hex}",
        p256dh="B" + "A" * 86,
        auth="A" * 22,
        name=name,
        created_at=now,
        updated_at=now,
        **extra,
    )
    db.add(row)
    db.commit()
    return row


def _occurrence(db: Session, user, kind: str = "session") -> ReminderOccurrence:
    now = utcnow()
    row = ReminderOccurrence(
        user_id=user.id, patient_id=user.id, kind=kind, rule=f"{kind}:{uuid.uuid4()}",
        local_time="2026-12-01T09:00", due_at=now, send_at=now, url="/today", created_at=now,
        status="dispatched", dispatched_at=now,
    )
    db.add(row)
    db.commit()
    return row


def _token(client) -> str:
    return client.get("/api/v1/me").json()["csrf_token"]


def _prefs(db: Session, user) -> ReminderPreferences | None:
    return fresh(db, ReminderPreferences, user.id)


def _checkbox(html: str, key: str) -> str | None:
    """The <input> tag of the kind checkbox `key`, or None if the page has none."""
    match = re.search(rf'<input type="checkbox" name="enabled" value="{key}"[^>]*>', html)
    return match.group(0) if match else None


def _radio_checked(html: str, name: str) -> list[str]:
    return re.findall(rf'<input type="radio" name="{name}" value="([^"]+)" checked>', html)


def _time_value(html: str, name: str) -> str:
    match = re.search(rf'<input id="{name}" name="{name}" type="time" value="([^"]*)"', html)
    assert match, f"no {name} input"
    return match.group(1)


GOOD = {
    "quiet_start": "22:00",
    "quiet_end": "07:00",
    "enabled": ["session", "gate", "recheck"],
    "snooze_minutes": "30",
    "message": "check_app",
}


# --- the page --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["patient", "caregiver", "prescriber"])
def test_page_offers_the_kinds_of_each_role(login_as, client, role):
    login_as(role)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.text
    assert "Reminders and notifications" in html
    mine = kinds.kinds_for(role)
    for kind in mine:
        assert kind.label in html
        box = _checkbox(html, kind.key)
        if kind.can_turn_off:
            # Everything starts on.
            assert box is not None and "checked" in box, kind.key
        else:
            # Listed as always on, with nothing to untick.
            assert box is None, kind.key
    for kind in kinds.KINDS.values():
        if kind not in mine:
            assert kind.label not in html, kind.key
    if role == "patient":
        assert "Always on:" not in html
    else:
        assert "Always on:" in html and "Safety alerts" in html
    # The defaults, and the lock-screen texts with the promise that nothing else shows.
    assert _radio_checked(html, "snooze_minutes") == ["15"]
    assert _radio_checked(html, "message") == [texts.DEFAULT_MESSAGE]
    for message in texts.MESSAGES.values():
        assert message in html
    assert "never show" in html
    # The button is for JavaScript; without it the page says so.
    assert "Turn on reminders" in html
    assert "needs JavaScript" in html


def test_account_page_links_to_reminders(login_as, client):
    login_as("caregiver")
    html = client.get("/account").text
    assert '<a href="/account/reminders">Reminders and notifications</a>' in html


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={PAGE}"


# --- saving preferences ----------------------------------------------------------------------


def test_saving_preferences_redirects_and_persists(db, login_as, auth, client):
    patient = login_as("patient")
    response = auth.post(PAGE, GOOD)
    assert response.status_code == 303
    assert response.headers["location"] == f"{PAGE}?status=saved"

    prefs = _prefs(db, patient)
    assert prefs is not None
    assert (prefs.quiet_start, prefs.quiet_end) == (time(22, 0), time(7, 0))
    assert prefs.snooze_minutes == 30
    assert prefs.message == "check_app"
    offered = {k.key for k in kinds.kinds_for("patient")}
    assert set(prefs.disabled_kinds) == offered - set(GOOD["enabled"])

    html = client.get(response.headers["location"]).text
    assert "Reminder settings saved." in html
    assert _time_value(html, "quiet_start") == "22:00"
    assert _time_value(html, "quiet_end") == "07:00"
    assert "checked" in _checkbox(html, "gate")
    assert "checked" not in _checkbox(html, "mood")
    assert _radio_checked(html, "snooze_minutes") == ["30"]
    assert _radio_checked(html, "message") == ["check_app"]


def test_no_quiet_hours_when_both_are_left_empty(db, login_as, auth):
    patient = login_as("patient")
    assert auth.post(PAGE, GOOD).status_code == 303
    response = auth.post(PAGE, {**GOOD, "quiet_start": "", "quiet_end": ""})
    assert response.status_code == 303
    prefs = _prefs(db, patient)
    assert (prefs.quiet_start, prefs.quiet_end) == (None, None)


def test_kinds_that_cannot_be_turned_off_stay_on(db, login_as, auth):
    prescriber = login_as("prescriber")
    # Nothing ticked, and a patient's kind slipped in by hand: neither turns anything off or on
    # outside what this page offers.
    response = auth.post(PAGE, {**GOOD, "enabled": ["session"]})
    assert response.status_code == 303
    prefs = _prefs(db, prescriber)
    assert "alert" not in prefs.disabled_kinds
    assert "test" not in prefs.disabled_kinds


def test_caregiver_can_turn_off_missed_session_pushes(db, login_as, auth, client):
    caregiver = login_as("caregiver")
    assert auth.post(PAGE, {**GOOD, "enabled": []}).status_code == 303
    assert _prefs(db, caregiver).disabled_kinds == ["caregiver_missed"]
    assert "checked" not in _checkbox(client.get(PAGE).text, "caregiver_missed")


def test_saving_plans_that_persons_reminders_again(db, login_as, auth, monkeypatch):
    from app.reminders import service as reminders

    planned = []
    monkeypatch.setattr(reminders, "plan", lambda session, user, now: planned.append(user.id))
    patient = login_as("patient")
    assert auth.post(PAGE, GOOD).status_code == 303
    assert planned == [patient.id]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"quiet_start": "25:99"}, "quiet_start", "Enter a time like 10:00 PM."),
        ({"quiet_end": "soon"}, "quiet_end", "Enter a time like 10:00 PM."),
        ({"snooze_minutes": "45"}, "snooze_minutes", "Choose 15, 30 or 60 minutes."),
        ({"snooze_minutes": ""}, "snooze_minutes", "Choose 15, 30 or 60 minutes."),
    ],
)
def test_invalid_input_comes_back_with_values_and_errors(
    db, login_as, auth, change, field, message
):
    patient = login_as("patient")
    before = _prefs(db, patient)
    response = auth.post(PAGE, {**GOOD, **change})
    assert response.status_code == 422
    html = response.text
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in html
    assert names_error(html, f"{field}-error")
    # What the person chose is still there.
    assert _time_value(html, "quiet_start") == change.get("quiet_start", "22:00")
    assert "checked" in _checkbox(html, "recheck")
    assert "checked" not in _checkbox(html, "mood")
    assert _radio_checked(html, "message") == ["check_app"]
    # Nothing was written.
    assert before is None and _prefs(db, patient) is None


def test_service_refusals_show_beside_their_field(db, login_as, auth):
    patient = login_as("patient")
    # One end of quiet hours without the other, and a lock-screen text that does not exist.
    for change, field in (({"quiet_end": ""}, "quiet_"), ({"message": "my dose"}, "message")):
        response = auth.post(PAGE, {**GOOD, **change})
        assert response.status_code == 422, change
        assert re.search(rf'<p class="field-error" id="{field}\w*-error">', response.text), change
        assert _prefs(db, patient) is None


def test_saving_needs_the_csrf_token(db, login_as, client):
    patient = login_as("patient")
    response = client.post(PAGE, data=GOOD)
    assert response.status_code == 403
    assert REFUSED in response.text
    assert _prefs(db, patient) is None


# --- devices ---------------------------------------------------------------------------------


def test_empty_device_list_explains(login_as, client):
    login_as("patient")
    html = client.get(PAGE).text
    assert "No device receives your reminders yet." in html
    assert "Send a test notification" not in html


def test_device_list_shows_each_device(db, login_as, client):
    patient = login_as("patient", timezone="Europe/London")
    delivered = datetime(2026, 7, 1, 8, 30, tzinfo=UTC)  # 09:30 in London (summer time)
    _device(db, patient, "Chrome on Android", last_delivery_at=delivered)
    _device(db, patient, "Safari on iPhone", last_failure_at=delivered, last_status=410)
    _device(db, factories.user(db, role="patient"), "Someone else's Firefox")
    html = client.get(PAGE).text
    assert "Chrome on Android" in html and "Safari on iPhone" in html
    assert "Someone else's Firefox" not in html
    assert "Wed Jul 1, 9:30 AM" in html
    assert "Nothing yet" in html
    assert "the push service answered 410" in html
    assert html.count("Send a test notification") == 2
    assert html.count(">Remove</button>") == 2
    assert "No device receives your reminders yet." not in html


def test_test_notification_goes_to_that_device_only(db, login_as, auth, client):
    patient = login_as("patient")
    phone = _device(db, patient, "Phone")
    laptop = _device(db, patient, "Laptop")
    response = auth.post(f"{PAGE}/devices/{phone.id}/test", {})
    assert response.status_code == 303
    assert response.headers["location"] == f"{PAGE}?status=test#devices"
    assert "A test notification is on its way" in client.get(f"{PAGE}?status=test").text

    db.expire_all()
    occurrences = db.exec(select(ReminderOccurrence)).all()
    assert [(o.user_id, o.kind) for o in occurrences] == [(patient.id, "test")]
    deliveries = db.exec(select(PushDelivery)).all()
    assert [d.subscription_id for d in deliveries] == [phone.id]
    assert laptop.id not in {d.subscription_id for d in deliveries}


def test_remove_removes_only_that_device(db, login_as, auth, client):
    patient = login_as("patient")
    phone = _device(db, patient, "Phone")
    laptop = _device(db, patient, "Laptop")
    response = auth.post(f"{PAGE}/devices/{phone.id}/remove", {})
    assert response.status_code == 303
    assert response.headers["location"] == f"{PAGE}?status=removed#devices"
    assert fresh(db, PushSubscription, phone.id) is None
    assert fresh(db, PushSubscription, laptop.id) is not None
    html = client.get(f"{PAGE}?status=removed").text
    assert "The device was removed." in html
    assert "Laptop" in html and "Phone" not in html


@pytest.mark.parametrize("action", ["test", "remove"])
def test_someone_elses_device_is_not_found(db, login_as, auth, action):
    login_as("patient")
    theirs = _device(db, factories.user(db, role="patient"), "Their phone")
    for device_id in (theirs.id, uuid.uuid4()):
        response = auth.post(f"{PAGE}/devices/{device_id}/{action}", {})
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
    assert fresh(db, PushSubscription, theirs.id) is not None
    db.expire_all()
    assert db.exec(select(ReminderOccurrence)).all() == []


def test_device_forms_need_the_csrf_token(db, login_as, client):
    patient = login_as("patient")
    phone = _device(db, patient)
    assert client.post(f"{PAGE}/devices/{phone.id}/remove").status_code == 403
    assert client.post(f"{PAGE}/devices/{phone.id}/test").status_code == 403
    assert fresh(db, PushSubscription, phone.id) is not None
    db.expire_all()
    assert db.exec(select(ReminderOccurrence)).all() == []


# --- JSON: test and snooze -------------------------------------------------------------------


def test_api_test_notification(db, login_as, client):
    patient = login_as("caregiver")
    phone = _device(db, patient)
    _device(db, patient)
    response = client.post(
        "/api/v1/push/test", json={"endpoint": phone.endpoint},
        headers={"X-CSRF-Token": _token(client)},
    )
    assert response.status_code == 202
    occurrence = fresh(db, ReminderOccurrence, uuid.UUID(response.json()["id"]))
    assert (occurrence.user_id, occurrence.kind) == (patient.id, "test")
    deliveries = db.exec(select(PushDelivery)).all()
    assert [(d.occurrence_id, d.subscription_id) for d in deliveries] == [
        (occurrence.id, phone.id)
    ]


def test_api_test_notification_refuses_other_endpoints(db, login_as, client):
    login_as("patient")
    theirs = _device(db, factories.user(db, role="patient"))
    token = _token(client)
    for endpoint in (theirs.endpoint, "https://push.example.test/send/unknown"):
        response = client.post(
            "/api/v1/push/test", json={"endpoint": endpoint}, headers={"X-CSRF-Token": token}
        )
        assert response.status_code == 404
        assert response.json()["detail"]
    missing = client.post("/api/v1/push/test", json={}, headers={"X-CSRF-Token": token})
    assert missing.status_code == 422 and "endpoint" in missing.json()["detail"]
    db.expire_all()
    assert db.exec(select(ReminderOccurrence)).all() == []


def test_api_snooze_repeats_the_reminder_later(db, login_as, auth, client):
    patient = login_as("patient")
    assert auth.post(PAGE, {**GOOD, "snooze_minutes": "60"}).status_code == 303
    original = _occurrence(db, patient)
    before = utcnow()
    response = client.post(
        "/api/v1/push/snooze", json={"id": str(original.id)},
        headers={"X-CSRF-Token": _token(client)},
    )
    assert response.status_code == 200
    body = response.json()
    again = fresh(db, ReminderOccurrence, uuid.UUID(body["id"]))
    assert again.id != original.id and again.user_id == patient.id
    send_at = datetime.fromisoformat(body["send_at"])
    assert send_at == again.send_at
    assert before + timedelta(minutes=60) <= send_at <= utcnow() + timedelta(minutes=60)


def test_api_snooze_refuses_someone_elses_reminder(db, login_as, client):
    login_as("patient")
    theirs = _occurrence(db, factories.user(db, role="patient"))
    token = _token(client)
    for occurrence_id in (theirs.id, uuid.uuid4()):
        response = client.post(
            "/api/v1/push/snooze", json={"id": str(occurrence_id)},
            headers={"X-CSRF-Token": token},
        )
        assert response.status_code == 404
        assert response.json()["detail"]
    bad = client.post("/api/v1/push/snooze", json={"id": "nope"}, headers={"X-CSRF-Token": token})
    assert bad.status_code == 422
    db.expire_all()
    assert len(db.exec(select(ReminderOccurrence)).all()) == 1


def test_api_needs_sign_in_and_csrf(db, login_as, client):
    patient = login_as("patient")
    occurrence = _occurrence(db, patient)
    phone = _device(db, patient)
    no_token = client.post("/api/v1/push/snooze", json={"id": str(occurrence.id)})
    assert no_token.status_code == 403
    assert no_token.json()["detail"] == REFUSED
    assert client.post("/api/v1/push/test", json={"endpoint": phone.endpoint}).status_code == 403
    with another_client() as anonymous:
        response = anonymous.post("/api/v1/push/snooze", json={"id": str(occurrence.id)})
        assert response.status_code in (401, 403)
    db.expire_all()
    assert len(db.exec(select(ReminderOccurrence)).all()) == 1


# --- the Today card --------------------------------------------------------------------------


def test_today_offers_reminders_until_a_device_has_them(db, login_as, client):
    patient = login_as("patient")
    # Another person's device does not count.
    _device(db, factories.user(db, role="patient"))
    html = client.get("/today").text
    assert 'id="push-card-heading">Turn on reminders' in html
    assert "data-push-enable" in html
    assert 'href="/account/reminders"' in html

    _device(db, patient)
    html = client.get("/today").text
    assert "push-card-heading" not in html
    assert "data-push-enable" not in html


def test_api_snooze_refuses_a_test_notification(db, login_as, client):
    patient = login_as("patient")
    test = _occurrence(db, patient, kind="test")
    response = client.post(
        "/api/v1/push/snooze", json={"id": str(test.id)}, headers={"X-CSRF-Token": _token(client)}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "This notification cannot be snoozed."
    db.expire_all()
    assert len(db.exec(select(ReminderOccurrence)).all()) == 1


def test_the_page_lists_what_is_coming_up_and_saving_quiet_hours_moves_it(db, login_as, client):
    from zoneinfo import ZoneInfo

    from app.reminders import service as reminders

    patient = login_as("patient")
    reminders.plan(db, patient, utcnow())
    db.commit()
    page = client.get(PAGE).text
    coming = page.split('id="upcoming-heading"', 1)[1]
    assert "Daily mood" in coming
    # Quiet hours over the whole evening mood time hold it until they end (07:00).
    client.post(PAGE, data={"quiet_start": "06:00", "quiet_end": "23:59",
                            "enabled": [k.key for k in kinds.kinds_for("patient")],
                            "snooze_minutes": "15", "message": "scheduled",
                            "csrf_token": _token(client)})
    db.expire_all()
    mood = db.exec(select(ReminderOccurrence).where(
        ReminderOccurrence.user_id == patient.id, ReminderOccurrence.kind == "mood",
        ReminderOccurrence.status == "pending")).all()
    assert mood and all(o.send_at.astimezone(ZoneInfo(patient.timezone)).hour == 23 for o in mood)
