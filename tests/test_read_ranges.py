"""`start` and `end` on the read APIs take a day (YYYY-MM-DD, the patient's own days, `end`
inclusive) as well as an instant with an offset."""

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.db import utcnow
from app.doses import service as doses
from app.errors import Invalid
from app.web.ranges import query_window
from tests import factories


def test_a_day_is_the_patients_day_and_end_is_inclusive():
    start, end = query_window(date(2026, 11, 1), date(2026, 11, 30), "America/New_York")
    tz = ZoneInfo("America/New_York")
    assert start == datetime(2026, 11, 1, tzinfo=tz)
    assert end == datetime(2026, 12, 1, tzinfo=tz)
    assert end.astimezone(UTC) == datetime(2026, 12, 1, 5, tzinfo=UTC)


def test_a_day_and_an_instant_mix():
    start, end = query_window(date(2026, 11, 1), datetime(2026, 11, 2, 12, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 11, 1, tzinfo=ZoneInfo("UTC")),
                            datetime(2026, 11, 2, 12, tzinfo=UTC))


@pytest.mark.parametrize("start,end,message", [
    (date(2026, 11, 2), date(2026, 11, 1), "start must be before end"),
    (date(2025, 1, 1), date(2026, 11, 1), "at most 400 days"),
    (date(1999, 12, 31), date(2000, 1, 2), "between 2000 and 2099"),
])
def test_a_bad_window_says_why(start, end, message):
    with pytest.raises(Invalid, match=message):
        query_window(start, end)


def test_the_doses_api_takes_days_in_the_patients_zone(db, client, login_as):
    patient = login_as("patient", timezone="America/New_York")
    factories.protocol(db, factories.user(db, role="prescriber"), patient)
    now = utcnow()
    taken_at = now - timedelta(minutes=5)
    # The day the dose was taken, not the day it is now: in the five minutes after midnight
    # in New York these differ.
    local_day = taken_at.astimezone(ZoneInfo("America/New_York")).date()
    doses.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=now, data={
        "taken_at": taken_at.isoformat(), "dose_mg": "100",
        "route": "sublingual", "no_gate_reason": "Logged later."}, now=now)
    db.commit()
    today = local_day.isoformat()
    found = client.get(f"/api/v1/doses?start={today}&end={today}")
    assert found.status_code == 200 and len(found.json()["doses"]) == 1
    yesterday = (local_day - timedelta(days=1)).isoformat()
    none = client.get(f"/api/v1/doses?start={yesterday}&end={yesterday}")
    assert none.status_code == 200 and none.json()["doses"] == []
    for path in ("/api/v1/checkins", "/api/v1/questionnaires"):
        assert client.get(f"{path}?start={yesterday}&end={today}").status_code == 200


@pytest.mark.parametrize("query", ["start=2026-11-02&end=2026-11-01", "start=2026-13-01",
                                   "start=2026-11-01T10:00:00", "start=2026-11-01T00:00:00",
                                   "end=yesterday", "start=20261101"])
def test_a_bad_day_is_a_readable_422(client, login_as, query):
    login_as("patient")
    response = client.get(f"/api/v1/doses?{query}")
    assert response.status_code == 422
    detail = response.json()["detail"]
    # One message per value, named by the query's own field: never a union member's tag such
    # as "start.function-before[_day_only(), date]" or "start.datetime".
    assert detail.split(":")[0] in ("start", "end") or "must be" in detail or "days" in detail
    assert not any(tag in detail for tag in ("function", "[", ".datetime", ".date", ";"))


def test_a_bad_day_is_said_in_the_readers_language_and_a_bad_address_names_no_parameter(
        client, login_as):
    """Lucía's `start=notadate` came back half Spanish, half English, with the validator's name;
    a page address cut short said "path.response_id: This value is not valid."."""
    login_as("patient", language="es")
    detail = client.get("/api/v1/checkins?start=notadate").json()["detail"]
    assert detail == "start: Use un día como AAAA-MM-DD, o una fecha y hora con su desfase horario."
    page = client.get("/questionnaires/result/not-a-uuid")
    assert page.status_code == 422
    assert "Esta dirección no es válida. Revise el enlace." in page.text
    assert "response_id" not in page.text and "path." not in page.text
