"""The PDF's adherence judges sessions the way every page does (schedule.occurrences_in_force):
each under the version in force when it was due, and one dose takes one session even when a
version change puts two sessions near it."""

from datetime import UTC, date, datetime

from app.exports import pdf
from app.exports.records import gather
from tests import factories
from tests.exports.test_pdf import factories_dose


def test_one_dose_takes_one_session_across_a_version_change(db):
    # Daily at 10:00 New York (15:00 UTC) from Monday 2 November. On the 4th the 10:00 dose is
    # logged at 10:30; at 11:00 a new version moves sessions to 12:00. The one dose takes the
    # 10:00 session under version 1, once; and the day, its session taken before the save, gets
    # no 12:00 one from version 2 (it read missed: a second dose asked for the same day).
    daily = {"cadence": "interval", "every_n_days": 1}
    prescriber, patient, first = factories.patient_with_protocol(
        db, now=datetime(2026, 10, 30, tzinfo=UTC), starts_on="2026-11-02",
        induction={**daily, "at": "10:00"}, maintenance=None)
    for day in (2, 3):
        factories_dose(db, patient, first, datetime(2026, 11, day, 15, 5, tzinfo=UTC))
    factories_dose(db, patient, first, datetime(2026, 11, 4, 15, 30, tzinfo=UTC))
    factories.protocol(db, prescriber, patient, now=datetime(2026, 11, 4, 16, tzinfo=UTC),
                       starts_on="2026-11-02", induction={**daily, "at": "12:00"},
                       maintenance=None, reason="Later in the day.")
    records = gather(db, patient, date(2026, 11, 1), date(2026, 11, 4))
    summary = pdf.adherence(records, datetime(2026, 11, 5, 12, tzinfo=UTC))
    assert (summary.scheduled, summary.taken, summary.missed) == (3, 3, 0)
