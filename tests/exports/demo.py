"""The demo clinic the export tests read, seeded at tests/test_seed.py's fixed clock so golden
files stay the same from day to day."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from app.exports import records
from tests.test_seed import NOW

GENERATED = NOW + timedelta(minutes=5)  # when the export says it was made


def gathered(db, patient, days: int = 14) -> records.PatientRecords:
    """The patient's last `days` days before NOW, as every export gathers them."""
    end = NOW.astimezone(ZoneInfo(patient.timezone)).date()
    return records.gather(db, patient, end - timedelta(days=days - 1), end)
