"""The dispatcher against a real (local) push service: what arrives, and what each answer does.

The fake service verifies every VAPID JWT against the app's public key and decrypts every
body with the keys the test generated (tests/push/fake_service.py).
"""

import json
import logging
import threading
import uuid
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from app.alerts.models import Alert
from app.db import engine, utcnow
from app.push import service as subscriptions
from app.push.models import PushSubscription
from app.reminders import dispatcher
from app.reminders.models import (
    DeliveryStatus,
    OccurrenceStatus,
    PushAttempt,
    PushDelivery,
    ReminderOccurrence,
    ReminderPreferences,
)
from tests import factories

# Words that would tell a lock screen, a push service or a shoulder-surfer about treatment.
PHI_WORDS = ("ketamine", "troche", "mg", "dose", "blood", "pressure", "suicid", "phq", "gad",
             "c-ssrs", "score", "mood", "depress", "crisis", "patient", "@", "plus40")


def _device(db: Session, user, push_service, token: str | None = None) -> PushSubscription:
    info = push_service.subscription(token or uuid.uuid4().hex)
    subscription = subscriptions.subscribe(
        db, user=user, endpoint=info["endpoint"], p256dh=info["keys"]["p256dh"],
        auth=info["keys"]["auth"], name="Test phone", auth_session_id=None, now=utcnow(),
    )
    db.flush()
    return subscription


def _occurrence(db: Session, user, *, kind="mood", url="/today", send_at=None,
                patient=None, subject_id=None) -> ReminderOccurrence:
    now = utcnow()
    occurrence = ReminderOccurrence(
        user_id=user.id, patient_id=(patient or user).id, kind=kind,
        rule=f"{kind}:{uuid.uuid4()}", local_time="2026-12-01T09:00",
        due_at=send_at or now, send_at=send_at or now, url=url, subject_id=subject_id,
        created_at=now,
    )
    db.add(occurrence)
    db.flush()
    return occurrence


def _deliveries(db: Session, occurrence_id) -> list[PushDelivery]:
    db.expire_all()
    return list(db.exec(select(PushDelivery).where(PushDelivery.occurrence_id == occurrence_id)))


def test_a_due_reminder_arrives_signed_encrypted_and_saying_nothing_about_health(db, push_service):
    patient = factories.user(db, display_name="Dana Example")
    device = _device(db, patient, push_service)
    occurrence = _occurrence(db, patient, url=f"/checkins/plus40?dose={uuid.uuid4()}")
    db.commit()

    summary = dispatcher.run_once(plan=False)

    assert summary.sent == 1
    assert push_service.errors == []
    [got] = push_service.received
    assert got.claims["sub"] == "mailto:clinic@trochelog.example"
    assert got.payload["title"] == "TrocheLog"
    assert got.payload["body"] == "You have a scheduled reminder."
    assert got.payload["tag"] == f"tl-{occurrence.id}"
    assert got.payload["id"] == str(occurrence.id)
    # The link names the occurrence, not the page of the record it is about.
    assert got.payload["url"] == f"/reminders/{occurrence.id}/open"
    assert got.payload["actions"]["snooze"] == "Snooze 15 min"
    assert got.topic == occurrence.id.hex and len(got.topic) <= 32
    assert got.urgency == "normal"  # a mood prompt can wait for a phone saving its battery
    assert int(got.ttl) == 4 * 3600
    # The app's name is the title (the issue's own example); nothing else may say more.
    words = json.dumps({k: v for k, v in got.payload.items() if k != "title"}).lower()
    assert not [w for w in PHI_WORDS if w in words]
    assert "dana" not in words

    db.expire_all()
    assert db.get(ReminderOccurrence, occurrence.id).status == OccurrenceStatus.DISPATCHED
    [delivery] = _deliveries(db, occurrence.id)
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1
    assert db.get(PushSubscription, device.id).last_delivery_at is not None
    [attempt] = db.exec(select(PushAttempt).where(PushAttempt.delivery_id == delivery.id)).all()
    assert attempt.outcome == "sent" and attempt.status_code == 201

    # A second pass sends nothing more.
    assert dispatcher.run_once(plan=False).sent == 0
    assert len(push_service.received) == 1


def test_the_chosen_neutral_text_and_snooze_length_are_used(db, push_service):
    patient = factories.user(db)
    _device(db, patient, push_service)
    db.add(ReminderPreferences(user_id=patient.id, message="check_app", snooze_minutes=30))
    _occurrence(db, patient, kind="mood")
    db.commit()
    dispatcher.run_once(plan=False)
    [got] = push_service.received
    assert got.payload["body"] == "Please open the app."
    assert got.payload["actions"]["snooze"] == "Snooze 30 min"


def test_every_device_gets_it_once_and_a_person_without_one_is_recorded(db, push_service):
    patient = factories.user(db)
    lonely = factories.user(db)
    _device(db, patient, push_service, "phone")
    _device(db, patient, push_service, "laptop")
    occurrence = _occurrence(db, patient)
    nobody = _occurrence(db, lonely)
    db.commit()
    dispatcher.run_once(plan=False)
    assert sorted(r.token for r in push_service.received) == ["laptop", "phone"]
    db.expire_all()
    assert db.get(ReminderOccurrence, nobody.id).status == OccurrenceStatus.NO_DEVICE
    assert len(_deliveries(db, occurrence.id)) == 2


def test_not_yet_due_reminders_wait(db, push_service):
    patient = factories.user(db)
    _device(db, patient, push_service)
    later = _occurrence(db, patient, send_at=utcnow() + timedelta(minutes=10))
    db.commit()
    dispatcher.run_once(plan=False)
    assert push_service.received == []
    dispatcher.run_once(utcnow() + timedelta(minutes=11), plan=False)
    assert len(push_service.received) == 1
    db.expire_all()
    assert db.get(ReminderOccurrence, later.id).status == OccurrenceStatus.DISPATCHED


def test_410_removes_the_subscription_and_stops(db, push_service):
    patient = factories.user(db)
    device_id = _device(db, patient, push_service, "old").id
    occurrence = _occurrence(db, patient)
    db.commit()
    push_service.respond("old", 410)
    summary = dispatcher.run_once(plan=False)
    assert summary.gone == 1
    db.expire_all()
    assert db.get(PushSubscription, device_id) is None
    [delivery] = _deliveries(db, occurrence.id)
    assert delivery.status == DeliveryStatus.GONE
    # The history of the attempt stays, without the device.
    assert delivery.subscription_id is None
    assert db.exec(select(PushAttempt)).one().status_code == 410


def test_429_waits_for_retry_after_then_sends(db, push_service):
    patient = factories.user(db)
    _device(db, patient, push_service, "busy")
    occurrence = _occurrence(db, patient)
    db.commit()
    push_service.respond("busy", 429, headers={"Retry-After": "120"})
    now = utcnow()
    assert dispatcher.run_once(now, plan=False).retried == 1
    [delivery] = _deliveries(db, occurrence.id)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at >= now + timedelta(seconds=120)
    # Not before Retry-After, even though the ordinary backoff (30 s) has passed.
    dispatcher.run_once(now + timedelta(seconds=60), plan=False)
    assert len(push_service.received) == 1
    dispatcher.run_once(now + timedelta(seconds=121), plan=False)
    assert [r.status_answered for r in push_service.received] == [429, 201]
    assert _deliveries(db, occurrence.id)[0].status == DeliveryStatus.SENT


def test_500_retries_with_growing_backoff(db, push_service):
    patient = factories.user(db)
    _device(db, patient, push_service, "flaky")
    occurrence = _occurrence(db, patient)
    db.commit()
    push_service.respond("flaky", 500, times=2)
    now = utcnow()
    dispatcher.run_once(now, plan=False)
    first = _deliveries(db, occurrence.id)[0].next_attempt_at - now
    dispatcher.run_once(now + first, plan=False)
    second = _deliveries(db, occurrence.id)[0].next_attempt_at - (now + first)
    assert timedelta(seconds=30) <= first < second
    dispatcher.run_once(now + first + second, plan=False)
    assert [r.status_answered for r in push_service.received] == [500, 500, 201]
    [delivery] = _deliveries(db, occurrence.id)
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 3
    outcomes = [a.outcome for a in db.exec(select(PushAttempt).order_by(PushAttempt.at))]
    assert sorted(outcomes) == ["retry", "retry", "sent"]


def test_a_reminder_is_not_retried_past_the_point_it_matters(db, push_service):
    patient = factories.user(db)
    _device(db, patient, push_service, "down")
    occurrence = _occurrence(db, patient, kind="test")
    db.commit()
    push_service.respond("down", 503, times=100)
    now = utcnow()
    for minutes in range(0, 30, 2):
        dispatcher.run_once(now + timedelta(minutes=minutes), plan=False)
    [delivery] = _deliveries(db, occurrence.id)
    assert delivery.status == DeliveryStatus.FAILED
    # A test notification lives 10 minutes: it gave up instead of arriving half an hour late.
    assert len(push_service.received) < 8


@pytest.mark.parametrize("status", [403, 400, 413, 401])
def test_a_refusal_is_never_retried_and_is_logged_without_phi(db, push_service, caplog, status):
    patient = factories.user(db, display_name="Riley Private")
    device = _device(db, patient, push_service, "refuses")
    occurrence = _occurrence(db, patient)
    db.commit()
    push_service.respond("refuses", status)
    with caplog.at_level(logging.INFO):
        assert dispatcher.run_once(plan=False).refused == 1
        for minutes in (1, 5, 60):
            dispatcher.run_once(utcnow() + timedelta(minutes=minutes), plan=False)
    assert len(push_service.received) == 1
    [delivery] = _deliveries(db, occurrence.id)
    assert delivery.status == DeliveryStatus.FAILED
    db.expire_all()
    assert db.get(PushSubscription, device.id).last_status == status  # kept: 403 is not 410
    logged = caplog.text.lower()
    assert str(status) in logged
    assert "riley" not in logged and push_service.subscription("refuses")["endpoint"] not in logged


def test_an_acknowledged_alert_is_not_sent(db, push_service):
    prescriber = factories.user(db, role="prescriber")
    patient = factories.user(db)
    _device(db, prescriber, push_service)
    now = utcnow()
    alert = Alert(patient_id=patient.id, kind="bp_emergency", source_id=uuid.uuid4(),
                  raised_at=now, acknowledged_at=now, acknowledged_by_id=prescriber.id)
    db.add(alert)
    db.flush()
    occurrence = _occurrence(db, prescriber, kind="alert", patient=patient, subject_id=alert.id)
    db.commit()
    assert dispatcher.run_once(plan=False).skipped == 1
    assert push_service.received == []
    db.expire_all()
    skipped = db.get(ReminderOccurrence, occurrence.id)
    assert (skipped.status, skipped.skip_reason) == (OccurrenceStatus.SKIPPED, "acknowledged")


def test_an_open_alert_goes_out_urgent_without_snooze(db, push_service):
    prescriber = factories.user(db, role="prescriber")
    patient = factories.user(db)
    _device(db, prescriber, push_service)
    alert = Alert(patient_id=patient.id, kind="cssrs_high", source_id=uuid.uuid4(),
                  raised_at=utcnow())
    db.add(alert)
    db.flush()
    _occurrence(db, prescriber, kind="alert", patient=patient, subject_id=alert.id)
    db.commit()
    dispatcher.run_once(plan=False)
    [got] = push_service.received
    assert got.urgency == "high"
    assert "snooze" not in got.payload["actions"]
    assert got.payload["body"] == "An alert needs your attention. Open the app."


def test_a_test_notification_goes_to_that_device_only(db, push_service):
    patient = factories.user(db)
    phone = _device(db, patient, push_service, "phone")
    _device(db, patient, push_service, "laptop")
    dispatcher.send_test(db, user=patient, subscription_id=phone.id, now=utcnow())
    db.commit()
    dispatcher.run_once(plan=False)
    [got] = push_service.received
    assert got.token == "phone"
    assert got.payload["body"] == "Test notification: reminders work on this device."


def test_a_dispatcher_that_died_mid_send_is_taken_over_after_its_lease(db, push_service):
    patient = factories.user(db)
    _device(db, patient, push_service)
    occurrence = _occurrence(db, patient)
    db.commit()
    now = utcnow()
    dispatcher.fan_out(now)
    jobs = dispatcher.claim_deliveries(now)  # claimed... and then the process died
    assert len(jobs) == 1
    dispatcher.run_once(now + timedelta(minutes=1), plan=False)
    assert push_service.received == []  # the lease still holds
    dispatcher.run_once(now + dispatcher.LEASE + timedelta(seconds=1), plan=False)
    assert len(push_service.received) == 1
    assert _deliveries(db, occurrence.id)[0].status == DeliveryStatus.SENT


def test_two_dispatchers_at_once_deliver_each_occurrence_exactly_once(db, push_service):
    """1,000 due reminders, two dispatchers racing over them: each arrives once."""
    patients = [factories.user(db) for _ in range(50)]
    for patient in patients:
        _device(db, patient, push_service, f"device-{patient.id}")
    now = utcnow()
    ids = set()
    for i in range(1000):
        occurrence = _occurrence(db, patients[i % 50], send_at=now - timedelta(seconds=i % 7))
        ids.add(str(occurrence.id))
    db.commit()

    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def dispatch():
        try:
            start.wait()
            while True:
                fanned = dispatcher.fan_out(now, limit=50)
                before = len(push_service.received)
                dispatcher.send_due(now, limit=50)
                if not fanned.fanned_out and len(push_service.received) == before:
                    break
        except BaseException as exc:  # surfaced below, in the test's own thread
            failures.append(exc)

    threads = [threading.Thread(target=dispatch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, failures
    # Anything left over: a dispatcher that stopped early, or a send the machine's loopback
    # refused (a retry, after its backoff), as a real push service's hiccup would be.
    for minutes in (0, 1, 5, 30):
        dispatcher.run_once(now + timedelta(minutes=minutes), plan=False)
    got = [r.payload["id"] for r in push_service.received]
    assert push_service.errors == []
    assert len(got) == 1000 and set(got) == ids
    with Session(engine) as check:
        deliveries = check.exec(select(PushDelivery)).all()
        retried = {a.delivery_id for a in check.exec(select(PushAttempt)).all()
                   if a.outcome == "retry"}
    assert {d.status for d in deliveries} == {DeliveryStatus.SENT}
    # Only a retry waits for a later pass; nothing was left claimed and unsent by a live
    # dispatcher (that would go out only when its lease ran out).
    assert {d.id for d in deliveries if d.sent_at > now} <= retried
