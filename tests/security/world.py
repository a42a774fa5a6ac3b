"""The world the route matrix runs in: every subject of policy.SUBJECTS with a real session, the
patient's objects ("own"), and another patient's objects ("other") whose every text field holds
a canary string that no response may ever contain.

Also the route table itself (every method × path template the app answers, mounted apps
included) and the watch over the other patient's rows (nothing may write, change or point at
them).
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Uuid, or_
from sqlalchemy import select as select_rows
from sqlmodel import Session, SQLModel, select
from starlette.routing import Mount

from app.accounts import reset
from app.accounts import service as accounts
from app.accounts.models import AuthSession, Passkey, User
from app.alerts.models import Alert
from app.careteam.models import CareLink
from app.checkins.models import CheckIn, QuestionnaireResponse, SafetyEvent
from app.clinic.models import FlagReview
from app.config import settings
from app.db import utcnow
from app.doses.models import Dose, DoseRevision, LedgerEntry
from app.push.models import PushSubscription
from app.reminders.models import ReminderOccurrence
from app.web import csrf as csrf_mask
from tests import factories
from tests.conftest import csrf_from
from tests.security.policy import ROLE, SUBJECTS

COOKIE_DOMAIN = "testserver.local"  # where the TestClient's jar keeps cookies (tests/helpers.py)


# --- the route table --------------------------------------------------------------------------


def app_routes(app) -> dict[str, str]:
    """{"METHOD /path/{param}": path template} for every route, mounted apps included."""
    from fastapi.routing import iter_route_contexts

    found: dict[str, str] = {}

    def walk(routes, prefix: str = "") -> None:
        for context in iter_route_contexts(routes):
            route = context.original_route
            if isinstance(route, Mount):
                inner = getattr(route.app, "routes", None)
                if inner:
                    walk(inner, prefix + route.path)
                else:  # an app of its own (static files): any path below it
                    for method in ("GET", "HEAD"):
                        found[f"{method} {prefix}{route.path}/{{path}}"] = (
                            f"{prefix}{route.path}/{{path}}")
                continue
            for method in sorted(context.methods or ()):
                found[f"{method} {prefix}{context.path}"] = prefix + context.path

    walk(app.routes)
    return found


# --- the people and their things --------------------------------------------------------------


@dataclass
class Objects:
    """One patient's objects, by kind (policy.KINDS)."""

    ids: dict[str, str] = field(default_factory=dict)
    row_ids: set[uuid.UUID] = field(default_factory=set)  # everything planted, for the watch


@dataclass
class Subject:
    name: str
    user: User | None
    cookies: dict[str, str]
    csrf: str


@dataclass
class World:
    subjects: dict[str, Subject]
    own: Objects
    other: Objects
    patient: User
    other_patient: User  # the patient whose data is canaries (no subject may see it)
    canaries: tuple[str, ...]

    def value(self, kind: str, variant: str) -> str:
        if variant == "own":
            return self.own.ids[kind]
        if variant == "other":
            return self.other.ids[kind]
        if kind == "endpoint":
            return f"https://push.example.test/{uuid.uuid4().hex}"
        if kind in ("token", "reset_token"):
            return secrets.token_urlsafe(32)
        return str(uuid.uuid4())


def _local_today(user: User, now) -> date:
    return now.astimezone(ZoneInfo(user.timezone)).date()


def _caregiver_link(db: Session, patient: User, caregiver: User, scope: str, **terms) -> CareLink:
    # On the team since before the world's alerts were raised (a sitter is told only of alerts
    # raised after joining).
    factories.link(db, patient, caregiver, utcnow() - timedelta(days=1), scope=scope, **terms)
    row = db.exec(select(CareLink).where(CareLink.patient_id == patient.id,
                                         CareLink.member_id == caregiver.id)).one()
    row.receives_alerts = True  # so only the link's state decides about alerts
    db.add(row)
    return row


def _plant(db: Session, objects: Objects, *, patient: User, prescriber: User, caregiver: User,
           text, now) -> None:
    """The records of one patient, each text field filled by `text(field)`."""
    version = factories.protocol(db, prescriber, patient, now=now - timedelta(days=10),
                                 reason=text("protocol reason"))
    link = _caregiver_link(db, patient, caregiver, "checkins")
    issued = accounts.invite_caregiver(
        db, patient=patient, invite_id=uuid.uuid4(), email=text("invite email", email=True),
        display_name=text("invite name"), scope="checkins", now=now)
    dose = Dose(id=uuid.uuid4(), patient_id=patient.id, protocol_version_id=version.id,
                taken_at=now - timedelta(days=1), recorded_at=now - timedelta(days=1),
                received_at=now - timedelta(days=1), dose_mg=Decimal("62.5"),
                troches=Decimal("0.5"), route="sublingual", lot=text("lot"),
                rx_number=text("rx"), override_reason=text("override reason"),
                no_gate_reason=text("no gate reason"), status_reason=text("status reason"))
    db.add(dose)
    db.flush()
    revision = DoseRevision(id=uuid.uuid4(), dose_id=dose.id, revision=1, revised_at=now,
                            revised_by_id=patient.id, reason=text("revision reason"),
                            before={"lot": text("before")}, after={"lot": text("after")})
    checkin = CheckIn(id=uuid.uuid4(), patient_id=patient.id, author_id=patient.id,
                      slot="daily", values={"mood": 6, "note": text("mood note")},
                      recorded_at=now - timedelta(hours=2), received_at=now - timedelta(hours=2))
    observed = CheckIn(id=uuid.uuid4(), patient_id=patient.id, author_id=caregiver.id,
                       dose_id=dose.id, slot="observe",
                       values={"sedation": 1, "note": text("sitter note")},
                       recorded_at=now - timedelta(days=1), received_at=now - timedelta(days=1))
    response = QuestionnaireResponse(
        id=uuid.uuid4(), patient_id=patient.id, instrument="phq9",
        answers={**{f"q{i}": 1 for i in range(1, 10)}, "free_text": text("answer")},
        score=9, band="mild", risk=None, completed_at=now - timedelta(hours=3),
        received_at=now - timedelta(hours=3))
    event = SafetyEvent(id=uuid.uuid4(), patient_id=patient.id, kind="severe_side_effect",
                        level="moderate", occurred_at=now - timedelta(hours=1),
                        source_id=observed.id, details={"note": text("event detail")},
                        share_with_caregiver=True)
    reviewed = SafetyEvent(id=uuid.uuid4(), patient_id=patient.id, kind="hard_to_rouse",
                           level="low", occurred_at=now - timedelta(days=2),
                           source_id=uuid.uuid4(), reviewed_at=now, reviewed_by_id=prescriber.id,
                           review_note=text("review note"))
    alert = Alert(id=uuid.uuid4(), patient_id=patient.id, kind="bp_emergency",
                  source_id=uuid.uuid4(), raised_at=now - timedelta(minutes=30))
    answered = Alert(id=uuid.uuid4(), patient_id=patient.id, kind="severe_side_effect",
                     source_id=event.id, raised_at=now - timedelta(hours=1), acknowledged_at=now,
                     acknowledged_by_id=prescriber.id,
                     acknowledgement_note=text("acknowledgement"))
    flag = FlagReview(id=uuid.uuid4(), patient_id=patient.id, code="missed_dose",
                      key=text("flag key"), reviewed_at=now, reviewed_by_id=prescriber.id,
                      note=text("flag note"))
    fill = LedgerEntry(id=uuid.uuid4(), patient_id=patient.id, kind="fill",
                       occurred_at=now - timedelta(days=5), received_at=now, count=Decimal(8),
                       filled_on=(now - timedelta(days=5)).date(), strength_mg=Decimal(100),
                       rx_number=text("fill rx"), pharmacy=text("pharmacy"),
                       lot=text("fill lot"))
    endpoint = f"https://push.example.test/{uuid.uuid4().hex}/{text('endpoint')}"
    device = PushSubscription(id=uuid.uuid4(), user_id=patient.id, endpoint=endpoint,
                              p256dh="B" * 87, auth="A" * 22, name=text("device"),
                              created_at=now, updated_at=now)
    occurrence = ReminderOccurrence(
        id=uuid.uuid4(), user_id=patient.id, patient_id=patient.id, kind="session",
        rule="session", local_time="2026-01-05T10:00", due_at=now - timedelta(hours=1),
        send_at=now - timedelta(hours=1), url="/today", status="sent",
        skip_reason=text("skip"), created_at=now)
    other_device = AuthSession(id=uuid.uuid4(), token_hash=secrets.token_hex(32),
                               user_id=patient.id, created_at=now, last_seen_at=now,
                               expires_at=now + timedelta(days=1), device=text("device name"))
    passkey = Passkey(id=uuid.uuid4(), user_id=patient.id,
                      credential_id=secrets.token_urlsafe(32),
                      public_key=b"\x01\x02", name=text("passkey"), created_at=now)
    rows = [revision, checkin, observed, response, event, reviewed, alert, answered, flag, fill,
            device, occurrence, passkey, other_device]
    for row in rows:
        db.add(row)
    db.flush()
    objects.ids.update({
        "patient_id": str(patient.id), "dose_id": str(dose.id), "event_id": str(event.id),
        "alert_id": str(alert.id), "link_id": str(link.id), "invite_id": str(issued.invite.id),
        "token": issued.token or "", "response_id": str(response.id),
        "occurrence_id": str(occurrence.id), "subscription_id": str(device.id),
        "endpoint": device.endpoint, "session_id": str(other_device.id),
        "passkey_id": str(passkey.id),
    })
    objects.row_ids |= {patient.id, prescriber.id, caregiver.id, version.id, link.id,
                        issued.invite.id, dose.id, *(row.id for row in rows)}


def build(db: Session, client) -> World:
    now = utcnow()
    tag = secrets.token_hex(4)
    marker = f"Cnry{tag}"  # every canary contains it
    canary_count = 0

    def canary(what: str, email: bool = False) -> str:
        nonlocal canary_count
        canary_count += 1
        value = f"{marker}x{canary_count}"
        return f"{value.lower()}@example.test" if email else value

    users = {name: factories.user(db, role=ROLE[name] or "patient") for name in SUBJECTS
             if ROLE[name] is not None}
    patient, prescriber = users["patient"], users["prescriber"]
    patient.display_name = f"Own Patient {tag}"
    # The other patient: no subject is theirs. Their prescriber and caregiver are not subjects.
    other = factories.user(db, role="patient", display_name=canary("name"),
                           email=canary("email", email=True))
    other_prescriber = factories.user(db, role="prescriber", display_name=canary("prescriber"),
                                      email=canary("prescriber email", email=True))
    other_caregiver = factories.user(db, role="caregiver", display_name=canary("caregiver"),
                                     email=canary("caregiver email", email=True))

    own, theirs = Objects(), Objects()
    _plant(db, own, patient=patient, prescriber=prescriber, caregiver=users["cg_checkins"],
           text=lambda what, email=False: (f"own-{what.replace(' ', '-')}-{tag}@example.test"
                                           if email else f"own {what}"), now=now)
    _plant(db, theirs, patient=other, prescriber=other_prescriber, caregiver=other_caregiver,
           text=canary, now=now)
    # The patient asked for a password reset link (a bearer token: it has no "other").
    own.ids["reset_token"] = reset.request_reset(db, email=patient.email, now=now).token

    # The caregivers' link states (cg_checkins was linked by _plant).
    _caregiver_link(db, patient, users["cg_supervision"], "supervision")
    _caregiver_link(db, patient, users["cg_doses"], "doses")
    removed = _caregiver_link(db, patient, users["cg_revoked"], "checkins")
    removed.revoked_at = now
    db.add(removed)
    _caregiver_link(db, patient, users["cg_ended"], "checkins",
                    ends_on=_local_today(patient, now) - timedelta(days=2))
    # cg_pending: the patient's open invite, made out to that caregiver's email.
    accounts.invite_caregiver(db, patient=patient, invite_id=uuid.uuid4(),
                              email=users["cg_pending"].email, display_name="Pending Caregiver",
                              scope="checkins", now=now)
    # another patient, with their own prescriber and caregiver (the "elsewhere" subjects)
    factories.link(db, users["other_patient"], users["other_prescriber"])
    _caregiver_link(db, users["other_patient"], users["cg_elsewhere"], "checkins")

    # Sessions: one per signed-in subject, as /login makes them.
    tokens = {name: accounts.start_session(db, user, now) for name, user in users.items()}
    # A session from before a password change: ended by change_password, which ends them all;
    # the patient's current session is started again afterwards.
    before_change = accounts.start_session(db, patient, now)
    accounts.change_password(db, patient, current=factories.PASSWORD,
                             new=factories.PASSWORD + "!", confirm=factories.PASSWORD + "!",
                             now=now)
    tokens["patient"] = accounts.start_session(db, patient, now)
    # An expired session: its row is still there (after the password change), past its end.
    expired = accounts.start_session(db, patient, now - timedelta(days=2))
    stale = _auth_for(db, expired)
    stale.expires_at = now - timedelta(minutes=1)
    db.add(stale)
    # The patient's other phone (its session went with the password change too).
    phone = AuthSession(id=uuid.uuid4(), token_hash=secrets.token_hex(32), user_id=patient.id,
                        created_at=now, last_seen_at=now, expires_at=now + timedelta(days=1),
                        device="own other phone")
    db.add(phone)
    own.ids["session_id"] = str(phone.id)
    tokens["expired_session"] = expired
    tokens["pre_password_change"] = before_change
    db.commit()
    # The two stale cookies are what they claim to be: a row past its end, and no row at all.
    assert _auth_for(db, expired).expires_at < now
    assert _auth_for(db, before_change, missing_ok=True) is None

    # The anonymous CSRF cookie, as the sign-in page hands it out.
    client.cookies.clear()
    page = client.get("/login")
    anon = client.cookies.get(settings.anon_cookie)
    assert anon, "the sign-in page set no anonymous cookie"
    anon_csrf = accounts.csrf_token_for(f"anon:{anon}")
    # The page carries it masked (app/web/csrf.py, BREACH); the raw token is accepted as well.
    assert anon_csrf not in page.text
    assert csrf_mask.unmask(csrf_from(page.text)) == anon_csrf

    subjects: dict[str, Subject] = {}
    for name in SUBJECTS:
        user = users.get(name)
        cookies = {settings.anon_cookie: anon}
        csrf = anon_csrf
        if name in tokens:
            cookies[settings.session_cookie] = tokens[name]
        if user is not None:
            csrf = accounts.csrf_token_for(f"session:{_auth_for(db, tokens[name]).id}")
        subjects[name] = Subject(name, user, cookies, csrf)

    canaries = (marker, marker.lower(), str(other.id))
    return World(subjects, own, theirs, patient, other, canaries)


def _auth_for(db: Session, token: str, missing_ok: bool = False) -> AuthSession | None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    found = db.exec(select(AuthSession).where(AuthSession.token_hash == digest)).first()
    assert found is not None or missing_ok, "no session for that token"
    return found


def use(client, subject: Subject) -> None:
    """Make the client that subject's browser."""
    client.cookies.clear()
    for name, value in subject.cookies.items():
        client.cookies.set(name, value, domain=COOKIE_DOMAIN, path="/")


# --- the watch over the other patient's rows --------------------------------------------------

WATCH_SKIP = frozenset({"audit_events", "login_failures"})


def watched_rows(db: Session, ids: set[uuid.UUID]) -> dict[str, set[tuple]]:
    """Every row (outside the audit trail) that is, or points at, one of `ids`: what nobody but
    that patient's own people may write, change, remove or point at."""
    rows: dict[str, set[tuple]] = {}
    db.expire_all()
    for table in SQLModel.metadata.sorted_tables:
        if table.name in WATCH_SKIP:
            continue
        uuid_columns = [c for c in table.columns if isinstance(c.type, Uuid)]
        if not uuid_columns:
            continue
        found = db.connection().execute(
            select_rows(table).where(or_(*(c.in_(ids) for c in uuid_columns)))).all()
        rows[table.name] = {tuple(_plain(v) for v in row) for row in found}
    return rows


def _plain(value):
    # Datetimes come back naive on SQLite and aware on PostgreSQL: compare them as text.
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
