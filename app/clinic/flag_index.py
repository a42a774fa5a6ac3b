"""Each patient's open flags in brief, kept in `flag_summaries`, so the prescriber's list sorts,
pages and shows thousands of patients without evaluating them all on every load.

Never stale: every flush that writes a row the flags are made of counts a change for its
patient in the same transaction (app/clinic/flag_changes.py), and a stored answer counts only
while it was computed from the current count, before `flags.settled_until` (when time alone
may change which flags there are or how they read), and by the current `flags.RULES_VERSION`.
`ranked_page` sorts, filters, counts and cuts the list by them in SQL; `briefs` gives each
patient's order and codes; `shown` gives what the page shows of its patients (phase, flags
worded in the reader's language), from the same rows, current by the same test, or evaluated
afresh. A reader stores what it computed only if no write was counted meanwhile (`UPDATE …
WHERE changes = <the count it read>`), so a concurrent writer on PostgreSQL leaves the row
outdated rather than wrongly current. The count is taken on ORM flushes: write these tables
through the session, never with a bare Core INSERT/UPDATE (the bench dataset does, before any
brief exists, which is safe: a missing brief is computed).
"""

import heapq
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, collate, func, literal, not_, or_, update
from sqlmodel import Session, col, select

from app import i18n
from app.accounts.models import User, name_key
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
    rows = session.exec(
        select(people.c.id, people.c.display_name, people.c.email, FlagSummary.urgency,
               FlagSummary.codes, FlagSummary.changes, _is_current(now))
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


# Beyond this many outdated briefs (a new day for the whole panel, a fresh install), a page is
# sorted in Python from every brief, as `listed` gives them: the ids of the briefs computed
# afresh would not fit in one statement on SQLite builds of old (999 parameters).
_SQL_PAGE_MAX_FRESH = 900
_PAGE_MAX = 1_000_000  # pages: far past any panel's last


def ranked_page(session: Session, refs: Select, now: datetime, *, flag: str | None,
                number: int, size: int,
                ) -> tuple[list[tuple[uuid.UUID, str, str, Brief]], int, int]:
    """One page of a list given as a query of (id, display_name, email), most urgent first,
    then by name (`User.name_key`), then id; only those with `flag` open when given. Returns
    (id, name, email, brief) of the page's patients, how many match, and the page number
    (a page past the end is the last page).

    Sorted, counted and cut in SQL from the stored briefs, so a panel of thousands reads one
    page of rows. The outdated briefs are computed first (and stored where no writer holds
    them); they join the order in Python by what they are now, whether or not they could be
    stored, so a brief is never sorted by what it was."""
    # Any page number past the list is its last page; bounded first, so that the offset sent to
    # the database fits its integers (a query string may ask for page 9223372036854775807).
    number = max(1, min(number, _PAGE_MAX))
    people = refs.subquery()
    if flag is None:
        quick = _page_if_all_current(session, people, now, number, size)
        if quick is not None:
            return quick
    stale = session.exec(
        select(people.c.id, people.c.display_name, people.c.email, FlagSummary.changes)
        .outerjoin(FlagSummary, col(FlagSummary.patient_id) == people.c.id)
        .where(not_(_is_current(now)))).all()
    if len(stale) > _SQL_PAGE_MAX_FRESH:
        return cut(listed(session, refs, now), flag, number, size)
    fresh = _fresh(session, [r.id for r in stale],
                   {r.id: _Read(r.changes) for r in stale if r.changes is not None}, now)
    recomputed = [(r.id, r.display_name, r.email, _brief(fresh[r.id][1])) for r in stale]
    recomputed = sorted((r for r in recomputed if flag is None or flag in r[3].codes),
                        key=list_order)

    stored = (select(people.c.id, people.c.display_name, people.c.email, FlagSummary.urgency,
                     FlagSummary.codes)
              .join(FlagSummary, col(FlagSummary.patient_id) == people.c.id))
    if stale:
        stored = stored.where(people.c.id.not_in([r.id for r in stale]))
    if flag is not None:
        # codes are space-separated: match the whole code, never a part of a longer one.
        spaced = literal(" ") + col(FlagSummary.codes) + literal(" ")
        stored = stored.where(spaced.contains(f" {flag} ", autoescape=True))
    counted = session.exec(select(func.count()).select_from(stored.subquery())).one()
    total = counted + len(recomputed)
    number = min(max(1, number), _pages(total, size))
    ordered = _in_order(session, stored, people)
    start = (number - 1) * size
    if not recomputed:
        rows = session.exec(ordered.offset(start).limit(size)).all()
        return [_listed(*row) for row in rows], total, number
    # A recomputed brief may sort anywhere: the stored rows up to the page's end, merged with
    # the recomputed ones, then cut (deep pages read more, only until the briefs are stored).
    rows = session.exec(ordered.limit(start + size)).all()
    merged = heapq.merge(
        ((_order(row[3], row[5], row[0]), _listed(*row)) for row in rows),
        ((list_order(r), r) for r in recomputed),
        key=lambda pair: pair[0])
    return [row for _key, row in merged][start:start + size], total, number


def _page_if_all_current(session: Session, people: Any, now: datetime, number: int, size: int,
                         ) -> tuple[list[tuple[uuid.UUID, str, str, Brief]], int, int] | None:
    """The whole list's page in one statement, when every brief is current (the usual case:
    a write outdates its patient's brief only until the next reader): the count and the
    number of outdated briefs come with the page's rows. None when any is outdated, or the
    page is past the end."""
    start = (number - 1) * size
    rows = session.exec(
        _in_order(session, select(people.c.id, people.c.display_name, people.c.email,
                                  FlagSummary.urgency, FlagSummary.codes)
                  .outerjoin(FlagSummary, col(FlagSummary.patient_id) == people.c.id), people)
        .add_columns(func.count().over(),
                     func.sum(case((_is_current(now), 0), else_=1)).over())
        .offset(start).limit(size)).all()
    if not rows:
        return ([], 0, 1) if number == 1 else None
    if rows[0][-1]:
        return None
    return [_listed(*row[:5]) for row in rows], rows[0][-2], number


def _is_current(now: datetime) -> Any:
    """`_current` in SQL, over FlagSummary outer-joined to a list: true or false, never NULL
    (a patient without a row, or without a settled time, is not current)."""
    return case((and_(col(FlagSummary.computed_from) == col(FlagSummary.changes),
                      col(FlagSummary.settled_until) > now,
                      col(FlagSummary.rules_version) == flag_rules.RULES_VERSION), True),
                else_=False)


def _in_order(session: Session, query: Select, people: Any) -> Select:
    """`query` (over `people` and FlagSummary) with name_key, in the list's order."""
    key = User.name_key if session.get_bind().dialect.name != "postgresql" \
        else collate(User.name_key, "C")  # byte order, as Python compares strings
    return (query.add_columns(User.name_key).join(User, col(User.id) == people.c.id)
            .order_by(col(FlagSummary.urgency).desc(), key, people.c.id))


def _listed(pid: uuid.UUID, name: str, email: str, urgency: int, codes: str, _key: str = "",
            ) -> tuple[uuid.UUID, str, str, Brief]:
    return pid, name, email, Brief(urgency, frozenset(codes.split()))


def cut(found: list[tuple[uuid.UUID, str, str, Brief]], flag: str | None, number: int,
        size: int) -> tuple[list[tuple[uuid.UUID, str, str, Brief]], int, int]:
    """`ranked_page` of a list already read, in Python (a search; a panel of new briefs)."""
    found = sorted((r for r in found if flag is None or flag in r[3].codes), key=list_order)
    number = min(max(1, number), _pages(len(found), size))
    return found[(number - 1) * size:number * size], len(found), number


def list_order(row: tuple[uuid.UUID, str, str, Brief]) -> tuple[int, str, str]:
    return _order(row[3].urgency, name_key(row[1]), row[0])


def _order(urgency: int, sort_name: str, pid: uuid.UUID) -> tuple[int, str, str]:
    """The list's order in Python, the same as `ranked_page`'s in SQL (the id as its 32 hex
    digits: SQLite stores it so, and PostgreSQL's uuid order is the same)."""
    return (-urgency, sort_name, pid.hex)


def _pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


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
                       FlagSummary.settled_until, FlagSummary.rules_version, *columns)
                .where(col(FlagSummary.patient_id).in_(chunk))).all():
            stored[row.patient_id] = row
    return stored


def _current(row: Any, now: datetime) -> bool:
    """A stored row still answers: computed from the current count, before time may change it,
    by these rules."""
    return (row is not None and row.computed_from == row.changes
            and row.settled_until is not None and row.settled_until > now
            and row.rules_version == flag_rules.RULES_VERSION)


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
                  "b_shown": _worded(facts, now), "b_rules": flag_rules.RULES_VERSION}
        if pid in read_at:
            updates.append({"b_pid": pid, "b_changes": read_at[pid], "b_now": now, **values})
        else:
            inserts.append({"patient_id": pid, "changes": 0, "computed_from": 0,
                            "urgency": values["b_urgency"], "codes": values["b_codes"],
                            "settled_until": values["b_settled"], "phase": values["b_phase"],
                            "shown": values["b_shown"], "rules_version": values["b_rules"]})
    if updates:
        # Only if no write was counted since the count was read: otherwise it stays outdated.
        # And only rows nobody holds (SKIP LOCKED; SQLite has one writer and no row locks):
        # a brief is a cache, so a reader never waits for a writer about to count a change, or
        # for another reader storing the same brief. Waiting could deadlock two patient lists
        # on PostgreSQL (each stores its outdated rows, then its page's: two orders), which fits
        # the one 500 bench/load.py met on the list on 2026-12-03 (an OperationalError; the log
        # keeps no error text). A row skipped stays outdated: recomputed by the next reader.
        # Not over a brief of later rules while it stands: in a rolling deploy the old code
        # leaves the new code's briefs alone (and recomputes for itself) until it is gone.
        # Once past its settled time it is the old code's to replace, so a release rolled back
        # does not leave its briefs to be evaluated again on every load for good (a newer
        # process still running replaces them within the hour it would anyway).
        free = (select(_TABLE.c.patient_id)
                .where(_TABLE.c.patient_id == bindparam("b_pid"),
                       _TABLE.c.changes == bindparam("b_changes"),
                       or_(_TABLE.c.rules_version <= bindparam("b_rules"),
                           _TABLE.c.settled_until <= bindparam("b_now")))
                .with_for_update(skip_locked=True).scalar_subquery())
        connection.execute(
            update(_TABLE)
            .where(_TABLE.c.patient_id == free)
            .values(computed_from=bindparam("b_changes"), urgency=bindparam("b_urgency"),
                    codes=bindparam("b_codes"), settled_until=bindparam("b_settled"),
                    phase=bindparam("b_phase"), shown=bindparam("b_shown"),
                    rules_version=bindparam("b_rules")),
            updates)
    if inserts:
        # A writer that created the row meanwhile wins (its count makes ours outdated anyway).
        connection.execute(upsert(connection).on_conflict_do_nothing(
            index_elements=[_TABLE.c.patient_id]), inserts)


def _chunks(ids: list[uuid.UUID], size: int = 900) -> Iterable[list[uuid.UUID]]:
    # SQLite builds of old allow 999 bound parameters per statement.
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
