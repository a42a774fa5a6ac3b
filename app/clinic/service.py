"""The prescriber's patient list: each patient with their open flags, most urgent first, the
filters, and the review that clears a flag."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.accounts.models import User, name_key
from app.audit import service as audit
from app.careteam import access
from app.clinic import flag_index
from app.clinic import flags as flag_rules
from app.clinic.models import FlagReview
from app.errors import Invalid
from app.i18n import gettext as _
from app.i18n import ngettext
from app.safety import service as safety
from app.validation import savable_text

NOTE_MAX = 1000
KEY_MAX = 120  # FlagReview.key
SEARCH_MAX = 200


@dataclass(frozen=True)
class PatientRow:
    patient: User
    phase: str | None
    flags: list[flag_rules.Flag]

    @property
    def urgency(self) -> int:
        return max((f.urgency for f in self.flags), default=0)


@dataclass(frozen=True)
class Filters:
    flag: str | None = None
    q: str = ""


PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    """One page of the list (most urgent first across the whole list, then cut)."""

    rows: list[PatientRow]
    number: int  # 1-based, within 1..pages
    total: int  # rows matching the filters, on every page
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:  # 1-based position of the page's first row (0 when empty)
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return (self.number - 1) * self.size + len(self.rows)


def page_number(raw: str | int | None) -> int:
    """A page number from a query string: anything unreadable or below 1 is the first page
    (a stale or edited link still shows the list, never an error)."""
    try:
        value = int(raw or 1)
    except (TypeError, ValueError):
        return 1
    return max(1, value)


def parse_filters(flag: str | None, q: str | None) -> Filters:
    """The list's filters from a query string; Invalid (with the field) when they make no sense."""
    code = (flag or "").strip() or None
    if code is not None and code not in flag_rules.CODES:
        raise Invalid(_("Choose a flag from the list."), field="flag")
    text = " ".join((q or "").split())
    if len(text) > SEARCH_MAX:
        raise Invalid(_("Search for at most %(n)s characters.", n=SEARCH_MAX), field="q")
    if not savable_text(text):
        raise Invalid(_("The search holds characters that cannot be used."), field="q")
    return Filters(code, text)


def patient_page(session: Session, prescriber: User, now: datetime,
                 filters: Filters = Filters(), number: int = 1,
                 size: int = PAGE_SIZE) -> Page:
    """One page of the prescriber's patients with their open flags: most urgent open flag
    first, then by name; those without a flag last (a page past the end is the last page). The
    search matches a name or an email, any case.

    The order, the flag filter, the total and what is shown come from each patient's stored
    brief (app/clinic/flag_index.py: never stale, recomputed where outdated). Only the page's
    patients are noted as viewed in the audit trail."""
    query = access.readable_patient_refs_query(prescriber, access.Purpose.VIEW)
    if query is not None:
        # A prescriber's panel, searched, sorted, counted and cut in SQL
        # (flag_index.ranked_page): a search of thousands reads one page of rows.
        if filters.q:
            query = query.where(_searched(filters.q))
        page, total, number = flag_index.ranked_page(session, query, now, flag=filters.flag,
                                                     number=number, size=size)
    else:
        refs = access.readable_patient_refs(session, prescriber, access.Purpose.VIEW, now)
        found = flag_index.briefs(session, [r[0] for r in refs], now)
        listed = [(*r, found[r[0]]) for r in refs]
        if filters.q:
            needle, folded = filters.q.casefold(), name_key(filters.q)
            listed = [r for r in listed
                      if folded in name_key(r[1]) or needle in r[2].casefold()
                      or folded in r[2].casefold()]
        page, total, number = flag_index.cut(listed, filters.flag, number, size)
    ids = [r[0] for r in page]
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids))).all()} \
        if ids else {}
    briefly = flag_index.shown(session, ids, now)
    shown = [PatientRow(users[pid], briefly[pid].phase, briefly[pid].flags) for pid in ids]
    access.note_listed(session, prescriber, [r.patient for r in shown], access.Purpose.VIEW,
                       now)
    return Page(shown, number, total, size)


def _searched(q: str) -> ColumnElement[bool]:
    """The panel's patients whose name or email holds what was typed, case-folded and accents
    set aside as people type (Ana finds ANA, strasse finds Straße, lucia finds Lucía and lucía
    finds Lucia): names through `User.name_key`, folded so as the list sorts by it; emails as
    stored, lower-cased, matched as typed or folded. % and _ are matched as typed."""
    needle, folded = q.casefold(), name_key(q)
    return or_(col(User.name_key).contains(folded, autoescape=True),
               col(User.email).contains(needle, autoescape=True),
               col(User.email).contains(folded, autoescape=True))


def since_words(since: datetime, now: datetime) -> str:
    """How long ago, in words: "just now", "5 hours ago", "yesterday", "3 days ago"."""
    elapsed = now - since
    hours = int(elapsed.total_seconds() // 3600)
    if hours < 1:
        return _("just now")
    if hours < 24:
        return ngettext("%(num)s hour ago", "%(num)s hours ago", hours)
    days = elapsed.days
    if days == 1:
        return _("yesterday")
    return ngettext("%(num)s day ago", "%(num)s days ago", days)


def review_flag(session: Session, *, prescriber: User, patient: User, code: str, key: str,
                note: str, now: datetime) -> None:
    """The prescriber reviewed one flag with a note: it drops off the list (with every earlier
    occurrence of the same code) until a new occurrence flags again.

    The caller has checked access (Purpose.TREAT). Reviewing twice keeps the first review (who,
    when, what they wrote), as safety reviews do. A safety event (a high-risk screen, or any
    other event to review) is reviewed where the record keeps such reviews, on the event itself,
    which also ends a high-risk screen's dosing hold.
    """
    if code not in flag_rules.CODES:
        raise Invalid(_("That flag was not found. Reload the list and try again."), field="note")
    key = key.strip()
    if not key or len(key) > KEY_MAX or not key.isprintable():
        raise Invalid(_("That flag was not found. Reload the list and try again."), field="note")
    # A key made up or edited in the form names nothing: refused, nothing written (a review
    # of it used to be stored and answered "Flag reviewed").
    if not flag_rules.names_a_flag(session, patient, code, key, now):
        raise Invalid(_("That flag was not found. Reload the list and try again."), field="note")
    note = " ".join(note.split())
    if not note:
        raise Invalid(_("Write what you reviewed and decided, for the record."), field="note")
    if len(note) > NOTE_MAX:
        raise Invalid(_("Use at most %(n)s characters.", n=NOTE_MAX), field="note")
    if not savable_text(note):
        raise Invalid(_("The note holds characters that cannot be saved."), field="note")
    if code in flag_rules.EVENT_CODES:
        try:
            event_id = uuid.UUID(key)
        except ValueError:
            raise Invalid(_("That flag was not found. Reload the list and try again."),
                          field="note") from None
        safety.review(session, prescriber=prescriber, patient_id=patient.id, event_id=event_id,
                      note=note, now=now)
        return
    if _review(session, patient.id, code, key) is not None:
        return
    try:
        with session.begin_nested():
            session.add(FlagReview(patient_id=patient.id, code=code, key=key, reviewed_at=now,
                                   reviewed_by_id=prescriber.id, note=note))
            session.flush()
    except IntegrityError:
        return  # reviewed at the same moment by someone else: their review stands
    # Not the flag's code: a code such as a high-risk screen is itself health information.
    audit.record(session, action="flag.review", actor=prescriber, patient_id=patient.id,
                 now=now, details={"kind": "flag"})


@dataclass(frozen=True)
class ReviewedFlag:
    review: FlagReview
    reviewer: str


def flag_reviews_since(session: Session, patient_id: uuid.UUID,
                       since: datetime) -> list[ReviewedFlag]:
    """The patient's list flags reviewed since `since`, newest first, with who reviewed each:
    made on the list, they showed only in the exports and the access log."""
    rows = session.exec(
        select(FlagReview, User.display_name)
        .join(User, col(User.id) == FlagReview.reviewed_by_id)
        .where(FlagReview.patient_id == patient_id, col(FlagReview.reviewed_at) >= since)
        .order_by(col(FlagReview.reviewed_at).desc())).all()
    return [ReviewedFlag(review, name) for review, name in rows]


def _review(session: Session, patient_id: uuid.UUID, code: str, key: str) -> FlagReview | None:
    return session.exec(select(FlagReview).where(
        FlagReview.patient_id == patient_id, FlagReview.code == code, FlagReview.key == key,
    )).first()
