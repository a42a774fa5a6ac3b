"""The PDF export: it opens, and its text holds the patient, the doses, the scores, the safety
events and the page numbers a prescriber reads on paper (read back with pypdf)."""

import io
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from app.checkins.models import CheckIn
from app.doses import corrections
from app.doses.models import Dose, DoseStatus
from app.exports import pdf
from app.exports.records import gather
from tests import factories

# The same fixed instant as tests/test_seed.py: a Tuesday afternoon in New York.
NOW = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)
START, END = date(2026, 10, 1), date(2026, 11, 24)


def text_of(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    # Table cells wrap; join lines so a phrase split across two lines still reads as one.
    text = "\n".join(page.extract_text() for page in reader.pages)
    return reader, text


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_demo_record_reads_back_with_patient_doses_scores_and_safety(db, demo):
    patient, prescriber = demo["patient2@demo.test"], demo["prescriber@demo.test"]
    records = gather(db, patient, START, END)
    assert records.doses and records.safety_events and records.questionnaires

    reader, text = text_of(pdf.render(records, generated_at=NOW, prescriber=prescriber))
    words = flat(text)

    assert patient.display_name in text
    assert prescriber.display_name in text
    assert patient.timezone in text
    assert "2026-11-24 20:30 UTC" in text  # generated-at, in UTC and in the patient's zone
    assert patient.timezone == "America/Chicago"
    assert "2026-11-24 14:30 CST" in text
    # A dose row: its local date and time with the zone, and its amount.
    dose = next(d for d in records.doses if d.status == DoseStatus.RECORDED)
    local = dose.taken_at.astimezone(records.zone)
    assert local.strftime("%Y-%m-%d %H:%M") + " " + local.tzname() in text
    assert f"{dose.dose_mg.normalize():f} mg" in text
    # The dose table reads oldest first, like a chart.
    first, last = (min(d.taken_at for d in records.doses), max(d.taken_at for d in records.doses))
    doses_part = text[text.index("Doses\n"):]
    assert doses_part.index(first.astimezone(records.zone).strftime("%Y-%m-%d")) < \
        doses_part.index(last.astimezone(records.zone).strftime("%Y-%m-%d"))
    # A PHQ-9 score as score/27 with its band.
    phq = next(q for q in records.questionnaires if q.instrument == "phq9")
    assert f"{phq.score}/27" in text
    # The reviewed high-risk screen: level, event in words, the reviewer and the review note.
    event = next(e for e in records.safety_events if e.kind == "positive_screen")
    assert "Positive suicidality screen (CSSRS), risk high" in words
    assert event.review_note[:40] in words
    assert f"by {prescriber.display_name}" in words
    # Its alert, and who acknowledged it: the screen's row said only who reviewed it.
    part = flat(text[text.index("Alerts to the care team"):])
    assert "High-risk suicidality screen" in part
    assert f"by {prescriber.display_name}: Called Sam at 8:30." in part
    # Page numbers on every page, and the generated-at time in the footer.
    assert len(reader.pages) > 1
    for n, page in enumerate(reader.pages, start=1):
        assert f"Page {n} of {len(reader.pages)}" in page.extract_text()
        assert "generated 2026-11-24 20:30 UTC" in flat(page.extract_text())


def test_sections_a_prescriber_reads(db, demo):
    patient = demo["patient@demo.test"]
    records = gather(db, patient, START, END)
    _, text = text_of(pdf.render(records, generated_at=NOW,
                                 prescriber=demo["prescriber@demo.test"]))
    words = flat(text)
    # His two blood-pressure holds' alerts: Alex answered the first; the latest is open.
    alerts = flat(text[text.index("Alerts to the care team"):text.index(
        "Safety checks that held")])
    assert alerts.count("Blood pressure hold before a dose") == 2
    assert "by Alex Reyes: Called Jordan: rested, rechecked at 132/84" in alerts
    assert alerts.count("Not acknowledged") == 1
    for heading in ("Flags and reviews", "Protocol and phase history", "Adherence",
                    "PHQ-9 and GAD-7 trend", "Doses", "Session records",
                    "Troche ledger reconciliation"):
        assert heading in text
    # Protocol: the prescribed dose, the phases in words.
    version = records.protocols[0]
    assert version.dose_mg == 150 and version.strength_mg == 100
    assert "150 mg (1.5 × 100 mg troche), sublingual" in words
    assert "Induction from" in words and "Maintenance from" in words
    # Session record in the monitoring-form layout: blood pressures and who was the sitter.
    assert "BP +40 min" in words and "mmHg" in words
    assert demo["caregiver@demo.test"].display_name in words
    # Ledger: a count with what was expected, what was counted and the difference.
    count = next(e for e in records.ledger if e.kind == "count")
    assert f"{count.count.normalize():f}" in words
    assert "Count" in words and "Difference" in words
    # Adherence: the numbers are the schedule's, not a guess.
    summary = pdf.adherence(records, NOW)
    assert summary.taken > 0
    assert f"Taken {summary.taken}" in words
    assert f"Missed {summary.missed}" in words


def test_adherence_counts_sessions_taken_and_missed(db):
    # Twice-weekly sessions (Mon and Thu, 10:00) from Monday 2 November; doses on the first
    # three; generated on the Friday of the second week: 4 sessions have come, one was missed.
    prescriber, patient, version = factories.patient_with_protocol(
        db, now=datetime(2026, 10, 30, tzinfo=UTC), starts_on="2026-11-02",
        induction={"cadence": "weekdays", "weekdays": [0, 3], "at": "10:00"}, maintenance=None)
    for day in (2, 5, 9):
        factories_dose(db, patient, version, datetime(2026, 11, day, 15, 5, tzinfo=UTC))
    records = gather(db, patient, date(2026, 11, 1), date(2026, 11, 14))
    generated = datetime(2026, 11, 13, 18, 0, tzinfo=UTC)
    summary = pdf.adherence(records, generated)
    assert (summary.scheduled, summary.taken, summary.missed) == (4, 3, 1)
    assert summary.upcoming == 0  # Monday 16 November is outside the range
    _, text = text_of(pdf.render(records, generated_at=generated, prescriber=prescriber))
    assert "Missed 1" in flat(text)


def factories_dose(db, patient, version, taken_at):
    """A recorded dose of the prescribed amount, as the patient's log stores one."""
    dose = Dose(id=uuid.uuid4(), patient_id=patient.id, protocol_version_id=version.id,
                taken_at=taken_at, recorded_at=taken_at, received_at=taken_at,
                dose_mg=version.dose_mg, troches=version.dose_mg / version.strength_mg,
                route=str(version.route))
    db.add(dose)
    db.flush()
    return dose


def test_entered_in_error_and_corrections_are_marked(db):
    prescriber, patient, version = factories.patient_with_protocol(db)
    taken = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    wrong = factories_dose(db, patient, version, taken)
    fixed = factories_dose(db, patient, version, taken + timedelta(days=3))
    corrections.mark_entered_in_error(db, patient=patient, author=patient, dose_id=wrong.id,
                                      revision_id=uuid.uuid4(), reason="Logged twice by mistake",
                                      now=NOW)
    corrections.revise_dose(db, patient=patient, author=patient, dose_id=fixed.id,
                            revision_id=uuid.uuid4(), reason="Took half a troche",
                            changes={"dose_mg": Decimal("50")}, now=NOW)
    records = gather(db, patient, date(2026, 11, 1), date(2026, 11, 20))
    _, text = text_of(pdf.render(records, generated_at=NOW, prescriber=prescriber))
    words = flat(text)
    assert "ENTERED IN ERROR: Logged twice by mistake" in words
    assert "Took half a troche" in words
    assert "Revised" in words


def test_empty_range_still_makes_a_readable_record(db):
    _prescriber, patient, _version = factories.patient_with_protocol(db)
    records = gather(db, patient, date(2020, 1, 1), date(2020, 1, 31))
    assert records.rows() == 0
    data = pdf.render(records, generated_at=NOW, prescriber=None)
    _reader, text = text_of(data)
    assert data.startswith(b"%PDF-")
    assert patient.display_name in text
    assert "No doses in this range." in text
    assert "No PHQ-9 or GAD-7 in this range." in text
    assert "No safety events in this range." in text
    assert "Page 1 of" in text


def test_non_latin_name_renders_and_nothing_is_silently_dropped(db):
    prescriber, patient, _version = factories.patient_with_protocol(db)
    patient.display_name = "Zoë Ñúñez 王"
    prescriber.display_name = "Dr Łukasz Ødegård"
    records = gather(db, patient, date(2026, 11, 1), date(2026, 11, 20))
    _, text = text_of(pdf.render(records, generated_at=NOW, prescriber=prescriber))
    assert "Zoë Ñúñez" in text
    assert "Dr Łukasz Ødegård" in text
    # DejaVu Sans has no CJK glyphs: the character is printed as its code point, not lost.
    assert "[U+738B]" in text


def test_metadata_names_the_document_and_no_email(db, demo):
    patient = demo["patient@demo.test"]
    records = gather(db, patient, START, END)
    data = pdf.render(records, generated_at=NOW, prescriber=demo["prescriber@demo.test"])
    reader, text = text_of(data)
    meta = {k: str(v) for k, v in (reader.metadata or {}).items()}
    assert meta.get("/Title") == "TrocheLog patient record"
    for value in meta.values():
        assert "@" not in value
        assert patient.display_name not in value
    assert patient.email not in text
    assert patient.email.encode() not in data


def test_a_late_evening_session_keeps_its_entries_after_midnight(db):
    """The range ends at the patient's midnight; a dose taken late on its last day still shows
    its whole session, the end-of-session entry written after midnight included (as the
    timeline and History show it)."""
    prescriber, patient, version = factories.patient_with_protocol(db)
    zone = ZoneInfo(patient.timezone)
    taken = datetime(2026, 11, 10, 23, 15, tzinfo=zone)
    dose = factories_dose(db, patient, version, taken.astimezone(UTC))
    ended = (taken + timedelta(hours=2)).astimezone(UTC)  # 01:15 on 11 November
    db.add(CheckIn(id=uuid.uuid4(), patient_id=patient.id, author_id=patient.id,
                   dose_id=dose.id, slot="end", recorded_at=ended, received_at=ended,
                   values={"dissociation": 4, "sedation": 1, "ready_alone": True}, flags=[]))
    db.flush()
    records = gather(db, patient, date(2026, 11, 1), date(2026, 11, 10))
    assert records.checkins == []  # the range's own rows stop at midnight …
    [card] = pdf.session_records(records)  # … the session's card does not
    assert card.ready_alone_at == ended and card.peak_dissociation == 4
    _, text = text_of(pdf.render(records, generated_at=NOW, prescriber=prescriber))
    assert "No sessions in this range." not in flat(text)


def test_safety_events_read_as_on_the_patients_page(db):
    """The PDF words each safety event with the patient page's one wording
    (templating.safety_event_words): an offline disagreement says what each side said."""
    from app.checkins.models import SafetyEvent
    from app.templating import safety_event_words

    _prescriber, patient, _version = factories.patient_with_protocol(
        db, now=NOW - timedelta(days=20))
    details = {"offline": "ok", "server": "hold"}
    db.add(SafetyEvent(patient_id=patient.id, kind="offline_gate_disagreed", level="info",
                       details=details, occurred_at=NOW - timedelta(days=2),
                       source_id=uuid.uuid4()))
    db.flush()
    records = gather(db, patient, START, END)
    _reader, text = text_of(pdf.render(records, generated_at=NOW, prescriber=None))
    words = safety_event_words("offline_gate_disagreed", "info", details)
    assert "said OK; the server said Hold" in words
    assert words in flat(text)


def test_a_weekly_average_is_given_only_over_two_weeks_or_more(db):
    """One dose exported for one day read "7 doses a week on average" for a patient on weekly
    maintenance (and 1 a week read "1 doses a week": now "on average 1 a week"). Under two
    weeks of treated range, the PDF gives the count and the mg only."""
    prescriber, patient, version = factories.patient_with_protocol(
        db, now=datetime(2026, 10, 30, tzinfo=UTC), starts_on="2026-11-02",
        induction={"cadence": "weekdays", "weekdays": [0, 3], "at": "10:00"}, maintenance=None)
    for day in (2, 5, 9, 12):
        factories_dose(db, patient, version, datetime(2026, 11, day, 15, 5, tzinfo=UTC))
    generated = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)

    def doses_line(start: date, end: date) -> str:
        _, text = text_of(pdf.render(gather(db, patient, start, end), generated_at=generated,
                                     prescriber=prescriber))
        return re.search(r"Doses recorded [^\n]*?\)", flat(text)).group(0)

    assert doses_line(date(2026, 11, 9), date(2026, 11, 9)) == \
        "Doses recorded 1 (100 mg in all)"
    assert doses_line(date(2026, 11, 2), date(2026, 11, 15)) == \
        "Doses recorded 4 (400 mg in all; on average 2 a week)"


def test_a_count_the_record_changed_since_gives_both_expectations(db):
    """A dose marked entered in error after a count: the PDF's row went from "taken since last
    3, expected 8.5, counted 7.5, -1" to "taken since last 1.5" beside the same -1, a row that
    no longer adds up, and the shortfall the record now shows appeared nowhere."""
    from app.doses import ledger
    from app.doses import service as doses

    prescriber, patient, _version = factories.patient_with_protocol(db, timezone="UTC")
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.date()
    ledger.record_fill(db, patient=patient, entry_id=uuid.uuid4(), now=now,
                       data={"filled_on": (today - timedelta(days=6)).isoformat(), "count": 10,
                             "strength_mg": "100"})
    struck = None
    for days in (5, 3):
        dose = doses.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now,
                                 data={"taken_at": (now - timedelta(days=days)).isoformat(),
                                       "dose_mg": "100", "route": "sublingual",
                                       "no_gate_reason": "Checked on paper."}, now=now)
        struck = struck or dose
    ledger.record_count(db, patient=patient, entry_id=uuid.uuid4(), now=now,
                        data={"counted_at": (now - timedelta(days=1)).isoformat(), "count": 8})
    db.commit()

    def count_row() -> str:
        _, text = text_of(pdf.render(gather(db, patient, today - timedelta(days=7), today),
                                     generated_at=now, prescriber=prescriber))
        text = flat(text)
        return text[text.index("Troche ledger reconciliation"):]

    before = count_row()
    assert "By the record as it stands now" not in before
    corrections.mark_entered_in_error(db, patient=patient, author=patient, dose_id=struck.id,
                                      revision_id=uuid.uuid4(), reason="Logged twice.", now=now)
    db.commit()
    after = count_row()
    assert ("By the record as it stands now (entries recorded, corrected or marked entered in "
            "error since the count): 9 expected, difference -1.") in after


def test_a_session_record_says_when_its_dose_went_against_a_hold(db):
    """The session record of a dose taken against a hold, or through an override, looked like
    any other: its title now says which."""
    prescriber, patient, _version = factories.patient_with_protocol(db)
    now = datetime.now(UTC)
    factories.dose_then_one_against_a_hold(db, patient, now)
    db.commit()
    today = now.astimezone(ZoneInfo(patient.timezone)).date()
    records = gather(db, patient, today - timedelta(days=1), today)
    _reader, text = text_of(pdf.render(records, generated_at=now, prescriber=prescriber))
    sessions = flat(text[text.index("Session records"):])
    titles = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d [A-Z]{3,4} — 100 mg [a-z ]+?(?: — [A-Za-z ]+)?"
                        r"(?= BP before)", sessions)
    assert len(titles) == 2, sessions[:600]
    assert not titles[0].endswith("hold") and titles[1].endswith(" — Taken against a hold")


def test_a_session_record_says_its_dose_was_taken_through_an_override(db, demo):
    patient, prescriber = demo["patient@demo.test"], demo["prescriber@demo.test"]
    records = gather(db, patient, START, END)
    _reader, text = text_of(pdf.render(records, generated_at=NOW, prescriber=prescriber))
    assert "— Dose taken through an override" in flat(text[text.index("Session records"):])
