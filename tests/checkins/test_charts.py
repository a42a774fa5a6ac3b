"""Trend charts: the SVG geometry, the trends built from a history, and the pages (accessible
SVG with a text summary and a data table) for the patient and their prescriber."""

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.checkins import service, trends
from app.checkins.charts import (
    HEIGHT,
    PAD_BOTTOM,
    PAD_LEFT,
    PAD_RIGHT,
    PAD_TOP,
    WIDTH,
    range_start,
    time_chart,
)
from app.db import utcnow
from app.doses import service as doses
from app.seed import DEMO_PASSWORD
from tests import factories
from tests.conftest import Auth
from tests.helpers import another_client

NY = ZoneInfo("America/New_York")
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 11, tzinfo=UTC)  # ten days
BOTTOM, TOP = HEIGHT - PAD_BOTTOM, PAD_TOP
LEFT, RIGHT = PAD_LEFT, WIDTH - PAD_RIGHT


def chart(series, **kwargs):
    args = {"key": "mood", "title": "Mood", "unit": "", "start": START, "end": END, "tz": UTC,
            "y_min": 0, "y_max": 10, "y_step": 2, "series": series, "summary": "Summary."}
    return time_chart(**(args | kwargs))


# --- geometry -----------------------------------------------------------------------------------


def test_y_min_is_the_bottom_and_y_max_the_top():
    (s,) = chart([("mood", "Mood", [(START, 0), (START + timedelta(days=5), 5), (END, 10)])]
                 ).series
    assert [p.y for p in s.points] == [BOTTOM, pytest.approx((BOTTOM + TOP) / 2), TOP]
    assert [p.x for p in s.points] == [LEFT, pytest.approx((LEFT + RIGHT) / 2), RIGHT]


def test_values_outside_the_axis_are_clamped_to_the_plot():
    (s,) = chart([("bp", "BP", [(START, 60), (END, 230)])], y_min=80, y_max=200).series
    assert [p.y for p in s.points] == [BOTTOM, TOP]
    assert [p.value for p in s.points] == [60, 230]  # the table keeps the real numbers


def test_points_outside_the_range_are_dropped_and_the_rest_sorted():
    data = [(END - timedelta(days=1), 8), (START - timedelta(seconds=1), 1),
            (START + timedelta(days=1), 3), (END + timedelta(seconds=1), 9)]
    c = chart([("mood", "Mood", data)])
    (s,) = c.series
    assert [p.value for p in s.points] == [3, 8]
    assert [p.when for p in s.points] == [START + timedelta(days=1), END - timedelta(days=1)]
    assert s.path == " ".join(f"{p.x:.1f},{p.y:.1f}" for p in s.points)
    assert c.rows == (("Jan 2, 12:00 AM", "3"), ("Jan 10, 12:00 AM", "8"))  # one year: none shown


def test_rows_merge_series_by_time_in_the_patients_zone():
    at = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    c = chart([("before", "Before", [(at, 130), (at + timedelta(days=1), 128)]),
               ("after", "After", [(at, 145.5)])], tz=NY, y_min=80, y_max=200, y_step=20)
    assert c.columns == ("Before", "After")
    # In New York the range starts on Dec 31, 2025: two years, so the rows say which.
    assert c.rows == (("Jan 5, 2026, 10:00 AM", "130", "145.5"),
                      ("Jan 6, 2026, 10:00 AM", "128", ""))


def test_ticks_bands_and_markers():
    c = chart([("phq9", "Total", [(START, 12)])], y_max=27, y_step=5,
              bands=[(0, 5, "minimal", "Minimal"), (20, 27, "severe", "Severe")],
              markers=[START + timedelta(days=2), END + timedelta(days=1)])
    assert [label for _y, label in c.y_ticks] == ["0", "5", "10", "15", "20", "25"]
    assert c.y_ticks[0][0] == BOTTOM
    assert c.x_ticks[0] == (LEFT, "Jan 1") and c.x_ticks[-1] == (RIGHT, "Jan 11")
    minimal, severe = c.bands
    assert minimal.y + minimal.height == pytest.approx(BOTTOM)
    assert severe.y == pytest.approx(TOP)
    assert c.markers == (pytest.approx(LEFT + (RIGHT - LEFT) * 0.2),)  # the outside one dropped


def test_an_empty_chart_says_so():
    assert chart([("mood", "Mood", [])]).empty
    assert chart([("mood", "Mood", [(START - timedelta(days=1), 5)])]).empty
    assert not chart([("mood", "Mood", [(START, 5)])]).empty


def test_range_start():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert range_start("4w", now, None) == now - timedelta(weeks=4)
    assert range_start("3m", now, None) == now - timedelta(days=91)
    first = now - timedelta(days=200)
    assert range_start("all", now, first) == first
    # "All" for someone who started yesterday still shows a week.
    assert range_start("all", now, now - timedelta(days=1)) == now - timedelta(days=7)


# --- trends built from a history ------------------------------------------------------------


def test_all_includes_a_baseline_questionnaire_from_before_the_first_dose(db):
    # The PHQ-9 before treatment is the baseline every later score is compared with.
    now = datetime(2026, 1, 30, 15, 0, tzinfo=UTC)
    _, patient, _ = factories.patient_with_protocol(db, now=now - timedelta(days=40))
    baseline_at = now - timedelta(days=25)
    service.record_questionnaire(db, patient=patient, response_id=uuid.uuid4(),
                                 completed_at=baseline_at,
                                 # 18 with item 9 at 0 (above 0 would hold the dose below
                                 # until a screener followed it).
                                 data={"instrument": "phq9",
                                       "answers": [3, 3, 2, 2, 2, 2, 2, 2, 0]},
                                 now=baseline_at)
    taken = now - timedelta(days=18)
    doses.record_dose(db, patient=patient, dose_id=uuid.uuid4(), recorded_at=taken,
                      data={"taken_at": taken.isoformat(), "dose_mg": "100",
                            "route": "sublingual", "no_gate_reason": "Logged later."}, now=taken)
    for key in ("3m", "all"):
        phq9 = next(c for c in trends.build(db, patient, key, now) if c.key == "phq9")
        assert [p.value for p in phq9.series[0].points] == [18], key
        assert "Latest: 18, moderately severe." in phq9.summary


def test_the_difficulty_answer_is_not_charted_as_part_of_the_score(db):
    now = datetime(2026, 1, 30, 15, 0, tzinfo=UTC)
    _, patient, _ = factories.patient_with_protocol(db, now=now - timedelta(days=40))
    for days, instrument, answers in [(9, "phq9", [1] * 9 + ["extremely_difficult"]),
                                      (8, "gad7", [3] * 7 + ["very_difficult"]),
                                      (2, "gad7", [1] * 7 + [None])]:
        at = now - timedelta(days=days)
        service.record_questionnaire(db, patient=patient, response_id=uuid.uuid4(),
                                     completed_at=at,
                                     data={"instrument": instrument, "answers": answers},
                                     now=at)
    charts = {c.key: c for c in trends.build(db, patient, "4w", now)}
    assert [p.value for p in charts["phq9"].series[0].points] == [9]
    assert [p.value for p in charts["gad7"].series[0].points] == [21, 7]


def test_the_demo_trends_show_improvement(db, demo):
    patient = demo["patient@demo.test"]
    charts = {c.key: c for c in trends.build(db, patient, "3m", utcnow())}
    assert list(charts) == ["mood", "phq9", "gad7", "bp", "dose"]
    phq9 = charts["phq9"]
    assert [p.value for p in phq9.series[0].points] == [19, 17, 16, 13, 11, 9]
    assert "From 19 to 9 (down)" in phq9.summary and "Latest: 9, mild." in phq9.summary
    assert [b.key for b in phq9.bands] == ["minimal", "mild", "moderate", "moderately_severe",
                                          "severe"]
    assert [p.value for p in charts["gad7"].series[0].points] == [14, 13, 11, 10, 8, 6]
    assert charts["mood"].markers  # dose days
    assert len(charts["mood"].markers) == len(charts["dose"].series[0].points)
    bp = {s.key: s for s in charts["bp"].series}
    assert set(bp) == {"before", "before-low", "after", "after-low"}
    # Diastolic beside systolic, reading for reading.
    assert all(low.value < high.value for high, low in
               zip(bp["before"].points, bp["before-low"].points, strict=True))
    assert bp["after-low"].points and "Diastolic before dosing" in charts["bp"].summary
    assert all(not c.empty for c in charts.values())


@pytest.mark.parametrize("range_key", ["", "4w", "3m", "all"])
def test_the_patients_trends_page(client, auth, demo, range_key):
    assert auth.login("patient@demo.test", DEMO_PASSWORD).status_code == 303
    url = f"/trends?range={range_key}" if range_key else "/trends"
    response = client.get(url)
    assert response.status_code == 200
    page = response.text
    figures = re.findall(r'<figure class="chart chart-(\w+)".*?</figure>', page, re.S)
    assert figures == ["mood", "phq9", "gad7", "bp", "dose"]
    for block in re.findall(r"<figure.*?</figure>", page, re.S):
        key = re.search(r"chart-(\w+)", block).group(1)
        assert re.search(r'<svg [^>]*role="img"', block), key
        labelled = re.search(r'<svg [^>]*aria-labelledby="([^"]+)"', block).group(1).split()
        for ref in labelled:  # each label the SVG points at exists, with words in it
            assert re.search(rf'id="{ref}">[^<]+<', block), (key, ref)
        summary = re.search(rf'id="chart-{key}-summary">([^<]+)<', block).group(1)
        assert "entries" in summary or "entry" in summary, (key, summary)
        assert "<details>" in block and "<table" in block
        assert '<th scope="col">Date</th>' in block
        assert block.count('<th scope="row">') >= 1
    current = range_key or "4w"
    assert re.search(rf'href="/trends\?range={current}"[^>]*aria-current="true"', page)


def test_the_summary_and_table_match_the_data(client, auth, demo):
    auth.login("patient@demo.test", DEMO_PASSWORD)
    page = html.unescape(client.get("/trends?range=all").text)
    assert "6 entries. From 19 to 9 (down); average 14.2. Latest: 9, mild." in page
    phq9 = re.search(r'<figure class="chart chart-phq9".*?</figure>', page, re.S).group(0)
    cells = re.findall(r"<td>([^<]*)</td>", phq9)
    assert cells == ["19", "17", "16", "13", "11", "9"]


def test_the_prescriber_sees_their_patients_trends_and_no_one_elses(client, auth, db, demo):
    patient = demo["patient@demo.test"]
    assert auth.login("prescriber@demo.test", DEMO_PASSWORD).status_code == 303
    response = client.get(f"/patients/{patient.id}/trends?range=3m")
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert "Trends for Jordan Reyes" in page
    assert page.count('role="img"') == 5
    assert f'href="/patients/{patient.id}/trends?range=all"' in page

    other_prescriber = factories.user(db, role="prescriber")
    db.commit()
    with another_client() as laptop:
        assert Auth(laptop).login(other_prescriber.email).status_code == 303
        assert laptop.get(f"/patients/{patient.id}/trends").status_code == 404
        assert laptop.get(f"/patients/{uuid.uuid4()}/trends").status_code == 404


def test_a_patient_cannot_open_the_prescriber_trends_url(client, auth, demo):
    auth.login("patient2@demo.test", DEMO_PASSWORD)
    patient = demo["patient@demo.test"]
    assert client.get(f"/patients/{patient.id}/trends").status_code in (403, 404)


def test_a_new_patient_sees_empty_charts_without_svg(client, login_as):
    login_as("patient")
    page = client.get("/trends").text
    assert page.count("No entries in this period.") >= 5
    assert 'role="img"' not in page
