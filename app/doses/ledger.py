"""The troche count ledger: fills add, doses subtract (derived), counts check the record."""

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.doses.models import Dose, LedgerEntry, LedgerKind
from app.doses.service import OLDEST_ENTRY, check_time, troches_taken
from app.errors import Invalid
from app.i18n import gettext as _
from app.protocols import schedule
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion
from app.validation import ClientInput, SaneDate, SaneDatetime, parse
from app.web import pages


class FillInput(ClientInput):
    model_config = ConfigDict(extra="forbid")

    filled_on: SaneDate
    count: Annotated[int, Field(ge=1, le=500)]
    strength_mg: Annotated[Decimal, Field(gt=0, le=2000, allow_inf_nan=False, decimal_places=2)]
    rx_number: Annotated[str, Field(max_length=60)] | None = None
    pharmacy: Annotated[str, Field(max_length=120)] | None = None
    lot: Annotated[str, Field(max_length=60)] | None = None


class CountInput(ClientInput):
    model_config = ConfigDict(extra="forbid")

    counted_at: SaneDatetime
    count: Annotated[Decimal, Field(ge=0, le=1000, allow_inf_nan=False, decimal_places=1)]




@dataclass
class LedgerSummary:
    balance: Decimal  # troches on hand by the record (last count, then fills minus doses)
    days_of_supply: int | None
    last_count: LedgerEntry | None
    discrepancies: list[LedgerEntry]
    entries: list[LedgerEntry]


# The supply page's ledger table a page at a time: a year of weekly counts and monthly fills
# is some 65 rows.
LEDGER_PAGE = 20


def _entry_key(entry: LedgerEntry) -> pages.Cursor:
    return pages.Cursor(entry.occurred_at, entry.id)


def ledger_page(session: Session, patient_id: uuid.UUID, before: pages.Cursor | None,
                size: int = LEDGER_PAGE) -> pages.Page[LedgerEntry]:
    """One page of fills and counts, newest first."""
    query = pages.older_than(select(LedgerEntry).where(LedgerEntry.patient_id == patient_id),
                             LedgerEntry.occurred_at, LedgerEntry.id, before, size)
    return pages.page_of(session.exec(query).all(), size, _entry_key, before)


def _ledger_entries(session: Session, patient_id: uuid.UUID) -> list[LedgerEntry]:
    # Within one minute, in the order they were saved (a fill, then the count of it).
    return list(session.exec(
        select(LedgerEntry).where(LedgerEntry.patient_id == patient_id)
        .order_by(col(LedgerEntry.occurred_at), col(LedgerEntry.received_at))
    ).all())


def expected_balance(session: Session, patient_id: uuid.UUID, at: datetime,
                     entries: list[LedgerEntry] | None = None) -> Decimal:
    """What should be on hand at `at`: from the last count before it, plus fills, minus doses.
    `entries`: the patient's ledger in time order, when the caller has read it already."""
    balance = Decimal(0)
    since = None
    if entries is None:
        entries = _ledger_entries(session, patient_id)
    for entry in entries:
        if entry.occurred_at > at:
            break
        if entry.kind == LedgerKind.COUNT:
            balance, since = entry.count, entry.occurred_at
        else:
            balance += entry.count
    return balance - troches_taken(session, patient_id, after=since, until=at)


def expected_by_the_record_now(session: Session, patient_id: uuid.UUID,
                               counts: Iterable[LedgerEntry]) -> dict[uuid.UUID, Decimal]:
    """For each count in `counts`, what the record as it stands now says should have been on
    hand when it was made: the last count before it, plus fills, minus the doses that stand
    (one query per count). A count keeps the expectation it was made with (its
    `expected_balance`); where an entry recorded, corrected or struck since changes the
    answer, an auditor must see both, or a shortfall disappears from the page."""
    wanted = [c for c in counts if c.kind == LedgerKind.COUNT]
    if not wanted:
        return {}
    entries = _ledger_entries(session, patient_id)
    found = {}
    for count in wanted:
        key = (count.occurred_at, count.received_at)
        before = [e for e in entries if (e.occurred_at, e.received_at) < key]
        found[count.id] = expected_balance(session, patient_id, count.occurred_at, before)
    return found


def troches_per_week(version: ProtocolVersion, tz: str, now: datetime) -> Decimal:
    occs = schedule.occurrences(protocols.plans(version), ZoneInfo(tz), now,
                                now + timedelta(days=28))
    per_session = version.dose_mg / version.strength_mg
    return Decimal(len(occs)) * per_session / 4


def ledger_summary(session: Session, patient: User, now: datetime) -> LedgerSummary:
    entries = _ledger_entries(session, patient.id)
    balance = expected_balance(session, patient.id, now, entries)
    version = protocols.current(session, patient.id)
    days = None
    if version is not None:
        weekly = troches_per_week(version, patient.timezone, now)
        if weekly > 0:
            days = max(0, math.floor(balance / weekly * 7))
    counts = [e for e in entries if e.kind == LedgerKind.COUNT]
    return LedgerSummary(
        balance=balance, days_of_supply=days, last_count=counts[-1] if counts else None,
        discrepancies=[e for e in counts if "discrepancy" in e.flags], entries=entries,
    )


def record_fill(
    session: Session, *, patient: User, entry_id: uuid.UUID, data: dict, now: datetime,
) -> LedgerEntry:
    fill = parse(FillInput, data)
    tz = ZoneInfo(patient.timezone)
    # A fill counts from local noon of its date, or from now when recorded earlier that day:
    # otherwise a count made the morning of a same-day fill missed it (a false discrepancy).
    # Now at the minute, as the count form gives its time: a count made right after the fill
    # (8:14, saved at 8:14:50) comes after a fill saved at 8:14:37, not before it.
    occurred = min(datetime.combine(fill.filled_on, time(12), tzinfo=tz).astimezone(UTC),
                   now.replace(second=0, microsecond=0))
    # Compare dates in the patient's zone (a day of slack for a phone in another zone): the
    # old instant-based check refused fills from 29 days ago as "more than 30 days ago".
    local_today = now.astimezone(tz).date()
    if fill.filled_on > local_today + timedelta(days=1):
        raise Invalid(_("That time is in the future."), field="filled_on")
    if fill.filled_on < local_today - OLDEST_ENTRY:
        raise Invalid(_("That is more than 30 days ago; ask your prescriber to add it."),
                      field="filled_on")
    if fill.filled_on == local_today:
        occurred = _after_counts_without_it(session, patient.id, occurred)
    flags = []
    version = protocols.current(session, patient.id)
    if version is not None:
        if fill.strength_mg != version.strength_mg:
            flags.append("strength_mismatch")
        if _early(version, patient.timezone, now, expected_balance(session, patient.id,
                                                                     occurred)):
            flags.append("early_refill")
    entry = LedgerEntry(
        id=entry_id, patient_id=patient.id, kind=LedgerKind.FILL, occurred_at=occurred,
        received_at=now, count=Decimal(fill.count), filled_on=fill.filled_on,
        strength_mg=fill.strength_mg, rx_number=fill.rx_number, pharmacy=fill.pharmacy,
        lot=fill.lot, flags=flags,
    )
    session.add(entry)
    session.flush()
    return entry


def _after_counts_without_it(session: Session, patient_id: uuid.UUID,
                             occurred: datetime) -> datetime:
    """Where a fill dated today goes among today's counts already saved since `occurred`. A
    count that matched the record without this fill was made before the fill was in hand, so
    the fill goes after it: counted 5 at 9:34 PM, then a fill of 8 recorded at 9:40 PM was put
    at noon, before the count, and the 8 troches vanished from the balance. A count that did
    not match may have included it (picked up at 1 PM, counted at 3 PM, recorded at 4 PM): the
    fill stays before that one, and the count's flag stands for the prescriber to read.
    A fill dated an earlier day keeps that day's noon: counts since that matched without it
    are a shortfall to show (the record now beside them), not a reason to move it."""
    counts = session.exec(
        select(LedgerEntry).where(LedgerEntry.patient_id == patient_id,
                                  LedgerEntry.kind == LedgerKind.COUNT,
                                  col(LedgerEntry.occurred_at) >= occurred)
        .order_by(col(LedgerEntry.occurred_at), col(LedgerEntry.received_at))
    ).all()  # usually none: a fill is recorded the day it is picked up
    for count in counts:
        if "discrepancy" in count.flags:
            break
        occurred = count.occurred_at  # same minute: saved after it, so after it in order
    return occurred


def _early(version: ProtocolVersion, tz: str, now: datetime, on_hand: Decimal) -> bool:
    """A refill is early when what is on hand lasts beyond the prescriber's refill window at
    the schedule in force at `now`."""
    weekly = troches_per_week(version, tz, now)
    return weekly > 0 and on_hand / weekly * 7 > version.early_refill_days


def record_count(
    session: Session, *, patient: User, entry_id: uuid.UUID, data: dict, now: datetime,
) -> LedgerEntry:
    count = parse(CountInput, data)
    counted_at = count.counted_at.astimezone(UTC)
    check_time(counted_at, now, field="counted_at")
    expected = expected_balance(session, patient.id, counted_at)
    entry = LedgerEntry(
        id=entry_id, patient_id=patient.id, kind=LedgerKind.COUNT, occurred_at=counted_at,
        received_at=now, count=count.count, expected_balance=expected,
        flags=["discrepancy"] if count.count != expected else [],
    )
    session.add(entry)
    session.flush()
    return entry


def dose_sent_late(session: Session, patient: User, dose: Dose) -> None:
    """A dose written down before a fill or a count reached the server, but arriving after it
    (two phones, an outbox flushed later): that entry was judged without the dose. Judged
    again here, as it would have been had the dose come first; what follows the first count
    at or after the dose starts from its counted number, so nothing after it moves.

    A dose written down after the entry arrived is not folded in: a patient who logs doses
    after seeing "Count does not match" leaves the flag standing, and the record now beside
    it. The dose's written-down time is the phone's clock, the entry's arrival the server's;
    a phone's clock minutes fast errs towards leaving the flag."""
    later = session.exec(
        select(LedgerEntry).where(LedgerEntry.patient_id == dose.patient_id,
                                  col(LedgerEntry.occurred_at) >= dose.taken_at)
        .order_by(col(LedgerEntry.occurred_at), col(LedgerEntry.received_at))
    ).all()  # usually none: a dose is logged when it is taken
    fills = []
    for entry in later:
        if entry.kind == LedgerKind.COUNT:
            _count_again(session, entry, dose)
            break
        if "early_refill" in entry.flags and entry.received_at >= dose.recorded_at:
            fills.append(entry)
    if fills:
        _refills_again(session, patient, fills)
    session.flush()


def _count_again(session: Session, count: LedgerEntry, dose: Dose) -> None:
    """The count's expectation less this dose's troches. Only this dose's: a correction made
    since stays out of it, as a count keeps the expectation it was made with
    (`expected_by_the_record_now` shows those). A concurrency tester saw a count flagged in 1
    run of 6 when both were sent in the same second."""
    if count.expected_balance is None or count.received_at < dose.recorded_at:
        return
    count.expected_balance -= dose.troches
    others = [f for f in count.flags if f != "discrepancy"]
    count.flags = [*others, *(["discrepancy"] if count.count != count.expected_balance else [])]
    session.add(count)


def _refills_again(session: Session, patient: User, fills: list[LedgerEntry]) -> None:
    """A dose only lowers what was on hand, so it can lift an early-refill flag, never raise
    one. Each fill is weighed under the protocol it was judged with, on what the record now
    says was on hand at it."""
    versions = protocols.history(session, patient.id)  # newest first
    entries = _ledger_entries(session, patient.id)
    for fill in fills:
        version = next((v for v in versions if v.created_at <= fill.received_at), None)
        key = (fill.occurred_at, fill.received_at)  # before it, as when it was judged
        before = [e for e in entries if (e.occurred_at, e.received_at) < key]
        on_hand = expected_balance(session, patient.id, fill.occurred_at, before)
        if version is not None and not _early(version, patient.timezone, fill.received_at,
                                              on_hand):
            fill.flags = [f for f in fill.flags if f != "early_refill"]
            session.add(fill)
