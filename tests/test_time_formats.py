"""Issue 12 item 9: one date and time convention per locale (English: the US phone's own, a
12-hour clock and month before day), used by pages, messages, chart tables and picker hints."""

from datetime import UTC, date, datetime, time
from types import SimpleNamespace

import pytest

from app import i18n
from app.checkins.models import CheckinSettings
from app.templating import env
from app.web import formats
from app.web.formats import FORMATS, example, format_datetime, parse_time

EVENING = datetime(2026, 12, 1, 20, 5)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("time", "8:05 PM"),
        ("datetime", "Tue Dec 1, 8:05 PM"),
        ("long_datetime", "Tuesday, December 1, 8:05 PM"),
        ("date", "Dec 1"),
        ("weekday_date", "Tue Dec 1"),
        ("date_year", "Dec 1, 2026"),
        ("datetime_year", "Dec 1, 2026, 8:05 PM"),
    ],
)
def test_english_reads_like_the_phone(name, shown):
    assert format_datetime(EVENING, name) == shown


def test_midnight_and_noon_are_twelve_not_zero():
    assert format_datetime(time(0, 0), "time") == "12:00 AM"
    assert format_datetime(time(12, 30), "time") == "12:30 PM"
    assert format_datetime(date(2026, 3, 9), "long_date_year") == "Monday, March 9, 2026"


def test_every_language_names_the_same_formats():
    names = set(FORMATS["en"])
    assert all(set(table) == names for table in FORMATS.values())


def test_picker_hints_show_the_pickers_own_form():
    assert example("time") == "For example 08:00 PM"
    assert example("date") == "For example 12/01/2026"
    assert example("datetime-local") == "For example 12/01/2026, 08:00 PM"


@pytest.mark.parametrize(("typed", "meant"), [("20:00", time(20)), ("8:00 PM", time(20)),
                                              ("8pm", time(20)), ("12:15 am", time(0, 15)),
                                              ("07:30", time(7, 30))])
def test_times_are_read_as_people_type_them(typed, meant):
    assert parse_time(typed) == meant


@pytest.mark.parametrize("typed", ["25:99", "13 PM", "soon", "", "0 AM"])
def test_nonsense_times_are_refused(typed):
    with pytest.raises(ValueError):
        parse_time(typed)


def test_a_prescriber_elsewhere_sees_the_patients_time_and_their_own():
    viewer = SimpleNamespace(timezone="Europe/London")
    shown = env.from_string("{{ at | patient_time('America/New_York') }}").render(
        at=datetime(2026, 12, 1, 15, 5, tzinfo=UTC), user=viewer)
    assert shown == "Tue Dec 1, 10:05 AM EST (3:05 PM GMT your time)"


def test_a_day_in_the_patients_zone_names_no_zone_and_the_viewers_day_only_when_another():
    viewer = SimpleNamespace(timezone="America/New_York")
    day = env.from_string("{{ at | patient_time('America/Chicago', 'date') }}")
    # 7:37 PM in New York is 6:37 PM in Chicago: the same day, shown once (it read
    # "Nov 25 CST (7:37 PM EST your time)": a day with a zone and someone else's clock).
    assert day.render(at=datetime(2026, 11, 26, 0, 37, tzinfo=UTC), user=viewer) == "Nov 25"
    # 12:30 AM in New York is still the 25th in Chicago: both days.
    assert (day.render(at=datetime(2026, 11, 26, 5, 30, tzinfo=UTC), user=viewer)
            == "Nov 25 (Nov 26 your time)")


def test_the_mood_time_accepts_the_twelve_hour_form_and_shows_the_hint(db, auth, login_as):
    patient = login_as("patient")
    page = auth.client.get("/checkins").text
    assert "For example 08:00 PM" in page  # beside the native time picker
    assert auth.post("/checkins/settings", {"mood_time": "8:30 PM"}).status_code == 303
    db.expire_all()
    assert db.get(CheckinSettings, patient.id).mood_time == time(20, 30)
    assert 'value="20:30"' in auth.client.get("/checkins").text  # the input's value stays ISO


def test_a_refused_mood_time_keeps_what_was_typed_and_saves_nothing(db, auth, login_as):
    patient = login_as("patient")
    response = auth.post("/checkins/settings", {"mood_time": "13 PM"})
    assert response.status_code == 422
    assert "Enter a time like 8:00 PM." in response.text
    assert 'value="13 PM"' in response.text
    assert db.get(CheckinSettings, patient.id) is None


def test_a_sentence_ending_in_a_spanish_time_has_one_period():
    """"p.m." ends with its own period: the sentence around it does not add a second."""
    with i18n.using("es"):
        assert formats.full_stop(formats.example("time", "es")) == "Por ejemplo 08:00 p.m."
    with i18n.using("en"):
        assert formats.full_stop(formats.example("time", "en")) == "For example 08:00 PM."
