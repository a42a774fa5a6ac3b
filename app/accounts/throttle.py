"""Sign-in throttling that slows an attacker without locking out the owner.

Three counts of failed sign-ins, kept in login_failures under hashed keys (never an email or an
address):
- per (account, address) pair: after `login_free_failures` misses, each further try waits
  2, 4, 8 … seconds after the last miss, capped at `login_max_delay_seconds`. Someone guessing
  from one place slows down quickly; the owner, from their own address, is not affected.
- per address, across all accounts (credential stuffing): `login_max_failures_per_address`
  misses within `login_window_minutes` block that address until the oldest leaves the window.
- per account, across all addresses: past `login_account_ceiling` misses in the window every
  try waits `login_account_delay_seconds` after the account's last miss. Only a pause, never a
  lock: the owner still gets in after someone elsewhere failed fifty times.
A refused try (while waiting) is not counted, so waiting out a delay never makes it longer.

The address is the one uvicorn resolved (request.client), which believes X-Forwarded-For only
from FORWARDED_ALLOW_IPS; the app never reads that header itself.
"""

import hashlib
import math
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, delete, func, select

from app.accounts.models import LoginFailure
from app.config import settings
from app.errors import TooManyAttempts
from app.i18n import ngettext


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def keys(email: str, address: str) -> dict[str, str]:
    email = email.strip().lower()
    return {
        "pair": _sha256(f"pair:{email}|{address}"),
        "account": _sha256(f"account:{email}"),
        "address": _sha256(f"address:{address}"),
    }


def _aware(value: datetime | None) -> datetime | None:
    # An aggregate's result bypasses the column type on SQLite: naive UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _stats(
    session: Session, key: str, since: datetime
) -> tuple[int, datetime | None, datetime | None]:
    count, oldest, newest = session.exec(
        select(func.count(), func.min(LoginFailure.failed_at), func.max(LoginFailure.failed_at))
        .where(LoginFailure.key == key, LoginFailure.failed_at > since)
    ).one()
    return count, _aware(oldest), _aware(newest)


def pair_delay_seconds(failures: int) -> int:
    """How long the next try from the same place waits after the last of `failures` misses."""
    over = failures - settings.login_free_failures
    if over < 0:
        return 0
    return min(2 ** (over + 1), settings.login_max_delay_seconds)


def _seconds_until(when: datetime, now: datetime) -> int:
    return max(0, math.ceil((when - now).total_seconds()))


def wait_seconds(session: Session, *, email: str, address: str, now: datetime) -> int:
    """Seconds before this (account, address) may try again; 0 when it may try now."""
    k = keys(email, address)
    waits = [0]
    # The pair's misses over the last day (older rows are pruned): the delay keeps growing
    # for someone who keeps guessing slowly.
    count, _oldest, newest = _stats(session, k["pair"], now - timedelta(days=1))
    if newest is not None:
        waits.append(_seconds_until(newest + timedelta(seconds=pair_delay_seconds(count)), now))
    window = timedelta(minutes=settings.login_window_minutes)
    count, oldest, _newest = _stats(session, k["address"], now - window)
    if count >= settings.login_max_failures_per_address and oldest is not None:
        waits.append(max(1, _seconds_until(oldest + window, now)))
    count, _oldest, newest = _stats(session, k["account"], now - window)
    if count >= settings.login_account_ceiling and newest is not None:
        delay = timedelta(seconds=settings.login_account_delay_seconds)
        waits.append(_seconds_until(newest + delay, now))
    return max(waits)


def too_many_attempts(wait: int) -> TooManyAttempts:
    if wait < 60:
        message = ngettext(
            "Too many attempts. Try again in %(num)s second.",
            "Too many attempts. Try again in %(num)s seconds.",
            wait,
        )
    else:
        minutes = math.ceil(wait / 60)
        message = ngettext(
            "Too many attempts. Try again in %(num)s minute.",
            "Too many attempts. Try again in %(num)s minutes.",
            minutes,
        )
    return TooManyAttempts(message, retry_after_seconds=wait)


def check(session: Session, *, email: str, address: str, now: datetime) -> None:
    """Raise TooManyAttempts while this account and address must wait."""
    wait = wait_seconds(session, email=email, address=address, now=now)
    if wait:
        raise too_many_attempts(wait)


def record_failure(session: Session, *, email: str, address: str, now: datetime) -> None:
    for key in keys(email, address).values():
        session.add(LoginFailure(key=key, failed_at=now))
    # Keep the table small; rows older than a day no longer count for anything.
    session.exec(
        delete(LoginFailure).where(col(LoginFailure.failed_at) < now - timedelta(days=1))
    )
    session.flush()


def record_success(session: Session, *, email: str, address: str) -> None:
    """The owner got in from here: this place starts afresh. The account's and the address's
    counts stay, so an attack elsewhere stays slowed."""
    session.exec(delete(LoginFailure).where(col(LoginFailure.key) == keys(email, address)["pair"]))
