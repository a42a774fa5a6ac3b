"""What the account pages record: sign-in, sign-out, password change.

Kept beside the trail so the routes stay one line each, and so the sign-in's own logic
(app/accounts/service.authenticate, its throttling) is recorded around, never changed.
"""

from sqlmodel import Session, select

from app.accounts.models import User
from app.accounts.service import normalise_email
from app.audit import service as audit

PASSWORD = {"method": "password"}


def account_for_email(session: Session, email: str) -> User | None:
    """The account a failed sign-in was aimed at, so its owner can see the attempt; None for an
    unknown address (the entry then names nobody, and never the address typed)."""
    email = normalise_email(email)
    if not email or not email.isprintable():
        return None
    return session.exec(select(User).where(User.email == email)).first()


def signed_in(session: Session, user: User) -> None:
    audit.record(session, action="sign_in", actor=user, details=dict(PASSWORD))


def sign_in_failed(session: Session, email: str) -> None:
    """A wrong password or an unknown address; in the request's transaction, which commits."""
    audit.record(session, action="sign_in", actor=account_for_email(session, email),
                 outcome="failed", details=dict(PASSWORD))


def sign_in_throttled(session: Session, email: str) -> None:
    """Refused before any check (too many attempts): the form's rollback would drop an entry
    written now, so it is kept aside and written with the request's end."""
    audit.note_denial(action="sign_in", actor=account_for_email(session, email),
                      details={**PASSWORD, "reason": "throttled"})


def signed_out(session: Session, user: User) -> None:
    audit.record(session, action="sign_out", actor=user)


def password_changed(session: Session, user: User) -> None:
    audit.record(session, action="password.change", actor=user)


def password_change_refused(user: User) -> None:
    audit.note_failure(action="password.change", actor=user)
