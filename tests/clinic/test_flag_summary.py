"""The patient list's stored briefs (app/clinic/flag_index.py) are never stale: a write counts
a change in its own transaction, time alone is covered by `flags.settled_until`, and a reader
racing a writer leaves the brief outdated rather than wrongly current."""

import hashlib
import re
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlmodel import Session

from app import i18n
from app.clinic import flag_changes, flag_index, flags
from app.clinic.flags import DoseFact, Seen
from app.clinic.models import FlagSummary
from app.db import engine, utcnow
from tests import factories
from tests.clinic.test_flags import NOW, every_session, treated
from tests.clinic.test_patient_list import (
    dose,
    on_protocol,
    order_on_page,
    safety_event,
    signed_in,
)
from tests.conftest import IS_POSTGRES

# --- settled_until (pure) ------------------------------------------------------------------


def _answer(facts, at):
    """Everything the list shows that the rules decide: which flags, their order, keys and
    times, and their wording in every language."""
    worded = []
    for language in i18n.SUPPORTED_LANGUAGES:
        with i18n.using(language):
            worded.append([(f.code, f.urgency, f.key, f.since, f.message)
                           for f in flags.evaluate(facts, at)])
    return worded


SCENARIOS = {
    "doing well": treated(),
    "a session skipped": treated(doses=every_session(skip=(3, 4))),
    "doses near the window edges": treated(doses=[
        DoseFact("old", NOW - timedelta(days=29, hours=20), flags.Decimal(100),
                 frozenset({"override"})),
        DoseFact("late", NOW - timedelta(days=6, hours=23), flags.Decimal(100),
                 frozenset({"late_entry"})),
        *every_session()]),
    "blood pressure near 14 days": treated(
        bp_holds=[Seen(NOW - timedelta(days=13, hours=22), "g1")],
        bp_emergencies=[Seen(NOW - timedelta(days=13, hours=23, minutes=30), "e1")],
        supply=[Seen(NOW - timedelta(days=29, hours=23), "s1")]),
    "quiet for almost a week": treated(doses=[], last_logged=NOW - timedelta(days=6, hours=21)),
    # "Nothing logged for 9 days" reads "10 days" a day later, with no flag coming or going.
    "quiet for a long time": treated(doses=[], last_logged=NOW - timedelta(days=9, hours=5)),
    "dose creep": treated(doses=[*every_session(), DoseFact(
        "extra", NOW - timedelta(days=1), flags.Decimal(300))]),
    # Its flag says dosing is on hold until two weeks have passed, then only that it is there.
    "an unscreened item 9 answer near two weeks": treated(events_to_review=[flags.EventFact(
        NOW - timedelta(days=13, hours=21), "q1", "phq9_item9", "unscreened", None, "phq9")]),
    "an entry dated a little ahead": treated(doses=[*every_session(), DoseFact(
        "ahead", NOW + timedelta(minutes=40), flags.Decimal(100), frozenset({"extra"}))]),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_flag_changes_before_the_answer_is_settled_until(name):
    """From many starting moments over two weeks, the flags stay as they were at every sampled
    moment before `settled_until`, and they do change somewhere: the sweep has teeth."""
    facts = SCENARIOS[name]
    changed = False
    start = NOW - timedelta(days=3)
    for step in range(0, 14 * 24 * 60 // 37):  # every 37 minutes (any phase) for two weeks
        at = start + timedelta(minutes=37 * step)
        until = flags.settled_until(facts, at)
        assert at < until <= at + flags.SETTLED_MAX
        before = _answer(facts, at)
        span = until - at
        for k in range(1, 5):
            probe = at + span * k // 5  # floored: always before `until`
            assert _answer(facts, probe) == before, (name, at, probe, until)
        assert _answer(facts, until - timedelta(microseconds=1)) == before
        changed |= _answer(facts, until) != before
    assert changed, f"{name}: nothing changed in two weeks; the sweep proves nothing"


def test_a_review_that_lapses_ends_the_settled_time():
    facts = replace(treated(), reviews_lapse_at=NOW + timedelta(minutes=20))
    assert flags.settled_until(facts, NOW) <= NOW + timedelta(minutes=20)


def test_the_patients_midnight_ends_the_settled_time():
    facts = treated(doses=[], plans=None, last_logged=None)  # nothing else to wait for
    at = NOW + timedelta(hours=8, minutes=10)  # 23:40 in New York
    assert flags.settled_until(facts, at) == at + timedelta(minutes=20)  # local midnight
    assert flags.settled_until(facts, NOW) == NOW + flags.SETTLED_MAX


# --- stored briefs (real database) ---------------------------------------------------------


def _row(db, patient) -> FlagSummary | None:
    db.expire_all()
    return db.get(FlagSummary, patient.id)


def test_every_table_the_flags_read_counts_changes():
    """flags.gather reads exactly FLAG_SOURCE_TABLES: a new source must count its writes too."""
    read: set[str] = set()

    def tables(conn, cursor, statement, *args):
        read.update(re.findall(r"\bFROM (\w+)", statement))

    with Session(engine) as db:
        patient = factories.user(db, role="patient")
        event.listen(engine, "before_cursor_execute", tables)
        try:
            flags.gather(db, [patient], utcnow())
        finally:
            event.remove(engine, "before_cursor_execute", tables)
        db.rollback()
    assert read == flag_changes.FLAG_SOURCE_TABLES


def test_a_write_makes_the_brief_outdated_and_the_list_reorders_at_once(db, auth, client):
    prescriber = factories.user(db, role="prescriber")
    calm, calm_version = on_protocol(db, prescriber, "Ann Calm")
    later, _ = on_protocol(db, prescriber, "Zoe Later")
    db.commit()
    signed_in(auth, prescriber)
    first = client.get("/patients").text
    assert order_on_page(first) == [str(calm.id), str(later.id)]
    stored = _row(db, later)
    assert stored is not None and stored.computed_from == stored.changes  # current
    counted = stored.changes

    safety_event(db, later, "bp_emergency")
    db.commit()
    outdated = _row(db, later)
    assert outdated.changes == counted + 1 and outdated.computed_from != outdated.changes

    page = client.get("/patients").text
    assert order_on_page(page) == [str(later.id), str(calm.id)]
    assert "Blood pressure at or above 180/120" in page
    assert _row(db, later).computed_from == _row(db, later).changes
    filtered = client.get("/patients", params={"flag": "bp_emergency"}).text
    assert order_on_page(filtered) == [str(later.id)]

    dose(db, calm, calm_version)  # through an override: a flag for Ann too
    db.commit()
    assert order_on_page(client.get("/patients").text) == [str(later.id), str(calm.id)]
    assert client.get("/patients", params={"flag": "override"}).text.count("Ann Calm") >= 1


def test_a_brief_past_its_settled_time_is_computed_again(db, auth, client):
    prescriber = factories.user(db, role="prescriber")
    patient, version = on_protocol(db, prescriber, "Ann Time")
    db.commit()
    signed_in(auth, prescriber)
    client.get("/patients")
    row = _row(db, patient)
    assert row.settled_until > utcnow()
    # Make the stored brief claim "nothing to see" and expire: the next load must not trust it.
    db.add(dose(db, patient, version))
    db.commit()
    row = _row(db, patient)
    row.computed_from, row.codes, row.urgency = row.changes, "", 0
    row.settled_until = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()
    assert "override" in client.get("/patients", params={"flag": "override"}).text.lower()
    assert "override" in _row(db, patient).codes


def _stored_as_if_by_other_rules(db, patient, rules_version: int) -> None:
    """The row made to look current but empty, as if stored by rules of another edition."""
    row = _row(db, patient)
    row.computed_from, row.codes, row.urgency, row.shown = row.changes, "", 0, []
    row.settled_until = utcnow() + timedelta(hours=1)
    row.rules_version = rules_version
    db.add(row)
    db.commit()


def test_a_brief_written_by_other_rules_is_computed_again(db, auth, client):
    """A brief is current only for the rules that wrote it: after a deploy that changes them
    (or beside an old process still running), the list computes it afresh and stores it."""
    prescriber = factories.user(db, role="prescriber")
    patient, version = on_protocol(db, prescriber, "Ann Rules")
    dose(db, patient, version)  # through an override
    db.commit()
    signed_in(auth, prescriber)
    client.get("/patients")
    assert _row(db, patient).rules_version == flags.RULES_VERSION

    _stored_as_if_by_other_rules(db, patient, flags.RULES_VERSION - 1)
    filtered = client.get("/patients", params={"flag": "override"}).text  # sorted in SQL
    assert order_on_page(filtered) == [str(patient.id)]
    row = _row(db, patient)
    assert row.rules_version == flags.RULES_VERSION and row.codes == "override"

    _stored_as_if_by_other_rules(db, patient, flags.RULES_VERSION - 1)
    page = client.get("/patients").text  # the whole list in one statement, and its wording
    assert "1 dose taken through an override in 30 days." in page
    assert [f["code"] for f in _row(db, patient).shown] == ["override"]


def test_a_process_with_older_rules_leaves_a_later_brief_alone(db):
    """Mid-deploy, the code still running the older rules answers from its own evaluation and
    does not write over a brief the newer rules stored (here the newer edition is faked)."""
    prescriber = factories.user(db, role="prescriber")
    patient, version = on_protocol(db, prescriber, "Ann Later")
    dose(db, patient, version)
    db.commit()
    with Session(engine) as reader:
        flag_index.briefs(reader, [patient.id], utcnow())
        reader.commit()
    _stored_as_if_by_other_rules(db, patient, flags.RULES_VERSION + 1)
    with Session(engine) as reader:
        found = flag_index.briefs(reader, [patient.id], utcnow())
        shown = flag_index.shown(reader, [patient.id], utcnow())
        reader.commit()
    assert found[patient.id].codes == {"override"}
    assert [f.code for f in shown[patient.id].flags] == ["override"]
    row = _row(db, patient)
    assert row.rules_version == flags.RULES_VERSION + 1 and row.codes == ""

    # Past its settled time (the newer release rolled back, say), it is replaced: otherwise
    # every load would evaluate the patient again, for good.
    row.settled_until = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()
    with Session(engine) as reader:
        flag_index.briefs(reader, [patient.id], utcnow())
        reader.commit()
    row = _row(db, patient)
    assert row.rules_version == flags.RULES_VERSION and row.codes == "override"


# What RULES_VERSION was last raised for: app/clinic/flags.py (its lines of code) and the Spanish
# of every message it words.
RULES_FINGERPRINT = "40889659ae217e0f"


def _rules_fingerprint() -> str:
    from babel.messages.pofile import read_po

    # Lines of code only: a comment on a line of its own, or a blank line, changes no rule.
    lines = Path(flags.__file__).read_text(encoding="utf-8").splitlines()
    code = "\n".join(line for line in lines if line.strip() and not line.lstrip().startswith("#"))
    digest = hashlib.sha256(code.encode())
    catalogue = Path(flags.__file__).parents[1] / "locale/es/LC_MESSAGES/messages.po"
    with catalogue.open("rb") as po:
        for message in read_po(po):
            if any(path == "app/clinic/flags.py" for path, _line in message.locations):
                # A fuzzy entry is not compiled: the English shows instead.
                digest.update(repr((message.id, message.string, message.fuzzy)).encode())
    return digest.hexdigest()[:16]


def test_the_rules_edition_is_raised_with_the_rules():
    """Changing the flag rules or their words without raising RULES_VERSION would leave every
    stored brief worded and ranked by the old rules for up to an hour."""
    assert _rules_fingerprint() == RULES_FINGERPRINT, (
        "app/clinic/flags.py or its Spanish words changed. If which flags the list shows, or "
        "how they rank or read, can change, raise flags.RULES_VERSION (only a change that "
        "cannot, a rename say, goes without). Then set RULES_FINGERPRINT here to "
        f"{_rules_fingerprint()!r}")


def _a_writer_commits_after_each_evaluation(monkeypatch, patient) -> None:
    """The reader evaluates, then a writer commits a crisis reading for the patient before the
    reader stores what it computed (undone with monkeypatch.undo())."""
    evaluate = flag_index.evaluate

    def evaluate_then_a_writer_commits(session, ids, now):
        found = evaluate(session, ids, now)
        with Session(engine) as writer:
            safety_event(writer, writer.get(type(patient), patient.id), "bp_emergency")
            writer.commit()
        return found

    monkeypatch.setattr(flag_index, "evaluate", evaluate_then_a_writer_commits)


def test_a_reader_racing_a_writer_leaves_the_brief_outdated(db, monkeypatch):
    """The reader read the count, then a writer committed a change, then the reader stores what
    it computed from the older data: the brief must stay outdated, not look current."""
    prescriber = factories.user(db, role="prescriber")
    patient, _version = on_protocol(db, prescriber, "Ann Race")
    db.commit()
    _a_writer_commits_after_each_evaluation(monkeypatch, patient)
    with Session(engine) as reader:
        found = flag_index.briefs(reader, [patient.id], utcnow())
        reader.commit()
    assert "bp_emergency" not in found[patient.id].codes  # computed before the write
    monkeypatch.undo()
    row = _row(db, patient)
    assert row.computed_from != row.changes  # so the next list computes it again
    with Session(engine) as reader:
        assert "bp_emergency" in flag_index.briefs(reader, [patient.id], utcnow())[
            patient.id].codes
        reader.commit()


@pytest.mark.skipif(not IS_POSTGRES, reason="row locks are PostgreSQL's (SQLite: one writer)")
def test_a_reader_never_waits_for_a_brief_another_transaction_holds(db):
    """Two prescribers' lists store the same outdated brief at once: the second skips the row
    the first holds (it stays outdated until the first commits) instead of waiting, so two
    lists storing their rows in different orders cannot deadlock. Before, the second waited
    here until lock_timeout."""
    prescriber = factories.user(db, role="prescriber")
    patient, _version = on_protocol(db, prescriber, "Ann Held")
    db.commit()
    now = utcnow()
    with Session(engine) as first, Session(engine) as second:
        held = flag_index.briefs(first, [patient.id], now)  # stored: the row is locked
        second.exec(text("SET LOCAL lock_timeout = '2s'"))
        found = flag_index.briefs(second, [patient.id], now)
        second.commit()
        assert _row(db, patient).computed_from != _row(db, patient).changes  # not stored yet
        first.commit()
    assert found == held
    row = _row(db, patient)
    assert row.computed_from == row.changes  # the first reader's store


def test_the_list_shows_a_current_brief_as_stored_in_the_readers_language(db, auth, client,
                                                                          monkeypatch):
    """Once computed, a patient's flags are shown from their row (no evaluation), worded in
    whichever language the prescriber reads: each row keeps every language."""
    prescriber = factories.user(db, role="prescriber")
    patient, version = on_protocol(db, prescriber, "Ann Stored")
    dose(db, patient, version)  # through an override
    db.commit()
    signed_in(auth, prescriber)
    english = "1 dose taken through an override in 30 days."
    assert english in client.get("/patients").text
    stored = _row(db, patient)
    assert [f["code"] for f in stored.shown] == ["override"]
    spanish = stored.shown[0]["message"]["es"]
    assert spanish != english and "30" in spanish

    def no_evaluation(session, ids, now):
        assert not ids, "a current row was evaluated again"
        return {}

    monkeypatch.setattr(flag_index, "evaluate", no_evaluation)
    assert english in client.get("/patients").text
    prescriber.language = "es"
    db.add(prescriber)
    db.commit()
    page = client.get("/patients").text
    assert spanish in page and english not in page


def test_a_row_without_the_readers_wording_is_computed_again(db, auth, client):
    """A row stored before the list kept wording (or without this language) is not shown as it
    is: the patient is evaluated, and the row gets the wording."""
    prescriber = factories.user(db, role="prescriber")
    patient, version = on_protocol(db, prescriber, "Ann Older")
    dose(db, patient, version)
    db.commit()
    signed_in(auth, prescriber)
    client.get("/patients")
    row = _row(db, patient)
    row.shown, row.phase = None, None
    db.add(row)
    db.commit()
    assert "through an override" in client.get("/patients").text
    assert _row(db, patient).shown[0]["code"] == "override"
    row = _row(db, patient)
    row.shown = [{**row.shown[0], "message": {"en": row.shown[0]["message"]["en"]}}]
    db.add(row)
    db.commit()
    prescriber.language = "es"
    db.add(prescriber)
    db.commit()
    assert set(_row(db, patient).shown[0]["message"]) == {"en"}
    client.get("/patients")
    assert set(_row(db, patient).shown[0]["message"]) == set(i18n.SUPPORTED_LANGUAGES)


def test_a_reader_racing_a_writer_does_not_store_what_it_shows_as_current(db, monkeypatch):
    """As for the order: what a page showed from data a writer changed meanwhile is not kept as
    current; the next page evaluates the patient again and shows the writer's flag."""
    prescriber = factories.user(db, role="prescriber")
    patient, _version = on_protocol(db, prescriber, "Ann Shown")
    db.commit()
    _a_writer_commits_after_each_evaluation(monkeypatch, patient)
    with Session(engine) as reader:
        first = flag_index.shown(reader, [patient.id], utcnow())[patient.id]
        reader.commit()
    assert [f.code for f in first.flags] == []  # computed before the write
    monkeypatch.undo()
    with Session(engine) as reader:
        again = flag_index.shown(reader, [patient.id], utcnow())[patient.id]
        reader.commit()
    assert [f.code for f in again.flags] == ["bp_emergency"]


WRITERS = 8


def test_eight_writers_at_once_each_count_their_change(db):
    """Eight transactions write to one patient's flag sources at the same moment (on PostgreSQL
    really at once; on SQLite one after another through the write lock): none of their counts is
    lost, and the brief computed afterwards holds all eight readings and is stored as current."""
    prescriber = factories.user(db, role="prescriber")
    patient, _version = on_protocol(db, prescriber, "Ann Busy")
    db.commit()
    with Session(engine) as reader:
        flag_index.briefs(reader, [patient.id], utcnow())
        reader.commit()
    before = _row(db, patient).changes
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with Session(engine) as session:
                start.wait(timeout=30)
                safety_event(session, session.get(type(patient), patient.id), "bp_emergency",
                             days_ago=1 + n / 100)
                session.commit()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert _row(db, patient).changes == before + WRITERS
    with Session(engine) as reader:
        shown = flag_index.shown(reader, [patient.id], utcnow())[patient.id]
        reader.commit()
    assert [f.message for f in shown.flags] == [
        f"Blood pressure at or above 180/120: {WRITERS} readings in 14 days."]
    row = _row(db, patient)
    assert row.computed_from == row.changes and "bp_emergency" in row.codes
