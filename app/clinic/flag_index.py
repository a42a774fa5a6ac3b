"""Each patient's open flags in brief, kept in `flag_summaries`, so the prescriber's list sorts,
pages and shows thousands of patients without evaluating them all on every load.

Never stale: every flush that writes a row the flags are made of counts a change for its
patient in the same transaction (app/clinic/flag_changes.py), and a stored answer counts only
while it was computed from the current count and before `flags.settled_until` (when time alone
may change which flags there are or how they read). `briefs` gives every patient's order and
codes; `shown` gives what the page shows of its patients (phase, flags worded in the reader's
language), from the same rows, current by the same test, or evaluated afresh. A reader stores
what it computed only if no write was counted meanwhile (`UPDATE … WHERE changes = <the count it
read>`), so a concurrent writer on PostgreSQL leaves the row outdated rather than wrongly
current. The count is taken on ORM flushes: write these tables through the session, never with
a bare Core INSERT/UPDATE (the bench dataset does, before any brief exists, which is safe: a
missing brief is computed).
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, update
from sqlmodel import Session, col, select

from app import i18n
from app.accounts.models import User
from app.clinic import flags as flag_rules
from app.clinic.flag_changes import upsert
from app.clinic.models import FlagSummary

_TABLE = FlagSummary.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Brief:
    urgency: int
    codes: frozenset[str]


def briefs(session: Session, patient_ids: Sequence[uuid.UUID], now: datetime,
           ) -> dict[uuid.UUID, Brief]:
    """Each patient's brief, recomputing (and storing) those outdated."""
    stored = _stored(session, patient_ids, FlagSummary.urgency, FlagSummary.codes)
    found: dict[uuid.UUID, Brief] = {}
    outdated: list[uuid.UUID] = []
    for pid in patient_ids:
        row = stored.get(pid)
        if _current(row, now):
            found[pid] = Brief(row.urgency, frozenset(row.codes.split()))
        else:
            outdated.append(pid)
    for pid, (_facts, flags) in _fresh(session, outdated, stored, now).items():
        found[pid] = _brief(flags)
    return found


def listed(session: Session, refs: Select, now: datetime,
           ) -> list[tuple[uuid.UUID, str, str, Brief]]:
    """`briefs` for a list given as a query of (id, display_name, email): (id, name, email,
    brief) of each, read in the same statement as the list (a panel of thousands, once), with
    whether each stored brief is current decided in SQL."""
    people = refs.subquery()
    current = and_(col(FlagSummary.computed_from) == col(FlagSummary.changes),
                   col(FlagSummary.settled_until) > now)
    rows = session.exec(
        select(people.c.id, people.c.display_name, people.c.email, FlagSummary.urgency,
               FlagSummary.codes, FlagSummary.changes, case((current, True), else_=False))
        .outerjoin(FlagSummary, col(FlagSummary.patient_id) == people.c.id)).all()
    found: list[tuple[uuid.UUID, str, str, Brief]] = []
    outdated: dict[uuid.UUID, Any] = {}
    for pid, name, email, urgency, codes, changes, is_current in rows:
        if is_current:
            found.append((pid, name, email, Brief(urgency, frozenset(codes.split()))))
        else:
            outdated[pid] = (name, email, changes)
    counts = {pid: _Read(changes) for pid, (_n, _e, changes) in outdated.items()
              if changes is not None}
    fresh = _fresh(session, list(outdated), counts, now)
    for pid, (name, email, _changes) in outdated.items():
        found.append((pid, name, email, _brief(fresh[pid][1])))
    return found


@dataclass(frozen=True)
class _Read:
    changes: int  # as `_fresh` takes a stored row: the count the answer was computed from


@dataclass(frozen=True)
class Shown:
    """What the list shows of one patient."""

    phase: str | None
    flags: list[flag_rules.Flag]


def shown(session: Session, patient_ids: Sequence[uuid.UUID], now: datetime,
          ) -> dict[uuid.UUID, Shown]:
    """The phase and open flags of a page's patients, worded in the current language: from
    their stored rows where current (as `briefs` decides), else evaluated now (and stored)."""
    language = i18n.current_language()
    stored = _stored(session, patient_ids, FlagSummary.phase, FlagSummary.shown)
    found: dict[uuid.UUID, Shown] = {}
    outdated: list[uuid.UUID] = []
    for pid in patient_ids:
        row = stored.get(pid)
        if (_current(row, now) and row.shown is not None
                and all(language in f["message"] for f in row.shown)):
            found[pid] = Shown(row.phase, [_flag_from(f, language) for f in row.shown])
        else:
            outdated.append(pid)
    for pid, (facts, flags) in _fresh(session, outdated, stored, now).items():
        found[pid] = Shown(facts.phase, flags)
    return found


def _stored(session: Session, patient_ids: Sequence[uuid.UUID], *columns: Any,
            ) -> dict[uuid.UUID, Any]:
    """The stored rows of these patients: what `_current` tests, and `columns`. Columns, not
    FlagSummary objects: a list of thousands reads them all on every load."""
    stored = {}
    for chunk in _chunks(list(patient_ids)):
        for row in session.exec(
                select(FlagSummary.patient_id, FlagSummary.changes, FlagSummary.computed_from,
                       FlagSummary.settled_until, *columns)
                .where(col(FlagSummary.patient_id).in_(chunk))).all():
            stored[row.patient_id] = row
    return stored


def _current(row: Any, now: datetime) -> bool:
    """A stored row still answers: computed from the current count, before time may change it."""
    return (row is not None and row.computed_from == row.changes
            and row.settled_until is not None and row.settled_until > now)


def _fresh(session: Session, outdated: list[uuid.UUID], stored: dict[uuid.UUID, Any],
           now: datetime) -> dict[uuid.UUID, tuple]:
    """(facts, flags) of the outdated patients, evaluated now and stored."""
    fresh = evaluate(session, outdated, now)
    if fresh:
        _store(session, fresh, {pid: stored[pid].changes for pid in fresh if pid in stored}, now)
    return fresh


def evaluate(session: Session, patient_ids: Sequence[uuid.UUID], now: datetime,
             ) -> dict[uuid.UUID, tuple]:
    """(facts, flags) of each patient, evaluated now."""
    if not patient_ids:
        return {}
    users = []
    for chunk in _chunks(list(patient_ids)):
        users += session.exec(select(User).where(col(User.id).in_(chunk))).all()
    return flag_rules.for_patients(session, users, now)


def _brief(flags: Sequence[flag_rules.Flag]) -> Brief:
    return Brief(max((f.urgency for f in flags), default=0), frozenset(f.code for f in flags))


def _worded(facts: flag_rules.PatientFacts, now: datetime) -> list[dict[str, Any]]:
    """The flags as stored for showing: each worded in every language (the rules are pure and
    quick; reading the facts was the cost)."""
    by_language = {}
    for language in i18n.SUPPORTED_LANGUAGES:
        with i18n.using(language):
            by_language[language] = flag_rules.evaluate(facts, now)
    first = by_language[i18n.SUPPORTED_LANGUAGES[0]]
    return [{"code": f.code, "key": f.key, "since": f.since.isoformat(), "urgency": f.urgency,
             "message": {language: flags[i].message for language, flags in by_language.items()}}
            for i, f in enumerate(first)]


def _flag_from(stored: dict[str, Any], language: str) -> flag_rules.Flag:
    return flag_rules.Flag(code=stored["code"], message=stored["message"][language],
                           since=datetime.fromisoformat(stored["since"]), key=stored["key"],
                           urgency=stored["urgency"])


def _store(session: Session, fresh: dict[uuid.UUID, tuple], read_at: dict[uuid.UUID, int],
           now: datetime) -> None:
    connection = session.connection()
    updates, inserts = [], []
    for pid in sorted(fresh):
        facts, flags = fresh[pid]
        brief = _brief(flags)
        values = {"b_urgency": brief.urgency, "b_codes": " ".join(sorted(brief.codes)),
                  "b_settled": flag_rules.settled_until(facts, now), "b_phase": facts.phase,
                  "b_shown": _worded(facts, now)}
        if pid in read_at:
            updates.append({"b_pid": pid, "b_changes": read_at[pid], **values})
        else:
            inserts.append({"patient_id": pid, "changes": 0, "computed_from": 0,
                            "urgency": values["b_urgency"], "codes": values["b_codes"],
                            "settled_until": values["b_settled"], "phase": values["b_phase"],
                            "shown": values["b_shown"]})
    if updates:
        # Only if no write was counted since the count was read: otherwise it stays outdated.
        # And only rows nobody holds (SKIP LOCKED; SQLite has one writer and no row locks):
        # a brief is a cache, so a reader never waits for a writer about to count a change, or
        # for another reader storing the same brief. Waiting could deadlock two patient lists
        # on PostgreSQL (each stores its outdated rows, then its page's: two orders), which fits
        # the one 500 bench/load.py met on the list on 2026-12-03 (an OperationalError; the log
        # keeps no error text). A row skipped stays outdated: recomputed by the next reader.
        free = (select(_TABLE.c.patient_id)
                .where(_TABLE.c.patient_id == bindparam("b_pid"),
                       _TABLE.c.changes == bindparam("b_changes"))
                .with_for_update(skip_locked=True).scalar_subquery())
        connection.execute(
            update(_TABLE)
            .where(_TABLE.c.patient_id == free)
            .values(computed_from=bindparam("b_changes"), urgency=bindparam("b_urgency"),
                    codes=bindparam("b_codes"), settled_until=bindparam("b_settled"),
                    phase=bindparam("b_phase"), shown=bindparam("b_shown")),
            updates)
    if inserts:
        # A writer that created the row meanwhile wins (its count makes ours outdated anyway).
        connection.execute(upsert(connection).on_conflict_do_nothing(
            index_elements=[_TABLE.c.patient_id]), inserts)


def _chunks(ids: list[uuid.UUID], size: int = 900) -> Iterable[list[uuid.UUID]]:
    # SQLite builds of old allow 999 bound parameters per statement.
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
