"""Safety alerts the care team acknowledges.

An alert is raised in the same transaction as what caused it (a safety event, or a PHQ-9 whose
screener was left unanswered), so a rolled-back request leaves neither. Nothing here sends a
push: `notify_due` writes a ReminderOccurrence (kind "alert") for the next contact and the
dispatcher delivers it in its own session. While nobody acknowledges an alert, the next contact
is told after the clinic's delay (settings.alert_repeat_minutes), round the list and again.

Who is a contact depends on the kind (CONTACTS): the patient's prescribers (oldest link first),
then the caregivers who accepted alerts, when the patient allowed sharing alerts with them (the
consent recorded on the event, as it was when the event happened). A severe side effect and a
blood-pressure hold are for the caregivers only: the prescriber reads them on their flag list and
is not paged, and with no caregiver to tell no alert is raised for them at all.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Boolean, and_, exists, false, func, text, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, select

from app.accounts.models import Role, User
from app.alerts.models import Alert
from app.audit import service as audit
from app.careteam import access
from app.careteam.models import CareLink, Relation
from app.checkins.models import CheckIn, CheckinSettings, QuestionnaireResponse, SafetyEvent
from app.config import settings
from app.db import utcnow
from app.errors import Invalid, NotFound
from app.i18n import gettext as _
from app.reminders.models import OccurrenceStatus, ReminderOccurrence

CSSRS_HIGH = "cssrs_high"
SCREENER_UNANSWERED = "screener_unanswered"
BP_EMERGENCY = "bp_emergency"
HARD_TO_ROUSE = "hard_to_rouse"
DOSE_AGAINST_HOLD = "dose_against_hold"
BREATHING_CONCERN = "breathing_concern"
SEVERE_SIDE_EFFECT = "severe_side_effect"
BP_HOLD = "bp_hold"  # a pre-dose gate held for blood pressure at or above the protocol's level

PRESCRIBERS = "prescribers"
CAREGIVERS = "caregivers"
# Who is told of each kind, in this order: prescribers first, then caregivers who accepted
# alerts (and only with the patient's consent). The one place this is decided.
CONTACTS: dict[str, tuple[str, ...]] = {
    CSSRS_HIGH: (PRESCRIBERS, CAREGIVERS),
    SCREENER_UNANSWERED: (PRESCRIBERS, CAREGIVERS),
    BP_EMERGENCY: (PRESCRIBERS, CAREGIVERS),
    HARD_TO_ROUSE: (PRESCRIBERS, CAREGIVERS),
    BREATHING_CONCERN: (PRESCRIBERS, CAREGIVERS),
    DOSE_AGAINST_HOLD: (PRESCRIBERS, CAREGIVERS),
    SEVERE_SIDE_EFFECT: (CAREGIVERS,),
    BP_HOLD: (CAREGIVERS,),
}
KINDS = tuple(CONTACTS)
# Kinds a prescriber is paged for: their open list and menu count show only these (the others
# are on the patient's page and apart on /alerts, where they can still acknowledge them).
PRESCRIBER_KINDS = tuple(k for k, who in CONTACTS.items() if PRESCRIBERS in who)



def kind_label(kind: str) -> str:
    """An alert's kind in a few words, for the exports (the pages say more, and say it to
    each reader: alerts/_alerts.html)."""
    return {
        CSSRS_HIGH: _("High-risk suicidality screen"),
        SCREENER_UNANSWERED: _("Suicidality screener unanswered"),
        BP_EMERGENCY: _("Blood pressure at or above 180/120"),
        HARD_TO_ROUSE: _("Hard to rouse during a session"),
        BREATHING_CONCERN: _("Breathing concern"),
        DOSE_AGAINST_HOLD: _("Dose taken against a hold"),
        SEVERE_SIDE_EFFECT: _("Severe side effect"),
        BP_HOLD: _("Blood pressure hold before a dose"),
    }.get(kind, kind.replace("_", " "))


NOTE_MAX = 1000
# Where a contact acknowledges an alert: the notification opens it. An opaque page, no PHI.
ACKNOWLEDGE_URL = "/alerts"
# An unanswered screener older than this is not turned into an alert: when alerts are first
# switched on (or the dispatcher was down for long) months-old flags would otherwise page the
# care team all at once. They stay on the patient's safety event list either way.
SCREENER_LOOKBACK = timedelta(days=14)


# --- raising ----------------------------------------------------------------------------------


def kind_for_event(event: SafetyEvent) -> str | None:
    """The alert a safety event calls for, or None (a low-risk screen and an offline gate
    disagreement are on the record but page nobody)."""
    if event.kind == "positive_screen":
        return CSSRS_HIGH if event.level == "high" else None
    if event.kind in (BP_EMERGENCY, HARD_TO_ROUSE, BREATHING_CONCERN, DOSE_AGAINST_HOLD,
                      SEVERE_SIDE_EFFECT):
        return event.kind
    return None


def _insert_ignoring_conflict(
    session: Session, model: type[SQLModel], values: dict, keys: list[str]
) -> bool:
    """Insert one row unless its unique key exists; True when this call inserted it.

    Never fails the surrounding transaction: the request that raised the event (or the
    dispatcher's pass) goes on whether or not another writer got there first.
    """
    session.flush()
    table = model.__table__  # type: ignore[attr-defined]
    # The two databases we run on; both have INSERT … ON CONFLICT DO NOTHING.
    postgres = session.connection().dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    stmt = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=keys)
        # RETURNING says whether it went in (psycopg 3 reports rowcount -1 for this insert).
        .returning(table.c.id)
    )
    return session.execute(stmt).first() is not None


def _raise(
    session: Session, *, patient_id: uuid.UUID, kind: str, source_id: uuid.UUID, now: datetime,
    shares: bool | None = None, reported_by: uuid.UUID | None = None,
) -> Alert | None:
    if PRESCRIBERS not in CONTACTS[kind]:
        # Caregivers only: with nobody to tell now (none accepted alerts, or the patient does
        # not share them, or the only one is the sitter who recorded it), there is no alert;
        # the event stays on the patient's record.
        if shares is None:
            shares = _current_consent(session, patient_id)
        if not _contacts_of(session, patient_id, kind, shares, now, raised_at=now,
                            reported_by=reported_by):
            return None
    alert_id = uuid.uuid4()
    inserted = _insert_ignoring_conflict(
        session,
        Alert,
        {
            "id": alert_id,
            "patient_id": patient_id,
            "kind": kind,
            "source_id": source_id,
            "raised_at": now,
            "notified_count": 0,
            # The first contact is told at once (on the dispatcher's next pass).
            "next_notify_at": now,
        },
        ["kind", "source_id"],
    )
    return session.get(Alert, alert_id) if inserted else None


def raise_for_event(session: Session, event: SafetyEvent, now: datetime) -> Alert | None:
    """The alert this event calls for, written in the caller's transaction; None when the event
    calls for none or its alert exists already (a replay raises nothing new)."""
    kind = kind_for_event(event)
    if kind is None:
        return None
    return _raise(session, patient_id=event.patient_id, kind=kind, source_id=event.id, now=now,
                  shares=event.share_with_caregiver, reported_by=_reported_by(session, event))


def raise_for_bp_hold(
    session: Session, *, patient_id: uuid.UUID, gate_id: uuid.UUID, now: datetime
) -> Alert | None:
    """A pre-dose gate held for blood pressure at or above the protocol's hold level (below the
    180/120 emergency, which has its own event and alert): an alert to the caregivers who
    accepted alerts, with the patient's consent as it is now. Source: the gate; a replay of the
    same gate raises nothing new."""
    return _raise(session, patient_id=patient_id, kind=BP_HOLD, source_id=gate_id, now=now)


def _write_first(session: Session) -> None:
    # SQLite: take the write lock before reading, so two dispatchers' read-then-write passes
    # queue up instead of failing with "database is locked" (PostgreSQL needs nothing here).
    if session.connection().dialect.name == "sqlite":
        session.connection().execute(text("UPDATE alerts SET id = id WHERE 0"))


def raise_unanswered_screeners(session: Session, now: datetime) -> list[Alert]:
    """An alert for each PHQ-9 with item 9 above 0 whose C-SSRS screener is still unanswered
    settings.screener_unanswered_minutes after it (counted from when it was answered and from
    when the server received it, so a PHQ-9 that arrives late from an offline phone leaves the
    patient the same time to answer the screener). Idempotent."""
    _write_first(session)
    cutoff = now - timedelta(minutes=settings.screener_unanswered_minutes)
    raised_already = exists().where(
        Alert.kind == SCREENER_UNANSWERED, Alert.source_id == SafetyEvent.id
    )
    flags = session.exec(
        select(SafetyEvent)
        .join(QuestionnaireResponse, col(QuestionnaireResponse.id) == col(SafetyEvent.source_id))
        .where(
            SafetyEvent.kind == "phq9_item9",
            # The screener's answer turns the flag to "screened" (checkins.service).
            SafetyEvent.level == "unscreened",
            col(SafetyEvent.occurred_at) <= cutoff,
            col(SafetyEvent.occurred_at) >= now - SCREENER_LOOKBACK,
            col(QuestionnaireResponse.received_at) <= cutoff,
            ~raised_already,
        )
        .order_by(col(SafetyEvent.occurred_at))
    ).all()
    raised = []
    for flag in flags:
        alert = _raise(
            session,
            patient_id=flag.patient_id,
            kind=SCREENER_UNANSWERED,
            source_id=flag.id,
            now=now,
        )
        if alert is not None:
            raised.append(alert)
    return raised


# --- who is told ------------------------------------------------------------------------------


def _current_consent(session: Session, patient_id: uuid.UUID) -> bool:
    current = session.get(CheckinSettings, patient_id)
    return current.share_alerts_with_caregiver if current else True


def _shares_with_caregivers(session: Session, alert: Alert) -> bool:
    """The patient's consent for this alert: as recorded on its event when it happened; the
    current setting when there is no event to go by (a blood-pressure hold's gate)."""
    event = session.get(SafetyEvent, alert.source_id)
    if event is not None and event.patient_id == alert.patient_id:
        return event.share_with_caregiver
    return _current_consent(session, alert.patient_id)


def _team(session: Session, patient_id: uuid.UUID, relation: Relation, now: datetime,
          wants=lambda link: True) -> list[User]:
    """The patient's active team members of one relation, oldest link first (the order they
    are notified in); the access module decides which links count."""
    patient = session.get(User, patient_id)
    if patient is None:
        return []
    links = sorted(access.team_links(session, patient_id, relation),
                   key=lambda pair: (pair[0].created_at, pair[0].id))
    return [member for link, member in links
            if member.is_active and access.link_is_active(link, patient, now) and wants(link)]


def _contacts_of(session: Session, patient_id: uuid.UUID, kind: str, shares: bool,
                 now: datetime, raised_at: datetime,
                 reported_by: uuid.UUID | None = None) -> list[User]:
    who = CONTACTS.get(kind, (PRESCRIBERS, CAREGIVERS))
    people = []
    if PRESCRIBERS in who:
        people += _team(session, patient_id, Relation.PRESCRIBER, now)
    if CAREGIVERS in who and shares:
        # The sitter who recorded what raised it is with the patient already: not paged. A
        # sitter who joined after it was raised is not told either (_visible_to says why).
        people += _team(
            session, patient_id, Relation.CAREGIVER, now,
            wants=lambda link: (link.receives_alerts and link.member_id != reported_by
                                and link.created_at <= raised_at),
        )
    return people


def _reported_by(session: Session, event: SafetyEvent | None) -> uuid.UUID | None:
    """The caregiver whose own entry (a sitter's observation) raised this event, if any."""
    if event is None:
        return None
    entry = session.get(CheckIn, event.source_id)
    if entry is None or entry.author_id == entry.patient_id:
        return None
    return entry.author_id


def contacts(session: Session, alert: Alert, now: datetime | None = None) -> list[User]:
    """Who is told, in turn, as CONTACTS says for the kind: the prescribers (oldest link first),
    then the caregivers who accepted alerts, if the patient allowed sharing this alert (not the
    sitter who recorded what raised it)."""
    event = session.get(SafetyEvent, alert.source_id)
    if event is not None and event.patient_id != alert.patient_id:
        event = None
    return _contacts_of(session, alert.patient_id, alert.kind,
                        _shares_with_caregivers(session, alert), now or utcnow(),
                        alert.raised_at, _reported_by(session, event))


def notify_due(session: Session, now: datetime) -> int:
    """Queue a push to the next contact for every open alert that is due; returns how many.

    Each step is claimed with a conditional update on notified_count, so two dispatchers running
    at once queue each step once; the occurrence's unique key (contact, "alert:<id>", step) makes
    a repeat harmless too. With nobody to tell (no active prescriber yet), the alert stays open
    and due, and the next pass tries again.
    """
    _write_first(session)
    due = session.exec(
        select(Alert)
        .where(
            col(Alert.acknowledged_at).is_(None),
            col(Alert.next_notify_at).is_not(None),
            col(Alert.next_notify_at) <= now,
        )
        .order_by(col(Alert.next_notify_at))
    ).all()
    repeat = timedelta(minutes=settings.alert_repeat_minutes)
    queued = 0
    for alert in due:
        alert_id, patient_id, step = alert.id, alert.patient_id, alert.notified_count
        people = contacts(session, alert, now)
        if not people:
            if PRESCRIBERS not in CONTACTS.get(alert.kind, (PRESCRIBERS,)):
                # A caregivers-only alert whose caregivers are all gone (link removed, alerts
                # turned off, consent withdrawn): stop trying; it stays open on the record.
                session.execute(
                    update(Alert)
                    .where(col(Alert.id) == alert_id, col(Alert.notified_count) == step)
                    .values(next_notify_at=None)
                    .execution_options(synchronize_session=False)
                )
                session.expire(alert)
            continue
        claimed = session.execute(
            update(Alert)
            .where(
                col(Alert.id) == alert_id,
                col(Alert.notified_count) == step,
                col(Alert.acknowledged_at).is_(None),
            )
            .values(notified_count=step + 1, next_notify_at=now + repeat)
            .execution_options(synchronize_session=False)
        )
        session.expire(alert)
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another dispatcher took this step, or someone acknowledged it just now
        contact = people[step % len(people)]
        _insert_ignoring_conflict(
            session,
            ReminderOccurrence,
            {
                "id": uuid.uuid4(),
                "user_id": contact.id,
                "patient_id": patient_id,
                "kind": "alert",
                "rule": f"alert:{alert_id}",
                "local_time": str(step),
                "due_at": now,
                "send_at": now,
                "url": ACKNOWLEDGE_URL,
                "subject_id": alert_id,
                "status": OccurrenceStatus.PENDING,
                "skip_reason": None,
                "created_at": now,
                "dispatched_at": None,
            },
            ["user_id", "rule", "local_time"],
        )
        queued += 1
    return queued


# --- who sees and acknowledges ----------------------------------------------------------------


def _visible_to(session: Session, user: User):
    """A condition on Alert: this person is a contact for it (the same rule as `contacts`)."""
    if not user.is_active:
        return false()
    if user.role == Role.PRESCRIBER:
        # The patients whose pages they may open (the access module decides, as for the
        # patient's page, which lists and acknowledges every open alert of the patient's).
        treated = access.readable_patient_refs_query(user, access.Purpose.TREAT)
        if treated is None:
            return false()
        return col(Alert.patient_id).in_(treated.with_only_columns(col(User.id)))
    if user.role == Role.CAREGIVER:
        consent = func.coalesce(
            select(SafetyEvent.share_with_caregiver)
            .where(SafetyEvent.id == Alert.source_id, SafetyEvent.patient_id == Alert.patient_id)
            .scalar_subquery(),
            select(CheckinSettings.share_alerts_with_caregiver)
            .where(CheckinSettings.patient_id == Alert.patient_id)
            .scalar_subquery(),
            true(),
            type_=Boolean,
        )
        # Links past their end date (the access module decides) see nothing.
        supported = [p.id for p in access.readable_patients(
            session, user, access.Purpose.VIEW_SESSION, audited=False)]  # a filter, not a view
        # Only alerts raised since they joined: the patient shared each with the team it had
        # then, and a new sitter who acknowledged an old one (a high-risk screen's, say, a week
        # open) would stop its notices to the people who know what it is about.
        linked = exists().where(
            CareLink.patient_id == Alert.patient_id,
            col(CareLink.patient_id).in_(supported),
            CareLink.member_id == user.id,
            CareLink.relation == Relation.CAREGIVER,
            col(CareLink.revoked_at).is_(None),
            col(CareLink.receives_alerts).is_(True),
            col(CareLink.created_at) <= Alert.raised_at,
        )
        # The patient ids on Alert itself too: the database then reads those patients' alerts
        # by index, not every alert the clinic ever raised to test each against the link.
        return and_(col(Alert.patient_id).in_(supported), linked, consent.is_(True))
    return false()


def _paged(user: User):
    """A condition on Alert: a kind this person is paged for. A prescriber is not paged for the
    caregivers-only kinds (they are on the patient's flag list and page); their open list and
    menu count leave them out, though they may still read and acknowledge them (the patient's
    page, and /alerts apart: `open_not_paged`)."""
    if user.role == Role.PRESCRIBER:
        return col(Alert.kind).in_(PRESCRIBER_KINDS)
    return true()


def open_alerts(session: Session, user: User, patient_id: uuid.UUID | None = None) -> list[Alert]:
    """Unacknowledged alerts this person is paged for, oldest first (optionally one
    patient's)."""
    query = select(Alert).where(col(Alert.acknowledged_at).is_(None), _visible_to(session, user),
                                _paged(user))
    if patient_id is not None:
        query = query.where(Alert.patient_id == patient_id)
    return list(session.exec(query.order_by(col(Alert.raised_at), col(Alert.id))).all())


def open_not_paged(session: Session, user: User) -> list[Alert]:
    """Unacknowledged alerts this person may read and acknowledge but is not paged for, oldest
    first: for a prescriber, the caregivers-only kinds (the patient's page lists them among the
    open alerts, so /alerts does too); nothing for a caregiver, who is paged for all they see."""
    if user.role != Role.PRESCRIBER:
        return []
    query = select(Alert).where(col(Alert.acknowledged_at).is_(None), _visible_to(session, user),
                                ~col(Alert.kind).in_(PRESCRIBER_KINDS))
    return list(session.exec(query.order_by(col(Alert.raised_at), col(Alert.id))).all())


def open_for_patient(session: Session, patient_id: uuid.UUID) -> list[Alert]:
    """One patient's unacknowledged alerts, oldest first, for their prescriber's page (the
    route has checked access to the patient)."""
    return list(
        session.exec(
            select(Alert)
            .where(Alert.patient_id == patient_id, col(Alert.acknowledged_at).is_(None))
            .order_by(col(Alert.raised_at), col(Alert.id))
        ).all()
    )


def about_patient(
    session: Session, patient_id: uuid.UUID, since: datetime, limit: int = 20,
    acknowledged_only: bool = False,
) -> list[Alert]:
    """The alerts raised about one patient since a moment, newest first: the patient sees
    what their care team was told and who acknowledged it (their own record); the prescriber's
    page of the patient lists the acknowledged ones (the route has checked access)."""
    query = select(Alert).where(Alert.patient_id == patient_id, col(Alert.raised_at) >= since)
    if acknowledged_only:
        query = query.where(col(Alert.acknowledged_at).is_not(None))
    return list(
        session.exec(
            query
            .order_by(col(Alert.raised_at).desc(), col(Alert.id))
            .limit(limit)
        ).all()
    )


def open_count(session: Session, user: User) -> int:
    """How many open alerts this person is paged for: the menu's badge (one COUNT)."""
    return session.exec(
        select(func.count())
        .select_from(Alert)
        .where(col(Alert.acknowledged_at).is_(None), _visible_to(session, user), _paged(user))
    ).one()


def recent_acknowledged(
    session: Session, user: User, limit: int = 20, patient_id: uuid.UUID | None = None
) -> list[Alert]:
    """Alerts this person may see that someone acknowledged, latest first (optionally one
    patient's): who acknowledged, and when, is shown to the rest of the care team."""
    query = select(Alert).where(col(Alert.acknowledged_at).is_not(None), _visible_to(session, user))
    if patient_id is not None:
        query = query.where(Alert.patient_id == patient_id)
    return list(
        session.exec(
            query.order_by(col(Alert.acknowledged_at).desc(), col(Alert.id)).limit(limit)
        ).all()
    )


@dataclass(frozen=True)
class AlertView:
    """An alert as a page shows it: with the patient's name and who acknowledged it."""

    alert: Alert
    patient_name: str
    acknowledged_by: str | None
    acknowledged_by_role: str | None = None

    def note_for(self, viewer: User) -> str | None:
        """The acknowledgement's note as `viewer` may read it. A patient shares the alert with
        their caregivers, not the clinic's notes: a prescriber's note ("discussed ideation,
        started sertraline") is clinical, so a caregiver reads only a caregiver's."""
        note = self.alert.acknowledgement_note
        if not note or viewer.role != Role.CAREGIVER:
            return note
        mine = self.alert.acknowledged_by_id == viewer.id
        return note if mine or self.acknowledged_by_role == Role.CAREGIVER else None


def views(session: Session, alerts: list[Alert]) -> list[AlertView]:
    ids = {a.patient_id for a in alerts} | {
        a.acknowledged_by_id for a in alerts if a.acknowledged_by_id
    }
    people: dict = {}
    if ids:
        people = {uid: (name, role) for uid, name, role in session.exec(
            select(User.id, User.display_name, User.role).where(col(User.id).in_(ids))).all()}
    return [
        AlertView(
            alert=a,
            patient_name=people.get(a.patient_id, ("—", None))[0],
            acknowledged_by=(people.get(a.acknowledged_by_id, ("—", None))[0]
                             if a.acknowledged_by_id else None),
            acknowledged_by_role=people.get(a.acknowledged_by_id, (None, None))[1],
        )
        for a in alerts
    ]


@dataclass(frozen=True)
class Acknowledged:
    alert: Alert
    already: bool  # someone had acknowledged it before: their record (who, when, note) stands


def clean_note(note: str | None) -> str | None:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise Invalid(_("Use at most %(n)s characters.", n=NOTE_MAX), field="note")
    return note or None


def acknowledge(
    session: Session, *, user: User, alert_id: uuid.UUID, note: str | None, now: datetime
) -> Acknowledged:
    """A contact acknowledges an alert: no one else is notified about it from now on.

    NotFound unless the person is a contact for it (never says whether another patient's alert
    exists). Acknowledging twice keeps the first acknowledgement.
    """
    found = session.exec(
        select(Alert).where(Alert.id == alert_id, _visible_to(session, user))
    ).first()
    if found is None:
        raise NotFound()
    clean = clean_note(note)
    # Conditional, so two people acknowledging at once leave exactly one record.
    done = session.execute(
        update(Alert)
        .where(col(Alert.id) == alert_id, col(Alert.acknowledged_at).is_(None))
        .values(
            acknowledged_at=now,
            acknowledged_by_id=user.id,
            acknowledgement_note=clean,
            next_notify_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    already = done.rowcount != 1  # type: ignore[attr-defined]
    if not already:
        audit.record(session, action="alert.acknowledge", actor=user,
                     patient_id=found.patient_id, now=now)
        # Pushes queued for it that have not gone out yet are no longer needed.
        session.execute(
            update(ReminderOccurrence)
            .where(
                ReminderOccurrence.kind == "alert",
                col(ReminderOccurrence.subject_id) == alert_id,
                ReminderOccurrence.status == OccurrenceStatus.PENDING,
            )
            .values(status=OccurrenceStatus.SKIPPED, skip_reason="acknowledged")
            .execution_options(synchronize_session=False)
        )
    session.refresh(found)
    return Acknowledged(alert=found, already=already)


# --- the caregiver's choice -------------------------------------------------------------------


def _caregiver_link(session: Session, caregiver: User, patient_id: uuid.UUID) -> CareLink:
    link = access.caregiver_link(session, caregiver, patient_id)
    if link is None:
        raise NotFound()
    return link


def set_receives_alerts(
    session: Session, *, caregiver: User, patient_id: uuid.UUID, on: bool
) -> CareLink:
    """A caregiver turns safety alerts about one person on or off (their own link only). The
    patient's sharing setting must also allow it for an alert to reach them."""
    link = _caregiver_link(session, caregiver, patient_id)
    link.receives_alerts = on
    session.add(link)
    session.flush()
    return link


def receives_alerts_by_patient(session: Session, caregiver: User) -> dict[uuid.UUID, bool]:
    """The caregiver's choice for each person they support, for the /supporting page."""
    rows = session.exec(
        select(CareLink.patient_id, CareLink.receives_alerts).where(
            CareLink.member_id == caregiver.id,
            CareLink.relation == Relation.CAREGIVER,
            col(CareLink.revoked_at).is_(None),
        )
    ).all()
    return {patient_id: bool(on) for patient_id, on in rows}
