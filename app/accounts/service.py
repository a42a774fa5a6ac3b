"""Accounts: passwords, sign-in with throttling, server-side sessions, invites.

Services take an explicit `now`, flush but never commit (the request commits once), and raise
domain errors from app.errors.
"""

import hashlib
import hmac
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import event, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, delete, func, select

from app import i18n
from app.accounts import throttle
from app.accounts.devices import device_label
from app.accounts.models import AuthSession, Invite, InviteKind, LoginFailure, Role, User
from app.careteam import access
from app.careteam import service as careteam
from app.careteam.models import Relation
from app.config import settings
from app.errors import Conflict, Invalid, NotFound, TooManyAttempts
from app.i18n import gettext as _
from app.i18n import ngettext

# Argon2id with argon2-cffi's recommended cost in production; the test suite lowers the cost
# through settings (still real Argon2id) so hundreds of sign-ins stay fast.
password_hash = PasswordHash(
    (
        Argon2Hasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
        ),
    )
)
# Verified against when the email is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = password_hash.hash("not-a-real-password-but-just-as-slow")

MIN_PASSWORD_LENGTH = 10
NAME_MAX = 120  # a person's display name (users.display_name, invites.display_name)
EMAIL_MAX = 254  # an email address (users.email)
MAX_PASSWORD_LENGTH = 128


def dead_invite_words() -> str:
    """An invite link that no longer works: a patient who already set up their account with it
    was told to ask for a new one, with nothing about signing in."""
    return _("This invite link has expired or was already used. If you set up your account "
             "with it, sign in; if not, ask for a new one.")


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def valid_email(email: str) -> bool:
    local, _sep, domain = email.partition("@")
    return (
        bool(local)
        and "." in domain
        and " " not in email
        and len(email) <= EMAIL_MAX
        # No control characters: PostgreSQL refuses NUL in text, which made this a 500 there.
        and email.isprintable()
    )


def valid_timezone(name: str) -> bool:
    if name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


CLINIC_PHONE_MIN_DIGITS = 7
CLINIC_PHONE_MAX_DIGITS = 20
_CLINIC_PHONE_CHARS = frozenset("0123456789 +-()")


def clean_clinic_phone(raw: str) -> str | None:
    """A clinic's phone number as the prescriber typed it (spaces tidied), or None to clear it.

    Digits, spaces, +, - and parentheses only, 7 to 20 digits: what a tel: link can dial.
    """
    text = " ".join(raw.split())
    if not text:
        return None
    if not set(text) <= _CLINIC_PHONE_CHARS or "+" in text[1:]:
        raise Invalid(_("Use digits, spaces, +, - and brackets only, for example "
                        "+1 (555) 010-2000."), field="clinic_phone")
    digits = sum(ch.isdigit() for ch in text)
    if not CLINIC_PHONE_MIN_DIGITS <= digits <= CLINIC_PHONE_MAX_DIGITS or len(text) > 40:
        raise Invalid(_("A phone number has %(low)s to %(high)s digits.",
                        low=CLINIC_PHONE_MIN_DIGITS, high=CLINIC_PHONE_MAX_DIGITS),
                      field="clinic_phone")
    return text


def set_clinic_phone(session: Session, prescriber: User, raw: str) -> None:
    """The number the prescriber's patients see as "Call my clinic" (empty: none)."""
    if prescriber.role != Role.PRESCRIBER:
        raise Invalid(_("Only a prescriber sets a clinic phone number."), field="clinic_phone")
    prescriber.clinic_phone = clean_clinic_phone(raw)
    session.add(prescriber)
    session.flush()


def set_language(session: Session, user: User, raw: str) -> None:
    """The language the app speaks to `user`; empty follows their browser (app/i18n.py)."""
    choice = raw.strip()
    if choice and i18n.supported(choice) is None:
        raise Invalid(_("Choose a language from the list."), field="language")
    user.language = choice or None
    session.add(user)
    session.flush()


def check_new_password(password: str, confirm: str | None = None) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(_("Use at least %(n)s characters.", n=MIN_PASSWORD_LENGTH), field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(_("Use at most %(n)s characters.", n=MAX_PASSWORD_LENGTH), field="password")
    if confirm is not None and password != confirm:
        raise Invalid(_("The two passwords do not match."), field="password_confirm")


# --- sign-in and throttling -------------------------------------------------------------------


def _throttle_wait(session: Session, key: str, limit: int, now: datetime) -> int:
    """Seconds until `key` may try again, or 0."""
    since = now - timedelta(minutes=settings.login_window_minutes)
    count, oldest = session.exec(
        select(func.count(), func.min(LoginFailure.failed_at)).where(
            LoginFailure.key == key, LoginFailure.failed_at > since
        )
    ).one()
    if count < limit or oldest is None:
        return 0
    if oldest.tzinfo is None:  # an aggregate's result bypasses the column type on SQLite
        oldest = oldest.replace(tzinfo=UTC)
    retry_at = oldest + timedelta(minutes=settings.login_window_minutes)
    return max(1, math.ceil((retry_at - now).total_seconds()))


def _too_many_attempts(wait: int) -> TooManyAttempts:
    minutes = math.ceil(wait / 60)
    return TooManyAttempts(
        ngettext(
            "Too many attempts. Try again in %(num)s minute.",
            "Too many attempts. Try again in %(num)s minutes.",
            minutes,
        ),
        retry_after_seconds=wait,
    )


def authenticate(
    session: Session, *, email: str, password: str, address: str, now: datetime
) -> User | None:
    """The account for these credentials, or None after recording the failure.

    A miss returns rather than raises so the failure rows commit with the request. Raises
    TooManyAttempts, before checking anything, while this account and address must wait
    (growing delays, app/accounts/throttle.py).
    """
    throttle.check(session, email=email, address=address, now=now)

    email = normalise_email(email)
    # A control character cannot be in a stored email, and PostgreSQL refuses NUL in a query.
    user = (
        session.exec(select(User).where(User.email == email)).first()
        if email.isprintable()
        else None
    )
    stored = user.password_hash if user and user.is_active and user.password_hash else None
    # Always verify something, so an unknown email costs as much time as a wrong password.
    valid, updated_hash = password_hash.verify_and_update(password, stored or _DUMMY_HASH)
    if not valid or stored is None or user is None:
        record_login_failure(session, email=email, address=address, now=now)
        return None

    throttle.record_success(session, email=email, address=address)
    if updated_hash is not None:  # parameters got stronger since this hash was made
        user.password_hash = updated_hash
        session.add(user)
    return user


def record_login_failure(session: Session, *, email: str, address: str, now: datetime) -> None:
    """Count a failed password, for the account, the address and the pair of them."""
    throttle.record_failure(session, email=email, address=address, now=now)


# --- sessions ---------------------------------------------------------------------------------


def session_limits(role: Role | str) -> tuple[timedelta, timedelta]:
    """(idle, absolute) lifetime of a session for this role."""
    if role == Role.PRESCRIBER:
        return (timedelta(minutes=settings.prescriber_idle_minutes),
                timedelta(hours=settings.prescriber_absolute_hours))
    return (timedelta(hours=settings.session_idle_hours),
            timedelta(days=settings.session_absolute_days))


SIGN_IN_METHODS = frozenset({"password", "invite", "reset", "passkey"})


def start_session(
    session: Session,
    user: User,
    now: datetime,
    *,
    method: str = "password",
    user_agent: str | None = None,
) -> str:
    """A new signed-in session; returns the cookie token (only its hash is stored).

    Every way in (password, invite, reset link, passkey) comes through here. `user_agent` is
    reduced to a short label ("Chrome on Android") and the header itself is not kept.
    """
    if method not in SIGN_IN_METHODS:
        raise ValueError(f"unknown sign-in method {method!r}")
    token = secrets.token_urlsafe(32)
    _idle, absolute = session_limits(user.role)
    session.add(
        AuthSession(
            token_hash=_sha256(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + absolute,
            device=device_label(user_agent),
            method=method,
            # Signing in is proving who you are: no second question right after it.
            reauthenticated_at=now,
        )
    )
    session.flush()
    return token


def mark_reauthenticated(session: Session, auth: AuthSession, now: datetime) -> None:
    """The person proved again it is them (password or passkey) in this session."""
    auth.reauthenticated_at = now
    session.add(auth)
    session.flush()


# Writing last_seen_at on every request would make each page view a write. But last_seen_at
# also decides idle expiry and the app lock, so it may lag at most a small part of the
# shortest limit that applies: 30 seconds for a prescriber's 30-minute idle limit or a
# 5-minute app lock, 5 minutes otherwise. (It only lags, so a limit can strike that much early,
# never late.)
_TOUCH_EVERY = timedelta(minutes=5)


def _touch_every(user: User) -> timedelta:
    idle, _absolute = session_limits(user.role)
    every = min(_TOUCH_EVERY, idle / 60)
    if user.app_lock_pin_hash and user.app_lock_minutes:
        every = min(every, timedelta(minutes=user.app_lock_minutes) / 10)
    return every


def lock_due(user: User, auth: AuthSession, now: datetime) -> bool:
    """The phone was away long enough for the app lock to ask for the PIN."""
    if not user.app_lock_pin_hash or not user.app_lock_minutes or user.role == Role.PRESCRIBER:
        return False
    return now - auth.last_seen_at >= timedelta(minutes=user.app_lock_minutes)


@dataclass
class SignedIn:
    user: User
    auth: AuthSession


def resolve_session(session: Session, token: str | None, now: datetime) -> SignedIn | None:
    if not token:
        return None
    # One statement for the session and its person: every signed-in request makes it.
    row = session.exec(
        select(AuthSession, User).join(User, col(User.id) == col(AuthSession.user_id))
        .where(AuthSession.token_hash == _sha256(token))).first()
    if row is None:
        return None
    auth, user = row
    if not user.is_active:
        return None
    idle, _absolute = session_limits(user.role)
    if now >= auth.expires_at or now >= auth.last_seen_at + idle:
        session.delete(auth)
        return None
    if not auth.locked and lock_due(user, auth, now):
        auth.locked = True
        session.add(auth)
    # A locked session is not "seen" until it is unlocked: touching it would undo the lock's
    # reason (the time away) if the flag were lost with a rolled-back request.
    if not auth.locked and now - auth.last_seen_at >= _touch_every(user):
        _touch_at_commit(session, auth, now)
    return SignedIn(user=user, auth=auth)


def _touch_at_commit(session: Session, auth: AuthSession, now: datetime) -> None:
    """Note the session as seen, written as the request commits. Flushed here, the UPDATE would
    begin the request's write transaction: on SQLite it would hold the database's only write
    lock through the whole request (its queries, its template) instead of for the commit."""
    set_committed_value(auth, "last_seen_at", now)  # what the request sees meanwhile
    stmt = (update(AuthSession).where(col(AuthSession.id) == auth.id)
            .values(last_seen_at=now))
    event.listen(session, "before_commit", lambda s: s.execute(stmt), once=True)


def end_session(session: Session, auth: AuthSession) -> None:
    session.delete(auth)


def end_all_sessions(session: Session, user: User, *, keep: AuthSession | None = None) -> None:
    stmt = delete(AuthSession).where(col(AuthSession.user_id) == user.id)
    if keep is not None:
        stmt = stmt.where(col(AuthSession.id) != keep.id)
    session.exec(stmt)  # type: ignore[call-overload]


def change_password(
    session: Session, user: User, *, current: str, new: str, confirm: str, now: datetime
) -> None:
    if not user.password_hash or not password_hash.verify(current, user.password_hash):
        raise Invalid(_("Your current password is not right."), field="current_password")
    check_new_password(new, confirm)
    user.password_hash = password_hash.hash(new)
    user.password_changed_at = now
    session.add(user)
    # A changed password signs out every browser, this one included.
    end_all_sessions(session, user)


def csrf_token_for(session_key: str) -> str:
    """The CSRF token bound to one session (signed-in or anonymous); nothing to store."""
    return hmac.new(
        settings.secret_key.encode(), f"csrf:{session_key}".encode(), "sha256"
    ).hexdigest()


# --- invites ----------------------------------------------------------------------------------


@dataclass
class IssuedInvite:
    invite: Invite
    token: str | None  # None when a replay found the invite already made; its link was shown once


def _issue(
    session: Session,
    *,
    invite_id: uuid.UUID,
    kind: InviteKind,
    email: str,
    display_name: str,
    patient_id: uuid.UUID,
    created_by: User,
    now: datetime,
    scope: str | None = None,
    ends_on: date | None = None,
) -> IssuedInvite:
    existing = session.get(Invite, invite_id)
    if existing is not None:
        if existing.created_by_id != created_by.id or existing.kind != kind:
            raise Conflict(_("That form was already used for something else. Please start again."))
        return IssuedInvite(existing, None)
    token = secrets.token_urlsafe(32)
    invite = Invite(
        id=invite_id,
        token_hash=_sha256(token),
        kind=kind,
        email=email,
        display_name=display_name,
        patient_id=patient_id,
        created_by_id=created_by.id,
        created_at=now,
        expires_at=now + timedelta(hours=settings.invite_valid_hours),
        scope=scope,
        ends_on=ends_on,
    )
    session.add(invite)
    session.flush()
    return IssuedInvite(invite, token)


def _clean_person(email: str, display_name: str) -> tuple[str, str]:
    """The name and email as stored; what is wrong with either, both at once, each beside its
    field (the forms take text of any length and show these)."""
    email = normalise_email(email)
    # Control characters dropped (PostgreSQL refuses NUL in text); runs of spaces made one.
    display_name = "".join(ch for ch in display_name if ch.isprintable() or ch.isspace())
    display_name = " ".join(display_name.split())
    errors: dict[str, str] = {}
    if not display_name:
        errors["display_name"] = _("Enter a name.")
    elif len(display_name) > NAME_MAX:
        errors["display_name"] = _("Use at most 120 characters.")
    if len(email) > EMAIL_MAX:
        errors["email"] = _("Use at most %(n)s characters.", n=EMAIL_MAX)
    elif not valid_email(email):
        errors["email"] = _("Enter an email address like name@example.com.")
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    return email, display_name


def create_patient(
    session: Session,
    *,
    prescriber: User,
    invite_id: uuid.UUID,
    email: str,
    display_name: str,
    timezone: str,
    now: datetime,
) -> IssuedInvite:
    """A prescriber adds a patient: the account waits, without a password, for its invite."""
    if prescriber.role != Role.PRESCRIBER:
        raise NotFound()
    existing_invite = session.get(Invite, invite_id)
    if existing_invite is not None:
        return _issue(
            session,
            invite_id=invite_id,
            kind=InviteKind.PATIENT,
            email=email,
            display_name=display_name,
            patient_id=existing_invite.patient_id,
            created_by=prescriber,
            now=now,
        )
    email, display_name = _clean_person(email, display_name)
    if not valid_timezone(timezone):
        raise Invalid(_("Choose a time zone from the list."), field="timezone")
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise Invalid(_("An account with this email already exists."), field="email")
    patient = User(email=email, display_name=display_name, role=Role.PATIENT, timezone=timezone)
    session.add(patient)
    session.flush()
    link = access.link(
        session,
        patient_id=patient.id,
        member_id=prescriber.id,
        relation=Relation.PRESCRIBER,
        now=now,
    )
    # Who may see the record is consent's business from the first day: the trail says so.
    careteam.consent_changed(session, prescriber, link, "prescriber_linked")
    return _issue(
        session,
        invite_id=invite_id,
        kind=InviteKind.PATIENT,
        email=email,
        display_name=display_name,
        patient_id=patient.id,
        created_by=prescriber,
        now=now,
    )


def reissue_patient_invite(
    session: Session,
    *,
    prescriber: User,
    patient_id: uuid.UUID,
    invite_id: uuid.UUID,
    now: datetime,
) -> IssuedInvite:
    """A fresh link for a patient who has not signed in yet; earlier links stop working."""
    patient = access.require_patient_access(
        session, prescriber, patient_id, access.Purpose.MANAGE_PROTOCOL
    )
    if patient.has_password:
        raise Invalid(_("This patient has already set up their account."))
    if session.get(Invite, invite_id) is None:
        _revoke_open_invites(session, patient.id, InviteKind.PATIENT, now)
    return _issue(
        session,
        invite_id=invite_id,
        kind=InviteKind.PATIENT,
        email=patient.email,
        display_name=patient.display_name,
        patient_id=patient.id,
        created_by=prescriber,
        now=now,
    )


def invite_caregiver(
    session: Session,
    *,
    patient: User,
    invite_id: uuid.UUID,
    email: str,
    display_name: str,
    now: datetime,
    scope: str = "",
    ends_on: str = "",
) -> IssuedInvite:
    """The patient invites a caregiver and says what they will see (scope) and until when.

    Every wrong field is reported at once, each beside its own field."""
    access.require_patient_access(session, patient, patient.id, access.Purpose.INVITE_CAREGIVER)
    chosen_scope, chosen_end = None, None
    new = session.get(Invite, invite_id) is None
    if new:
        errors: dict[str, str] = {}
        try:
            email, display_name = _clean_person(email, display_name)
            if email == patient.email:
                raise Invalid(_("Enter your caregiver's email, not your own."), field="email")
        except Invalid as err:
            errors.update(err.errors)
        try:
            chosen_scope = careteam.parse_scope(scope)
        except Invalid as err:
            errors.update(err.errors)
        try:
            chosen_end = careteam.parse_ends_on(ends_on, patient, now)
        except Invalid as err:
            errors.update(err.errors)
        if errors:
            raise Invalid(errors=errors)
    issued = _issue(
        session,
        invite_id=invite_id,
        kind=InviteKind.CAREGIVER,
        email=email,
        display_name=display_name,
        patient_id=patient.id,
        created_by=patient,
        now=now,
        scope=chosen_scope,
        ends_on=chosen_end,
    )
    if new:  # a double submit shows the same invite again: one entry
        careteam.consent_changed(session, patient, issued.invite, "invite_created")
    return issued


def cancel_invite(session: Session, *, patient: User, invite_id: uuid.UUID, now: datetime) -> None:
    """The patient takes back a caregiver invite not yet used: its link stops working."""
    invite = session.get(Invite, invite_id)
    if (
        invite is None
        or invite.patient_id != patient.id
        or invite.kind != InviteKind.CAREGIVER
        or invite.created_by_id != patient.id
    ):
        raise NotFound()
    if invite.used_at is None and invite.revoked_at is None:
        invite.revoked_at = now
        session.add(invite)
        session.flush()
        careteam.consent_changed(session, patient, invite, "invite_cancelled")


def _revoke_open_invites(session: Session, patient_id: uuid.UUID, kind: InviteKind, now) -> None:
    for invite in session.exec(
        select(Invite).where(
            Invite.patient_id == patient_id,
            Invite.kind == kind,
            col(Invite.used_at).is_(None),
            col(Invite.revoked_at).is_(None),
        )
    ):
        invite.revoked_at = now
        session.add(invite)


def open_invite(session: Session, token: str, now: datetime) -> Invite:
    """The invite behind a link, if it can still be used; one message for every dead link."""
    invite = session.exec(select(Invite).where(Invite.token_hash == _sha256(token))).first()
    if (
        invite is None
        or invite.used_at is not None
        or invite.revoked_at is not None
        or now >= invite.expires_at
    ):
        raise NotFound(dead_invite_words())
    return invite


def existing_account_for(session: Session, invite: Invite) -> User | None:
    """A caregiver who already has an account joins with it instead of making a new one.

    Never shown to whoever holds the link before they prove who they are: the invite page looks
    the same with and without an account (app/accounts/routes.py)."""
    if invite.kind != InviteKind.CAREGIVER:
        return None
    return session.exec(select(User).where(User.email == invite.email)).first()


def suggested_timezone(session: Session, invite: Invite, signed_in: User | None) -> str:
    """The zone an invite page starts from: the one the prescriber chose for the patient (kept on
    the patient's row), for a caregiver the patient's, unless the invitee is signed in already."""
    existing = existing_account_for(session, invite)
    if existing is not None and signed_in is not None and signed_in.id == existing.id:
        return existing.timezone
    patient = session.get(User, invite.patient_id)
    return patient.timezone if patient is not None else settings.default_timezone


# A leaked link alone is not enough: whoever makes an account with it must also type the address
# the invite was sent to. Wrong addresses are counted per invite, like failed sign-ins.
INVITE_EMAIL_MAX_MISSES = 5


class WrongInviteEmail(Invalid):
    def __init__(self) -> None:
        super().__init__(_("That is not the email address this invite was sent to."), field="email")


class WrongAccountPassword(Invalid):
    """The invite's address has an account and the password typed is not its password. Said only
    to someone who already typed the invite's address (see the report in accounts/routes.py)."""

    def __init__(self) -> None:
        super().__init__(
            _("This address already has a TrocheLog account. Enter that account's password, "
              "or sign in first and open this link again."),
            field="password",
        )


def _invite_miss_key(invite: Invite) -> str:
    return _sha256(f"invite:{invite.id}")


def record_wrong_invite_email(session: Session, token: str, now: datetime) -> None:
    """Count a wrong address. Called after the refused request rolled back, so the row commits."""
    invite = open_invite(session, token, now)
    session.add(LoginFailure(key=_invite_miss_key(invite), failed_at=now))
    session.flush()


def _check_invite_email(session: Session, invite: Invite, email: str, now: datetime) -> None:
    wait = _throttle_wait(session, _invite_miss_key(invite), INVITE_EMAIL_MAX_MISSES, now)
    if wait:
        raise _too_many_attempts(wait)
    # Both sides normalised, compared in constant time.
    if not hmac.compare_digest(normalise_email(email).encode(), invite.email.encode()):
        raise WrongInviteEmail()


def accept_invite(
    session: Session,
    *,
    token: str,
    email: str,
    password: str | None,
    confirm: str | None,
    timezone: str,
    signed_in: User | None,
    now: datetime,
    address: str = "unknown",
) -> User:
    """Use an invite: the new person sets a password and time zone, or an existing caregiver links
    their account. Marks the invite used in the same transaction, so it works once.

    Everyone not already signed in as the invitee takes the same steps in the same order, so
    the answers do not tell whether the address has an account until the person proves who they
    are: type the address the invite was sent to (WrongInviteEmail, throttled per invite), then a
    password of at least the required length twice; then either the new account is made with it,
    or, when the address has an account, it must be that account's password (WrongAccountPassword,
    throttled like sign-in)."""
    invite = open_invite(session, token, now)
    existing = existing_account_for(session, invite)
    signed_in_as_invitee = (
        existing is not None and signed_in is not None and signed_in.id == existing.id
    )
    if not signed_in_as_invitee:
        _check_invite_email(session, invite, email, now)
    if not valid_timezone(timezone):
        raise Invalid(_("Choose a time zone from the list."), field="timezone")

    if invite.kind == InviteKind.PATIENT:
        user = session.get(User, invite.patient_id)
        if user is None:
            raise NotFound()
        check_new_password(password or "", confirm)
        user.password_hash = password_hash.hash(password or "")
        user.password_changed_at = now
        user.timezone = timezone
    else:
        user = existing
        if user is not None:
            if not signed_in_as_invitee:
                check_new_password(password or "", confirm)
                if authenticate(session, email=user.email, password=password or "",
                                address=address, now=now) is None:
                    raise WrongAccountPassword()
            if user.role != Role.CAREGIVER:
                raise Invalid(_("This account cannot be added as a caregiver."))
        else:
            check_new_password(password or "", confirm)
            user = User(
                email=invite.email,
                display_name=invite.display_name,
                role=Role.CAREGIVER,
                timezone=timezone,
                password_hash=password_hash.hash(password or ""),
                password_changed_at=now,
            )
        session.add(user)
        session.flush()
        care_link = access.link(
            session,
            patient_id=invite.patient_id,
            member_id=user.id,
            relation=Relation.CAREGIVER,
            now=now,
            # What the patient chose when inviting; an invite from before scopes: the least.
            scope=invite.scope or access.Scope.SUPERVISION,
            ends_on=invite.ends_on,
        )
        careteam.consent_changed(session, user, care_link, "link_accepted")

    # Conditional update: of two simultaneous accepts, only one finds the invite unused.
    claimed = session.exec(  # type: ignore[call-overload]
        Invite.__table__.update()
        .where(Invite.__table__.c.id == invite.id, Invite.__table__.c.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        raise NotFound(dead_invite_words())
    session.add(user)
    session.flush()
    return user


def pending_invites(session: Session, patient_id: uuid.UUID, now: datetime) -> list[Invite]:
    return list(
        session.exec(
            select(Invite)
            .where(
                Invite.patient_id == patient_id,
                Invite.kind == InviteKind.CAREGIVER,
                col(Invite.used_at).is_(None),
                col(Invite.revoked_at).is_(None),
                Invite.expires_at > now,
            )
            .order_by(col(Invite.created_at))
        ).all()
    )
