"""The dispatcher: due occurrences become one delivery per device, deliveries go out as Web Push.

Every step runs in short transactions of its own and never holds one across a network call:

1. plan (reminders.service.plan_all) and raise due alerts (alerts.service) — idempotent;
2. fan out: claim due occurrences (FOR UPDATE SKIP LOCKED on PostgreSQL; on both databases a
   conditional single-row UPDATE ... WHERE status = 'pending' decides who owns one), check it
   is still needed, and add a delivery per device (UNIQUE(occurrence, subscription));
3. claim due deliveries the same way, with a lease, commit, then send outside the transaction;
4. record every attempt and its outcome: sent; retry (network, 5xx, 429 after Retry-After) with
   backoff; gone (404/410: the subscription is deleted); refused (400/401/403/413: never
   retried, logged without PHI).

Exactly-once is impossible over a network; this is at-least-once (a dispatcher that dies
mid-send leaves a lease that expires) plus dedupe on the phone (the notification's tag and the
Topic header both come from the occurrence). Several dispatchers at once never send one
occurrence to one device twice while they are alive.
"""

import logging
import threading
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import insert, or_, text, update
from sqlmodel import Session, col, select

from app import i18n
from app.accounts.models import User
from app.config import settings
from app.db import engine, utcnow
from app.errors import NotFound
from app.i18n import gettext as _
from app.push import sender, texts, vapid
from app.push import service as push_service
from app.push.models import PushSubscription
from app.reminders.links import open_url
from app.reminders.models import (
    DeliveryStatus,
    OccurrenceStatus,
    PushAttempt,
    PushDelivery,
    ReminderOccurrence,
    ReminderPreferences,
)

log = logging.getLogger("trochelog.reminders")

# A claimed delivery belongs to its dispatcher this long; after that another may take it over.
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
# How long a push service keeps a message for a phone that is off. A reminder hours late is
# noise (and the next one is planned), so it expires; a test is only useful now.
TTL_SECONDS = {"test": 10 * 60, "alert": 2 * 3600}
DEFAULT_TTL_SECONDS = 4 * 3600
# "high" wakes a phone in battery saving: for what is time-critical.
HIGH_URGENCY = {"session", "gate", "recheck", "alert", "caregiver_missed", "test"}
SEND_THREADS = 8
BATCH = 200


@dataclass
class PassSummary:
    fanned_out: int = 0
    skipped: int = 0
    no_device: int = 0
    sent: int = 0
    retried: int = 0
    gone: int = 0
    refused: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def _write_first(session: Session) -> None:
    # SQLite: take the write lock before reading, or a read-then-write transaction fails with
    # "database is locked" when another dispatcher wrote in between (see sync.lock_patient).
    if session.connection().dialect.name == "sqlite":
        session.connection().execute(text("UPDATE push_deliveries SET id = id WHERE 0"))


def _skip_locked(query, session: Session):
    if session.connection().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def _still_needed(session: Session, occurrence: ReminderOccurrence, now: datetime) -> str | None:
    from app.reminders import service as reminders

    if occurrence.kind == "alert":
        from app.alerts.models import Alert

        alert = session.get(Alert, occurrence.subject_id) if occurrence.subject_id else None
        return "acknowledged" if alert is None or alert.acknowledged_at else None
    if occurrence.kind == "test":
        return None
    return reminders.still_needed(session, occurrence, now)


def fan_out(now: datetime, *, limit: int = BATCH) -> PassSummary:
    """Claim due occurrences and give each a delivery per device of its person."""
    summary = PassSummary()
    with Session(engine, expire_on_commit=False) as session:
        _write_first(session)
        due = session.exec(
            _skip_locked(
                select(ReminderOccurrence.id)
                .where(
                    ReminderOccurrence.status == OccurrenceStatus.PENDING,
                    col(ReminderOccurrence.send_at) <= now,
                )
                .order_by(col(ReminderOccurrence.send_at))
                .limit(limit),
                session,
            )
        ).all()
        if not due:
            return summary
        # The status in the WHERE decides who owns each row when dispatchers race.
        claimed = session.execute(
            update(ReminderOccurrence)
            .where(
                col(ReminderOccurrence.id).in_(due),
                col(ReminderOccurrence.status) == OccurrenceStatus.PENDING,
            )
            .values(status=OccurrenceStatus.DISPATCHED, dispatched_at=now)
            .returning(ReminderOccurrence.id)
            .execution_options(synchronize_session=False)
        ).scalars().all()
        occurrences = session.exec(
            select(ReminderOccurrence).where(col(ReminderOccurrence.id).in_(claimed))
        ).all()
        devices: dict[uuid.UUID, list[uuid.UUID]] = {}
        for subscription_id, user_id in session.exec(
            select(PushSubscription.id, PushSubscription.user_id).where(
                col(PushSubscription.user_id).in_({o.user_id for o in occurrences})
            )
        ):
            devices.setdefault(user_id, []).append(subscription_id)
        deliveries = []
        for occurrence in occurrences:
            reason = _still_needed(session, occurrence, now)
            if reason:
                _set_status(session, occurrence.id, OccurrenceStatus.SKIPPED, reason)
                summary.skipped += 1
            elif not devices.get(occurrence.user_id):
                _set_status(session, occurrence.id, OccurrenceStatus.NO_DEVICE, None)
                summary.no_device += 1
            else:
                deliveries += [
                    {"id": uuid.uuid4(), "occurrence_id": occurrence.id,
                     "subscription_id": subscription_id, "status": DeliveryStatus.PENDING,
                     "attempts": 0, "next_attempt_at": now}
                    for subscription_id in devices[occurrence.user_id]
                ]
                summary.fanned_out += 1
        if deliveries:
            session.execute(insert(PushDelivery), deliveries)
        session.commit()
    return summary


def _set_status(session: Session, occurrence_id: uuid.UUID, status: str, reason: str | None):
    session.execute(
        update(ReminderOccurrence)
        .where(col(ReminderOccurrence.id) == occurrence_id)
        .values(status=status, skip_reason=reason)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class _Job:
    delivery_id: uuid.UUID
    attempts: int
    subscription_id: uuid.UUID
    endpoint: str
    p256dh: str
    auth: str
    occurrence_id: uuid.UUID
    kind: str
    due_at: datetime
    payload: dict


def payload(occurrence: ReminderOccurrence, prefs: ReminderPreferences | None,
            language: str | None = None) -> dict:
    """What the service worker receives (encrypted): neutral words only, never health data, in
    the recipient's language (their setting, else their device's browser; None: the active
    one)."""
    with i18n.using(language or i18n.current_language()):
        return _payload(occurrence, prefs)


def _payload(occurrence: ReminderOccurrence, prefs: ReminderPreferences | None) -> dict:
    if occurrence.kind == "alert":
        body = _(texts.ALERT_MESSAGE)
    elif occurrence.kind == "test":
        body = _(texts.TEST_MESSAGE)
    else:
        key = prefs.message if prefs and prefs.message in texts.MESSAGES else None
        body = _(texts.MESSAGES[key or texts.DEFAULT_MESSAGE])
    actions = {"open": _("Open")}
    if occurrence.kind not in ("alert", "test"):
        minutes = prefs.snooze_minutes if prefs else 15
        actions["snooze"] = _("Snooze %(n)s min", n=minutes)
    return {
        "title": texts.TITLE,
        "body": body,
        "tag": f"tl-{occurrence.id}",
        # Not the page itself: the server resolves this for whoever is signed in.
        "url": open_url(occurrence.id),
        "id": str(occurrence.id),
        "actions": actions,
    }


def claim_deliveries(now: datetime, *, limit: int = BATCH) -> list[_Job]:
    """Take due deliveries (new, to retry, or whose dispatcher's lease ran out)."""
    due_now = or_(
        (col(PushDelivery.status) == DeliveryStatus.PENDING)
        & (col(PushDelivery.next_attempt_at) <= now),
        (col(PushDelivery.status) == DeliveryStatus.SENDING)
        & (col(PushDelivery.lease_until) < now),
    )
    with Session(engine, expire_on_commit=False) as session:
        _write_first(session)
        due = session.exec(
            _skip_locked(
                select(PushDelivery.id)
                .where(due_now)
                .order_by(col(PushDelivery.next_attempt_at))
                .limit(limit),
                session,
            )
        ).all()
        if not due:
            return []
        # Re-checking the condition in the UPDATE decides who owns each row when dispatchers
        # race (on SQLite, where there is no SKIP LOCKED, the second one finds none left).
        claimed = session.execute(
            update(PushDelivery)
            .where(col(PushDelivery.id).in_(due), due_now)
            .values(
                status=DeliveryStatus.SENDING,
                lease_until=now + LEASE,
                attempts=PushDelivery.attempts + 1,
            )
            .returning(
                PushDelivery.id,
                PushDelivery.attempts,
                PushDelivery.subscription_id,
                PushDelivery.occurrence_id,
            )
            .execution_options(synchronize_session=False)
        ).all()
        subscriptions = {
            s.id: s
            for s in session.exec(
                select(PushSubscription).where(
                    col(PushSubscription.id).in_({c.subscription_id for c in claimed})
                )
            )
        }
        occurrences = {
            o.id: o
            for o in session.exec(
                select(ReminderOccurrence).where(
                    col(ReminderOccurrence.id).in_({c.occurrence_id for c in claimed})
                )
            )
        }
        prefs = {
            p.user_id: p
            for p in session.exec(
                select(ReminderPreferences).where(
                    col(ReminderPreferences.user_id).in_(
                        {o.user_id for o in occurrences.values()}
                    )
                )
            )
        }
        languages = dict(
            session.exec(
                select(User.id, User.language).where(
                    col(User.id).in_({o.user_id for o in occurrences.values()})
                )
            ).all()
        )
        jobs: list[_Job] = []
        for row in claimed:
            subscription = subscriptions.get(row.subscription_id)
            occurrence = occurrences.get(row.occurrence_id)
            if subscription is None or occurrence is None:
                _finish(session, row.id, DeliveryStatus.GONE, None)  # removed meanwhile
                continue
            jobs.append(
                _Job(
                    delivery_id=row.id,
                    attempts=row.attempts,
                    subscription_id=subscription.id,
                    endpoint=subscription.endpoint,
                    p256dh=subscription.p256dh,
                    auth=subscription.auth,
                    occurrence_id=occurrence.id,
                    kind=occurrence.kind,
                    due_at=occurrence.due_at,
                    # The person's language, else the one this device's browser sent.
                    payload=payload(occurrence, prefs.get(occurrence.user_id),
                                    i18n.first_supported(languages.get(occurrence.user_id),
                                                         subscription.language)),
                )
            )
        session.commit()
    return jobs


def _finish(session: Session, delivery_id: uuid.UUID, status: str, sent_at: datetime | None):
    session.execute(
        update(PushDelivery)
        .where(col(PushDelivery.id) == delivery_id)
        .values(status=status, lease_until=None, sent_at=sent_at)
        .execution_options(synchronize_session=False)
    )


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at an hour."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def ttl_for(kind: str) -> int:
    return TTL_SECONDS.get(kind, DEFAULT_TTL_SECONDS)


_local = threading.local()


def _http() -> requests.Session:
    # One connection pool per sending thread: requests' Session is not meant to be shared
    # across threads, and a kept-alive connection to the push service saves a TLS handshake
    # per message.
    http = getattr(_local, "http", None)
    if http is None:
        http = _local.http = requests.Session()
        http.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=4))
        http.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=4))
    return http


def _send(job: _Job, keys: vapid.VapidKeys) -> sender.SendResult:
    return sender.send(
        {"endpoint": job.endpoint, "keys": {"p256dh": job.p256dh, "auth": job.auth}},
        job.payload,
        keys=keys,
        ttl=ttl_for(job.kind),
        urgency="high" if job.kind in HIGH_URGENCY else "normal",
        topic=job.occurrence_id.hex,  # 32 base64url characters: a repeat replaces, not stacks
        timeout=settings.push_timeout_seconds,
        requests_session=_http(),
    )


def record(job: _Job, result: sender.SendResult, now: datetime, summary: PassSummary) -> None:
    """Write one attempt's outcome in a short transaction of its own."""
    record_all([(job, result)], now, summary)


def record_all(
    outcomes: list[tuple[_Job, sender.SendResult]], now: datetime, summary: PassSummary
) -> None:
    """Record a batch's attempts and the deliveries' new states in one short transaction, with
    a statement per kind of change rather than per message; then forget devices that are gone.
    """
    attempts: list[dict] = []
    finished: dict[tuple[str, bool], list[uuid.UUID]] = {}  # (status, sent?) → deliveries
    retries: list[tuple[uuid.UUID, datetime]] = []
    devices: dict[uuid.UUID, dict] = {}
    gone: list[_Job] = []
    for job, result in outcomes:
        summary.outcomes[result.outcome] = summary.outcomes.get(result.outcome, 0) + 1
        attempts.append({
            "id": uuid.uuid4(), "delivery_id": job.delivery_id, "at": now,
            "status_code": result.status_code, "outcome": result.outcome,
            "detail": result.detail[:200], "retry_after_seconds": result.retry_after_seconds,
        })
        values: dict = {"last_status": result.status_code}
        if result.outcome == "sent":
            summary.sent += 1
            finished.setdefault((DeliveryStatus.SENT, True), []).append(job.delivery_id)
            values["last_delivery_at"] = now
        elif result.outcome == "retry":
            expires = job.due_at + timedelta(seconds=ttl_for(job.kind))
            wait = backoff(job.attempts)
            if result.retry_after_seconds:
                wait = max(wait, timedelta(seconds=result.retry_after_seconds))
            if job.attempts >= MAX_ATTEMPTS or now + wait > expires:
                # Out of tries, or it would arrive after it stopped mattering.
                finished.setdefault((DeliveryStatus.FAILED, False), []).append(job.delivery_id)
                log.warning("push gave up after %s attempts (%s)", job.attempts, result.detail)
            else:
                summary.retried += 1
                retries.append((job.delivery_id, now + wait))
            values["last_failure_at"] = now
        elif result.outcome == "gone":
            summary.gone += 1
            finished.setdefault((DeliveryStatus.GONE, False), []).append(job.delivery_id)
            gone.append(job)
            continue  # the device is removed after this transaction commits
        else:
            summary.refused += 1
            finished.setdefault((DeliveryStatus.FAILED, False), []).append(job.delivery_id)
            values["last_failure_at"] = now
            log.warning("push refused by the push service: %s", result.detail)
        devices.setdefault(job.subscription_id, {}).update(values)

    with Session(engine) as session:
        if attempts:
            session.execute(insert(PushAttempt), attempts)
        for (status, sent), ids in finished.items():
            session.execute(
                update(PushDelivery)
                .where(col(PushDelivery.id).in_(ids))
                .values(status=status, lease_until=None, sent_at=now if sent else None)
                .execution_options(synchronize_session=False)
            )
        for delivery_id, at in retries:
            session.execute(
                update(PushDelivery)
                .where(col(PushDelivery.id) == delivery_id)
                .values(status=DeliveryStatus.PENDING, lease_until=None, next_attempt_at=at)
                .execution_options(synchronize_session=False)
            )
        _update_devices(session, devices)
        session.commit()
    _remove_gone(gone)


def _remove_gone(jobs: list[_Job]) -> None:
    """404/410: the push service forgot the device; so do we (if it still has that endpoint).
    Each in a transaction of its own, after the outcomes are committed: deleting a device
    touches its other deliveries (SET NULL), which another dispatcher may hold."""
    for job in jobs:
        with Session(engine) as session:
            push_service.gone(session, job.subscription_id, job.endpoint)
            session.commit()


def _update_devices(session: Session, changes: dict[uuid.UUID, dict]) -> None:
    """Each device's last delivery or failure, one statement per distinct change."""
    if not changes:
        return
    if session.connection().dialect.name == "postgresql":
        # Lock the rows in id order first: two dispatchers updating the same devices in
        # different orders would otherwise deadlock. NO KEY UPDATE, as the UPDATE itself takes:
        # it does not wait for the KEY SHARE locks that another dispatcher's fan-out holds on
        # these rows while it inserts deliveries that reference them (FOR UPDATE would, and
        # deadlocked with it).
        session.execute(
            select(PushSubscription.id)
            .where(col(PushSubscription.id).in_(changes))
            .order_by(col(PushSubscription.id))
            .with_for_update(key_share=True)  # renders FOR NO KEY UPDATE
        )
    groups: dict[tuple, list[uuid.UUID]] = {}
    for subscription_id, values in changes.items():
        groups.setdefault(tuple(sorted(values.items())), []).append(subscription_id)
    for values, ids in groups.items():
        session.execute(
            update(PushSubscription)
            .where(col(PushSubscription.id).in_(ids))
            .values(**dict(values))
            .execution_options(synchronize_session=False)
        )


def send_jobs(jobs: Iterable[_Job], now: datetime, summary: PassSummary, *, threads=SEND_THREADS):
    """Send outside any transaction, a few at a time (the push service answers slowly), and
    record each outcome as it comes."""
    jobs = list(jobs)
    if not jobs:
        return
    with Session(engine) as session:
        keys = vapid.keys(session)
        session.commit()
    with ThreadPoolExecutor(max_workers=min(threads, len(jobs))) as pool:
        results = list(pool.map(lambda job: _send(job, keys), jobs))
    record_all(list(zip(jobs, results, strict=True)), now, summary)


def send_due(now: datetime, summary: PassSummary | None = None, *, limit: int = BATCH):
    summary = summary or PassSummary()
    while True:
        jobs = claim_deliveries(now, limit=limit)
        if not jobs:
            return summary
        send_jobs(jobs, now, summary)


def run_once(now: datetime | None = None, *, plan: bool = True) -> PassSummary:
    """One pass: plan, raise due alerts, fan out, send. Tests call it; the loops repeat it."""
    from app.alerts import service as alerts
    from app.reminders import service as reminders

    now = now or utcnow()
    if plan:
        with Session(engine) as session:
            reminders.plan_all(session, now)
            session.commit()
    with Session(engine) as session:
        alerts.raise_unanswered_screeners(session, now)
        alerts.notify_due(session, now)
        session.commit()
    summary = PassSummary()
    while True:
        step = fan_out(now)
        summary.fanned_out += step.fanned_out
        summary.skipped += step.skipped
        summary.no_device += step.no_device
        if not (step.fanned_out or step.skipped or step.no_device):
            break
    send_due(now, summary)
    return summary


def send_test(
    session: Session, *, user: User, subscription_id: uuid.UUID, now: datetime
) -> ReminderOccurrence:
    """A test notification to one of the person's devices, sent on the dispatcher's next pass."""
    subscription = session.get(PushSubscription, subscription_id)
    if subscription is None or subscription.user_id != user.id:
        raise NotFound()
    occurrence = ReminderOccurrence(
        user_id=user.id,
        kind="test",
        rule=f"test:{uuid.uuid4()}",
        local_time=now.isoformat(timespec="seconds"),
        due_at=now,
        send_at=now,
        url="/account/reminders",
        status=OccurrenceStatus.DISPATCHED,
        created_at=now,
        dispatched_at=now,
    )
    session.add(occurrence)
    session.flush()
    session.add(
        PushDelivery(
            occurrence_id=occurrence.id, subscription_id=subscription.id, next_attempt_at=now
        )
    )
    session.flush()
    return occurrence

