"""Exports: a one-patient-year PDF, and the panel CSV of 1,000 patient-years streamed in
constant memory (peak memory measured for panels of 50 and of 1,000 patients: it should not
grow with the panel).

    make bench                      # SQLite in a temporary file
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test make bench
    BENCH_PATIENTS=200 .venv/bin/python -m bench.exports   # a smaller panel

The year is synthetic and inserted in bulk (a believable mix: twice-weekly then weekly doses,
each with its safety check and session check-ins, daily mood, PHQ-9 and GAD-7 every two
weeks, monthly fills and counts), in this process on a fresh, migrated database of its own
(bench/server.py). Time is measured without tracemalloc (it slows Python down), peak memory in
a second pass with it. Writes its section of docs/benchmarks.md (not with BENCH_RECORD=0).
Numbers, never assertions.
"""

import os
import platform
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta

from bench.server import database_for_this_process

PATIENTS = int(os.environ.get("BENCH_PATIENTS", "1000"))
SMALL = min(50, PATIENTS)

_database = database_for_this_process()  # before app.db reads DATABASE_URL
os.environ["APP_ENV"] = "test"
os.environ["REMINDERS_DISPATCHER"] = "off"
os.environ.setdefault("SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")

from sqlmodel import Session, select  # noqa: E402

from app.accounts.models import Role, User  # noqa: E402
from app.audit import service as audit_log  # noqa: E402
from app.audit.models import AuditEvent  # noqa: E402
from app.cli import migrate  # noqa: E402
from app.db import engine  # noqa: E402
from app.exports import panel, records  # noqa: E402
from app.exports.service import ExportRequest  # noqa: E402
from bench import dataset, report  # noqa: E402

START = date(2025, 12, 1)
END = START + timedelta(days=364)


def _seed() -> tuple[uuid.UUID, int]:
    """The clinic of bench/dataset.py with PATIENTS patients and a fixed year, in bulk. Returns
    the director's id (every patient's prescriber) and the number of clinical records."""
    clinic = dataset.seed(engine, PATIENTS, start=START,
                          now=datetime.combine(END + timedelta(days=1), datetime.min.time(), UTC))
    return clinic.director_id, clinic.clinical_rows


def _panel(patients: list[User], request: ExportRequest, audit_id) -> tuple[int, float]:
    started = time.perf_counter()
    size = sum(len(chunk) for chunk in panel.panel_zip(
        engine, patients, request, generated_at=datetime.now(UTC), audit_id=audit_id))
    return size, time.perf_counter() - started


def _peak(fn) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> int:
    try:
        migrate()
        started = time.perf_counter()
        prescriber_id, inserted = _seed()
        seeded = time.perf_counter() - started
        with Session(engine, expire_on_commit=False) as session:
            patients = list(session.exec(
                select(User).where(User.role == Role.PATIENT,
                                   User.email != dataset.TEMPLATE_EMAIL)
                .order_by(User.display_name)).all())
            # Through the audit log (its hash chain numbers and seals the entry), as the app does.
            audit = audit_log.record(session, action="export", actor_id=prescriber_id)
            session.commit()
            session.expunge_all()
        request = ExportRequest("csv", START, END)
        size, elapsed = _panel(patients, request, audit.id)
        (small_size, _), small_peak = _peak(lambda: _panel(patients[:SMALL], request, audit.id))
        (_, _), big_peak = _peak(lambda: _panel(patients, request, audit.id))
        with Session(engine) as session:
            # The trail is append-only: a run's row count is its "export.finished" entry (the
            # first: the whole panel, timed above).
            rows = session.exec(select(AuditEvent.details)
                                .where(AuditEvent.action == "export.finished")
                                .order_by(AuditEvent.seq)).first()["rows"]

        pdf_line = "- One-patient-year PDF: skipped (app/exports/pdf.py is not there yet)"
        try:
            from app.exports import pdf
        except ModuleNotFoundError:
            pdf = None
        if pdf is not None:
            with Session(engine) as session:
                patient = session.get(User, patients[0].id)
                prescriber = session.get(User, prescriber_id)

                def year_pdf():
                    found = records.gather(session, patient, START, END)
                    return found, pdf.render(found, generated_at=datetime.now(UTC),
                                             prescriber=prescriber)

                began = time.perf_counter()
                found, document = year_pdf()
                pdf_time = time.perf_counter() - began
                (_, _), pdf_peak = _peak(year_pdf)
            pdf_line = (f"- One-patient-year PDF ({len(found.doses)} doses, "
                        f"{len(found.checkins)} check-ins, {len(found.questionnaires)} "
                        f"questionnaires): **{pdf_time:.2f} s**, {len(document) / 1e3:,.0f} kB, "
                        f"peak Python memory {pdf_peak / 1e6:,.1f} MB")
    finally:
        engine.dispose()
        _database.close()

    lines = [
        f"- Database: {engine.dialect.name}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        f"- Synthetic data: {PATIENTS:,} patients × 1 year = {inserted:,} records, inserted "
        f"in {seeded:.1f} s",
        f"- Panel CSV of {PATIENTS:,} patient-years ({rows:,} records, a "
        f"{size / 1e6:,.1f} MB zip): **{elapsed:.1f} s** = "
        f"{PATIENTS / elapsed:,.0f} patient-years/s",
        f"- Peak Python memory while streaming (tracemalloc): {SMALL} patients "
        f"{small_peak / 1e6:,.1f} MB ({small_size / 1e6:,.1f} MB zip); {PATIENTS:,} patients "
        f"**{big_peak / 1e6:,.1f} MB**",
        pdf_line,
    ]
    print("\n".join(lines))
    _record(engine.dialect.name, lines)
    return 0


def _record(database: str, lines: list[str]) -> None:
    report.record(f"exports:{database}", f"Exports on {database}", lines)


if __name__ == "__main__":
    sys.exit(main())
