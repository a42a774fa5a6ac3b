"""The optional app lock for patients and caregivers: a PIN the server checks, asked again
once the phone has been away `app_lock_minutes` (AuthSession.locked, set in resolve_session).

Wrong PINs are counted per session in login_failures (hashed key); after
settings.app_lock_max_wrong_pins the session ends and only the password lets the person in.
"""

import hashlib
import re
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, delete, func, select

from app.accounts.models import AuthSession, LoginFailure, Role, User
from app.accounts.service import password_hash
from app.config import settings
from app.errors import Invalid
from app.i18n import gettext as _

_PIN = re.compile(r"[0-9]{4,8}")


def _key(auth: AuthSession) -> str:
    return hashlib.sha256(f"pin:{auth.id}".encode()).hexdigest()


def may_use(user: User) -> bool:
    # A prescriber's short session is their lock.
    return user.role != Role.PRESCRIBER


def set_pin(session: Session, user: User, *, pin: str, confirm: str, minutes: str) -> None:
    if not may_use(user):
        raise Invalid(_("The app lock is for patients and caregivers."))
    errors = {}
    if not _PIN.fullmatch(pin):
        errors["pin"] = _("Use 4 to 8 digits.")
    elif pin != confirm:
        errors["pin_confirm"] = _("The two PINs do not match.")
    try:
        chosen = int(minutes)
    except ValueError:
        chosen = None
    if chosen not in settings.app_lock_minute_choices:
        errors["minutes"] = _("Choose one of the times in the list.")
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    user.app_lock_pin_hash = password_hash.hash(pin)
    user.app_lock_minutes = chosen
    session.add(user)
    session.flush()


def turn_off(session: Session, user: User, *, password: str) -> None:
    if not user.password_hash or not password_hash.verify(password, user.password_hash):
        raise Invalid(_("Your password is not right."), field="password")
    user.app_lock_pin_hash = None
    user.app_lock_minutes = None
    session.add(user)
    for auth in session.exec(select(AuthSession).where(AuthSession.user_id == user.id)):
        auth.locked = False
        session.add(auth)
    session.flush()


class Unlock(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    ENDED = "ended"  # too many wrong PINs: the session is gone


def unlock(session: Session, user: User, auth: AuthSession, *, pin: str,
           now: datetime) -> tuple[Unlock, int]:
    """Check the PIN on the server. Returns the outcome and the tries left."""
    stored = user.app_lock_pin_hash
    if stored is None:  # the lock was turned off on another device
        ok = True
    else:
        # Always hash, so a malformed PIN costs the same time as a wrong one.
        ok = password_hash.verify(pin if _PIN.fullmatch(pin) else "x", stored)
    if ok:
        session.exec(delete(LoginFailure).where(col(LoginFailure.key) == _key(auth)))
        auth.locked = False
        auth.last_seen_at = now
        session.add(auth)
        session.flush()
        return Unlock.OK, settings.app_lock_max_wrong_pins
    session.add(LoginFailure(key=_key(auth), failed_at=now))
    session.flush()
    wrong = session.exec(
        select(func.count()).where(LoginFailure.key == _key(auth))
    ).one()
    left = settings.app_lock_max_wrong_pins - wrong
    if left <= 0:
        session.exec(delete(LoginFailure).where(col(LoginFailure.key) == _key(auth)))
        session.delete(auth)
        session.flush()
        return Unlock.ENDED, 0
    return Unlock.WRONG, left
