"""Password reset by a one-time link.

Asking (/forgot) answers the same whether or not the address has an account; requests are
throttled per email address (hashed, in login_failures). A link works once, for
settings.password_reset_valid_minutes; asking again makes the older links stop working. Only
the token's SHA-256 is stored. Using it sets the password and ends every session of the account.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from app.accounts.models import LoginFailure, PasswordReset, User
from app.accounts.service import (
    check_new_password,
    end_all_sessions,
    normalise_email,
    password_hash,
)
from app.config import settings
from app.errors import NotFound
from app.i18n import gettext as _


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _request_key(email: str) -> str:
    return _sha256(f"reset:{email}")


@dataclass
class Issued:
    user: User
    token: str


def request_reset(session: Session, *, email: str, now: datetime) -> Issued | None:
    """A link for this address's account, or None (no account, or asked too often): the caller
    answers the same either way."""
    email = normalise_email(email)
    if not email.isprintable() or len(email) > 254:
        return None
    key = _request_key(email)
    asked = session.exec(
        select(func.count()).where(
            LoginFailure.key == key, LoginFailure.failed_at > now - timedelta(hours=1)
        )
    ).one()
    if asked >= settings.password_reset_per_hour:
        return None
    # Counted whether or not the account exists, so the count tells nothing either.
    session.add(LoginFailure(key=key, failed_at=now))
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None or not user.is_active or not user.has_password:
        # No account, or one still waiting for its invite (the invite link sets it up).
        session.flush()
        return None
    for older in session.exec(
        select(PasswordReset).where(
            PasswordReset.user_id == user.id,
            col(PasswordReset.used_at).is_(None),
            PasswordReset.expires_at > now,
        )
    ):
        older.expires_at = now  # revoked: the newest link is the only one that works
        session.add(older)
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(
            token_hash=_sha256(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.password_reset_valid_minutes),
        )
    )
    session.flush()
    return Issued(user, token)


def _dead_link() -> NotFound:
    return NotFound(_("This link has expired or was already used. Ask for a new one."))


def open_reset(session: Session, token: str, now: datetime) -> PasswordReset:
    reset = session.exec(
        select(PasswordReset).where(PasswordReset.token_hash == _sha256(token))
    ).first()
    if reset is None or reset.used_at is not None or now >= reset.expires_at:
        raise _dead_link()
    user = session.get(User, reset.user_id)
    if user is None or not user.is_active:
        raise _dead_link()
    return reset


def use_reset(session: Session, *, token: str, password: str, confirm: str,
              now: datetime) -> User:
    """Set the new password; every session of the account ends. Works once."""
    reset = open_reset(session, token, now)
    check_new_password(password, confirm)
    # Conditional update: of two simultaneous uses, only one finds the link unused.
    table = PasswordReset.__table__
    claimed = session.exec(  # type: ignore[call-overload]
        table.update().where(table.c.id == reset.id, table.c.used_at.is_(None)).values(used_at=now)
    )
    if claimed.rowcount != 1:
        raise _dead_link()
    user = session.get(User, reset.user_id)
    assert user is not None  # open_reset checked
    user.password_hash = password_hash.hash(password)
    user.password_changed_at = now
    session.add(user)
    end_all_sessions(session, user)
    session.flush()
    return user
