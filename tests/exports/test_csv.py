"""The CSV export: documented columns, times in UTC and local time, codes beside labels, the
demo data against golden files, and the streamed panel zip.

Golden files: tests/exports/golden/csv_*.csv (and csv_README.txt) hold the demo patient's last
14 days, UUIDs replaced by placeholders in order of appearance. After an intended change,
regenerate them with
    UPDATE_GOLDEN=1 .venv/bin/pytest -q tests/exports/test_csv.py
and read the diff before keeping it.
"""

import csv
import io
import os
import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from app.exports import csv_export, panel, records
from app.exports.service import ExportRequest
from tests.exports.demo import GENERATED, NOW, gathered

GOLDEN = Path(__file__).parent / "golden"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def unzip(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def table(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff"), "no byte-order mark: spreadsheets would garble accents"
    return list(csv.DictReader(io.StringIO(text[1:])))


def normalised(files: dict[str, str]) -> dict[str, str]:
    """Each UUID → a stable placeholder, in order of appearance across the files."""
    seen: dict[str, str] = {}

    def placeholder(match: re.Match) -> str:
        return seen.setdefault(match.group(0), f"<uuid-{len(seen) + 1}>")

    return {name: UUID.sub(placeholder, files[name]) for name in files}


def test_the_demo_patients_fortnight_matches_the_golden_files(db, demo):
    found = gathered(db, demo["patient@demo.test"])
    files = normalised(unzip(csv_export.patient_zip(found, generated_at=GENERATED)))
    assert list(files) == ["README.txt", *csv_export.FILES]
    update = os.environ.get("UPDATE_GOLDEN") == "1"
    for name, text in files.items():
        golden = GOLDEN / f"csv_{name}"
        if update:
            golden.write_bytes(text.encode())
        assert golden.read_bytes().decode() == text, name


def test_every_column_is_documented_and_every_file_has_its_columns(db, demo):
    found = gathered(db, demo["patient@demo.test"], days=60)
    files = unzip(csv_export.patient_zip(found, generated_at=GENERATED))
    for name, columns in csv_export.COLUMNS.items():
        header = next(csv.reader(io.StringIO(files[name][1:])))
        assert header == list(columns), name
        assert all(text.strip() for text in columns.values()), name
        for column in columns:
            assert f"  {column}: " in files["README.txt"], (name, column)
    # Sixty days of the demo: something in every file.
    assert all(table(files[name]) for name in csv_export.FILES if name != "ledger.csv")


def test_the_prescribers_reviews_of_list_flags_are_exported(db, demo):
    """The PDF listed the list flags' reviews; the CSV had no place for them, so a study or a
    transfer from the CSV lost who saw a blood-pressure hold and what they decided."""
    patient = demo["patient@demo.test"]
    found = gathered(db, patient, days=60)
    [review] = found.flag_reviews
    rows = table(unzip(csv_export.patient_zip(found, generated_at=GENERATED))[
        "flag_reviews.csv"])
    assert rows == [{
        "patient_id": str(patient.id), "timezone": patient.timezone,
        "review_id": str(review.id), "code": "bp_hold", "code_label": "Blood pressure hold",
        "key": review.key,
        "reviewed_at_utc": review.reviewed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reviewed_at_local": review.reviewed_at.astimezone(
            ZoneInfo(patient.timezone)).isoformat(),
        "reviewed_by_id": str(demo["prescriber@demo.test"].id),
        "reviewed_by_name": demo["prescriber@demo.test"].display_name,
        "note": "Alex rechecked at 132/84 after a rest and Jordan went ahead; no change to the "
                "hold level."}]
    # The key names the check that held.
    assert any(str(g.id) == review.key and g.verdict == "hold" for g in found.gates)


def test_alerts_and_who_acknowledged_them_are_exported(db, demo):
    """The pages showed who acknowledged an alert and what they wrote; no export did, and
    safety_events.csv had an acknowledged_at no one ever set."""
    patient = demo["patient@demo.test"]
    found = gathered(db, patient, days=60)
    files = unzip(csv_export.patient_zip(found, generated_at=GENERATED))
    rows = table(files["alerts.csv"])
    answered, still_open = rows  # his two blood-pressure holds, oldest first
    assert answered["kind"] == still_open["kind"] == "bp_hold"
    assert answered["kind_label"] == "Blood pressure hold before a dose"
    assert answered["acknowledged_by_id"] == str(demo["caregiver@demo.test"].id)
    assert answered["acknowledged_by_name"] == "Alex Reyes"
    assert answered["acknowledgement_note"] == (
        "Called Jordan: rested, rechecked at 132/84 and went ahead.")
    assert answered["notified_count"] == "1"
    assert answered["acknowledged_at_utc"] > answered["raised_at_utc"]
    assert answered["acknowledged_at_local"].endswith(("-05:00", "-04:00"))
    assert still_open["acknowledged_at_utc"] == still_open["acknowledged_by_name"] == ""
    # Each names the safety check that held.
    held = {str(g.id) for g in found.gates if g.verdict == "hold"}
    assert {answered["source_id"], still_open["source_id"]} <= held
    assert "acknowledged_at_utc" not in table(files["safety_events.csv"])[0]

    # A prescriber's acknowledgement of a screen, in Sam's.
    sam = gathered(db, demo["patient2@demo.test"], days=60)
    [row] = table(unzip(csv_export.patient_zip(sam, generated_at=GENERATED))["alerts.csv"])
    [event] = [e for e in sam.safety_events if str(e.id) == row["source_id"]]
    assert (row["kind"], event.kind) == ("cssrs_high", "positive_screen")
    assert row["acknowledged_by_name"] == "Dr. Amara Okafor"


def test_times_are_in_utc_and_the_patients_local_time_with_codes_beside_labels(db, demo):
    patient = demo["patient@demo.test"]
    found = gathered(db, patient, days=60)
    files = unzip(csv_export.patient_zip(found, generated_at=GENERATED))
    doses = table(files["doses.csv"])
    assert len(doses) == len(found.doses)
    first = min(found.doses, key=lambda d: d.taken_at)
    row = doses[0]
    assert row["dose_id"] == str(first.id)
    assert row["taken_at_utc"] == first.taken_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    local = datetime.fromisoformat(row["taken_at_local"])
    assert local == first.taken_at  # the same instant …
    assert local.utcoffset() == first.taken_at.astimezone(ZoneInfo(patient.timezone)).utcoffset()
    assert row["timezone"] == "America/New_York"
    assert (row["route"], row["route_label"]) == ("sublingual", "Sublingual")
    gates = table(files["gates.csv"])
    assert {g["verdict"] for g in gates} <= {"ok", "hold", "emergency"}
    held = [g for g in gates if g["verdict"] == "hold"]
    assert held and all(g["verdict_label"] == "Hold" and g["reason_codes"]
                        and g["reason_messages"] for g in held)
    phq = [q for q in table(files["questionnaires.csv"]) if q["instrument"] == "phq9"]
    assert phq and all(q["score_loinc"] == "44261-6" and q["band"] and q["band_label"]
                       for q in phq)
    checkins = table(files["checkins.csv"])
    sitter = [c for c in checkins if c["author_is_patient"] == "no"]
    assert sitter and all(c["author_name"] == "Alex Reyes" for c in sitter)


def test_the_corrected_dose_shows_each_changed_field(db, demo):
    found = gathered(db, demo["patient@demo.test"], days=60)
    files = unzip(csv_export.patient_zip(found, generated_at=GENERATED))
    revisions = table(files["dose_revisions.csv"])
    assert revisions, "the demo has a corrected dose"
    changed = {r["field"]: (r["before"], r["after"]) for r in revisions}
    # The amounts as doses.csv writes them: the stored "150.00" beside a typed "100" mixed two
    # formats in one column.
    assert changed["dose_mg"] == ("150", "100")
    assert all(r["reason"] and r["revised_at_utc"].endswith("Z") for r in revisions)


def test_text_that_a_spreadsheet_would_run_is_defused(db, demo):
    found = gathered(db, demo["patient@demo.test"], days=60)
    found.doses[0].override_reason = "=HYPERLINK(\"http://evil.test\")"
    files = unzip(csv_export.patient_zip(found, generated_at=GENERATED))
    reasons = [r["override_reason"] for r in table(files["doses.csv"])]
    assert "'=HYPERLINK(\"http://evil.test\")" in reasons
    db.rollback()


def test_the_panel_holds_every_patients_rows_as_their_own_exports_do(db, demo):
    """The streamed panel reads type by type in chunks; its rows must be what gather() finds
    for each patient, with the same columns."""
    from app.db import engine

    patients = [demo["patient@demo.test"], demo["patient2@demo.test"]]
    db.commit()
    end = date(2026, 11, 24)
    request = ExportRequest("csv", end - timedelta(days=59), end)
    alone = {}
    for patient in patients:
        found = records.gather(db, patient, request.start, request.end)
        alone[patient.id] = unzip(csv_export.patient_zip(found, generated_at=GENERATED))
    from sqlmodel import select

    from app.audit import service as audit
    from app.audit.models import AuditEvent

    event = audit.record(db, action="export", actor=demo["prescriber@demo.test"], now=NOW,
                         details={"rows": None})
    db.commit()
    old_chunk, panel.CHUNK = panel.CHUNK, 1  # two chunks: the chunking itself is exercised
    try:
        content = b"".join(panel.panel_zip(engine, patients, request, generated_at=GENERATED,
                                           audit_id=event.id))
    finally:
        panel.CHUNK = old_chunk
    files = unzip(content)
    for name in csv_export.FILES:
        rows = table(files[name])
        expected = [row for p in patients for row in table(alone[p.id][name])]
        assert rows == expected, name
    assert sum(len(table(files[n])) for n in csv_export.FILES) > 50
    db.expire_all()
    # The trail is append-only: the row count arrives as a second entry naming the first.
    [finished] = db.exec(select(AuditEvent).where(AuditEvent.action == "export.finished")).all()
    assert finished.details["export"] == str(event.id)
    assert finished.details["complete"] is True
    assert finished.details["rows"] == sum(
        len(table(files[n])) for n in csv_export.FILES
        if n not in ("dose_revisions.csv", "patients.csv", "flag_reviews.csv", "alerts.csv"))
    # Whose rows they are: each patient once, by name, beside the id every other file carries.
    assert table(files["patients.csv"]) == [
        {"patient_id": str(p.id), "timezone": p.timezone, "name": p.display_name}
        for p in patients]
