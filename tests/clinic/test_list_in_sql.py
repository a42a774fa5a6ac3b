"""The prescriber's list is sorted, counted and cut in SQL (flag_index.ranked_page): every page,
with or without a flag filter, is exactly the page the whole list sorted in Python gives (most
urgent first, then the name case-folded with its accents set aside, then id), whether the stored
briefs are current, outdated by a write, missing, or could not be stored."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, event, text
from sqlmodel import col, select

from app.accounts.models import name_key
from app.careteam import access
from app.clinic import flag_index, service
from app.clinic.models import FlagSummary
from app.db import engine, utcnow
from tests import factories
from tests.clinic.test_patient_list import dose, on_protocol, phq9, safety_event
from tests.conftest import IS_POSTGRES

# Names whose order differs between the list's key (case-folded, accents set aside) and a byte
# or ASCII-only comparison; two of them ("Zoë", "ZOE") share a key and go by id.
EXTRA = ("Ángela Calm", "ángel Calm", "Émile Calm", "bob calm", "Zoë Calm", "ZOE calm",
         "Straße Calm", "strasse Dan", "ℌenry Calm", "Łukasz Calm", "Søren Calm")
SIZE = 3


@pytest.fixture
def bigger_panel(db):
    """A prescriber's patients: some flagged (one or two flags each, of several urgencies),
    the rest calm, with names that sort differently by bytes; and a patient of someone else."""
    prescriber = factories.user(db, role="prescriber")
    flagged = {name: on_protocol(db, prescriber, name) for name in (
        "Zed Screen", "Amy Override", "Bob Emergency", "Dan Override", "Pia Phq",
        "Ñandú Override")}
    safety_event(db, flagged["Zed Screen"][0], "positive_screen", holds=True)
    safety_event(db, flagged["Bob Emergency"][0], "bp_emergency")
    for name in ("Amy Override", "Dan Override", "Ñandú Override"):
        dose(db, *flagged[name])
    phq9(db, flagged["Pia Phq"][0], 6, "mild", days_ago=8)
    phq9(db, flagged["Pia Phq"][0], 13, "moderate", days_ago=1)
    calm = [factories.user(db, display_name=name) for name in EXTRA]
    for patient in calm:
        factories.link(db, patient, prescriber)
    stranger, version = on_protocol(db, factories.user(db, role="prescriber"), "Sid Stranger")
    dose(db, stranger, version)
    db.commit()
    return prescriber, [p.id for p, _v in flagged.values()] + [p.id for p in calm]


def expected_pages(db, ids, flag, now):
    """The list as the whole of it sorted in Python, from each patient evaluated now."""
    people = {pid: db.get(flag_index.User, pid) for pid in ids}
    rows = []
    for pid, (_facts, flags) in flag_index.evaluate(db, ids, now).items():
        codes = {f.code for f in flags}
        if flag is None or flag in codes:
            urgency = max((f.urgency for f in flags), default=0)
            rows.append(((-urgency, name_key(people[pid].display_name), pid.hex),
                         (pid, urgency, codes)))
    rows.sort()
    ordered = [row for _key, row in rows]
    return [ordered[i:i + SIZE] for i in range(0, len(ordered), SIZE)] or [[]]


def page_of(db, prescriber, now, flag, number):
    query = access.readable_patient_refs_query(prescriber, access.Purpose.VIEW)
    nested = db.begin_nested()  # each call meets the same stored briefs
    try:
        rows, total, shown_number = flag_index.ranked_page(db, query, now, flag=flag,
                                                           number=number, size=SIZE)
    finally:
        nested.rollback()
    return [(pid, brief.urgency, set(brief.codes)) for pid, _n, _e, brief in rows], total, \
        shown_number


def _store_everything(db, ids, now):
    flag_index.briefs(db, ids, now)
    db.commit()


@pytest.mark.parametrize("state", ["current", "outdated by a write", "never stored",
                                   "not storable"])
@pytest.mark.parametrize("flag", [None, "override", "bp_emergency", "no_data", "phq9_worse"])
def test_every_page_is_the_page_of_the_whole_list_sorted(bigger_panel, db, monkeypatch, state,
                                                          flag):
    prescriber, ids = bigger_panel
    now = utcnow()
    if state == "never stored":
        db.exec(delete(FlagSummary).where(col(FlagSummary.patient_id).in_(ids)))
    else:
        _store_everything(db, ids, now)
    if state == "outdated by a write":
        # A calm patient takes a dose through an override: their brief is outdated, and they
        # now sort among the flagged.
        calm = db.get(flag_index.User, ids[-2])
        version = factories.protocol(db, prescriber, calm, now=now - timedelta(days=1))
        dose(db, calm, version)
    if state == "not storable":
        db.exec(delete(FlagSummary).where(col(FlagSummary.patient_id).in_(ids)))
        monkeypatch.setattr(flag_index, "_store", lambda *args: None)
    db.flush()

    pages = expected_pages(db, ids, flag, now)
    total = sum(len(p) for p in pages)
    if flag == "override":
        assert total >= 3  # the filter keeps some and drops some
    for number, expected in enumerate(pages, start=1):
        assert page_of(db, prescriber, now, flag, number) == (expected, total, number)
    # A page past the end is the last page, however far past (its offset would not fit the
    # database's integers).
    for past in (len(pages) + 3, 2**63 - 1):
        assert page_of(db, prescriber, now, flag, past) == (pages[-1], total, len(pages))


def test_a_current_panel_comes_in_one_statement(bigger_panel, db):
    prescriber, ids = bigger_panel
    now = utcnow()
    _store_everything(db, ids, now)
    statements = []

    def _count(*_args) -> None:
        statements.append(1)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        rows, total, _number = page_of(db, prescriber, now, None, 2)
    finally:
        event.remove(engine, "before_cursor_execute", _count)
    assert len(rows) == SIZE and total == len(ids)
    # The savepoint's SAVEPOINT and ROLLBACK TO, and the page itself.
    assert len(statements) == 3


def test_names_sort_as_people_read_them_not_by_their_bytes(bigger_panel, db):
    prescriber, ids = bigger_panel
    now = utcnow()
    _store_everything(db, ids, now)
    assert _calm_names(db, prescriber, now) == as_read(db)


@pytest.mark.skipif(not IS_POSTGRES, reason="collations are PostgreSQL's (SQLite: bytes)")
def test_the_order_holds_whatever_collation_the_database_sorts_text_by(bigger_panel, db):
    """A clinic's PostgreSQL may sort text by a language's rules (en_US ignores case and
    accents first): the list still sorts as Python does, the same as on SQLite."""
    prescriber, ids = bigger_panel
    now = utcnow()
    _store_everything(db, ids, now)
    if not db.exec(text("SELECT 1 FROM pg_collation WHERE collname = 'en-US-x-icu'")).first():
        pytest.skip("this PostgreSQL has no ICU collations")
    # In this test's transaction only (PostgreSQL's DDL is transactional; rolled back below).
    db.exec(text('ALTER TABLE users ALTER COLUMN name_key TYPE varchar(480) '
                 'COLLATE "en-US-x-icu"'))
    try:
        assert _calm_names(db, prescriber, now) == as_read(db)
    finally:
        db.rollback()


# The calm names as the list shows them: by name with accents set aside ("ángel" among the
# A's, not after Z), then the two that read alike ("ZOE", "Zoë") by their ids.
AS_READ = ["ángel Calm", "Ángela Calm", "bob calm", "Émile Calm", "ℌenry Calm", "Łukasz Calm",
           "Søren Calm", "Straße Calm", "strasse Dan"]


def as_read(db) -> list[str]:
    alike = db.exec(select(flag_index.User).where(
        col(flag_index.User.display_name).in_(["ZOE calm", "Zoë Calm"]))).all()
    return AS_READ + [u.display_name for u in sorted(alike, key=lambda u: u.id.hex)]


def _calm_names(db, prescriber, now) -> list[str]:
    """The names of the patients without a flag, in the list's order, across its pages."""
    calm = []
    number = 1
    while True:
        rows, total, shown = page_of(db, prescriber, now, None, number)
        calm += [db.get(flag_index.User, pid).display_name for pid, urgency, _c in rows
                 if urgency == 0]
        if shown < number or number * SIZE >= total:
            break
        number += 1
    return [name for name in calm if name in EXTRA]


@pytest.mark.parametrize(("q", "expected"), [
    ("STRASSE", ["Straße Calm", "strasse Dan"]),  # case-folded: ß is ss
    ("zoë", ["ZOE calm", "Zoë Calm"]),  # accents set aside, either way
    ("ZOE", ["ZOE calm", "Zoë Calm"]),
    ("ÁNGEL", ["ángel Calm", "Ángela Calm"]),
    ("angela", ["Ángela Calm"]),
    ("nandu", ["Ñandú Override"]),
    ("emile c", ["Émile Calm"]),
    ("henry", ["ℌenry Calm"]),  # decomposed to a capital, folded again (PostgreSQL's LIKE)
    ("lukasz", ["Łukasz Calm"]),  # letters Unicode does not decompose, written plainly
    ("SØREN", ["Søren Calm"]), ("soren", ["Søren Calm"]),
    ("override", ["Amy Override", "Dan Override", "Ñandú Override"]),
    ("%", []), ("_", []),  # matched as typed, not as SQL's wildcards
    ("sid", []),  # another prescriber's patient
])
def test_a_search_is_answered_in_sql_as_people_type_it(bigger_panel, db, q, expected):
    prescriber, _ids = bigger_panel
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        shown = service.patient_page(db, prescriber, utcnow(), service.Filters(None, q),
                                     size=50)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        db.rollback()
    # In the list's order, but for names that read alike, which go by id.
    assert sorted(row.patient.display_name for row in shown.rows) == sorted(expected)
    assert shown.total == len(expected)
    # The panel is never read whole to match in Python: the search is in the statement.
    assert any("LIKE" in s.upper() and "name_key" in s for s in statements)
