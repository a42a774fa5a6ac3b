"""The main menu: one function decides the current section from the address (sub-pages and
pages reloaded after a refused form included), each role's places, and the More page."""

import re

import pytest

from app.web.nav import menu, more_items, section_of


@pytest.mark.parametrize(
    ("path", "section"),
    [
        ("/today", "today"),
        ("/today/dose", "today"),  # the address after a refused dose form
        ("/today/gate", "today"),
        ("/checkins", "checkins"),
        ("/checkins/daily", "checkins"),
        ("/questionnaires/phq9", "checkins"),
        ("/questionnaires/result/abc", "checkins"),
        ("/doses", "history"),
        ("/trends", "trends"),
        ("/supply", "supply"),
        ("/supply/count", "supply"),
        ("/care-team", "care_team"),
        ("/account", "account"),
        ("/account/reminders", "account"),
        ("/supporting/123/session/plus40", "supporting"),
        ("/patients/new", "patients"),
        ("/patients/123/protocol", "patients"),
        ("/alerts", "alerts"),
        ("/more", "more"),
        ("/help", "help"),
        ("/", None),
        ("/login", None),
        ("/invite/tok", None),
        ("/todays-news", None),  # a prefix only counts at a segment boundary
        ("/supplyroom", None),
    ],
)
def test_section_of_an_address(path, section):
    assert section_of(path) == section


def _current(role, path):
    return [(i.key, i.place) for i in menu(role, path) if i.current]


def test_the_patients_bar_has_five_places_and_more_lists_the_rest():
    items = menu("patient", "/today")
    shown_on_phone = [i.label for i in items if i.place in ("bar", "more")]
    assert shown_on_phone == ["Today", "Check-ins", "History", "Trends", "More"]
    assert [i.label for i in items if i.place == "extra"] == ["Supply", "Care team", "Account"]
    assert [i.label for i in more_items("patient")] == ["Supply", "Care team", "Account", "Help"]


def test_a_sub_page_marks_its_section_and_a_place_under_more_marks_more():
    assert _current("patient", "/checkins/daily") == [("checkins", "bar")]
    assert _current("patient", "/today/dose") == [("today", "bar")]
    # On a phone More is marked; on a wide screen, Supply itself.
    assert _current("patient", "/supply/count") == [("more", "more"), ("supply", "extra")]
    assert _current("patient", "/more") == [("more", "more")]
    assert _current("patient", "/help") == [("more", "more")]
    assert _current("patient", "/") == []


@pytest.mark.parametrize(
    ("role", "bar", "more"),
    [
        ("caregiver", ["People I support", "Alerts", "More"], ["Account", "Help"]),
        ("prescriber", ["Patients", "Alerts", "More"], ["Access log", "Account", "Help"]),
    ],
)
def test_each_care_team_role_has_its_own_places(role, bar, more):
    assert [i.label for i in menu(role, "/") if i.place != "extra"] == bar
    assert [i.label for i in more_items(role)] == more
    assert _current(role, "/account/reminders") == [("more", "more"), ("account", "extra")]


def test_the_more_page_lists_the_rest_and_marks_more(client, login_as):
    login_as("patient")
    response = client.get("/more")
    assert response.status_code == 200
    main = response.text.split('<main id="main"', 1)[1]
    for href, label in [("/supply", "Supply"), ("/care-team", "Care team"),
                        ("/account", "Account"), ("/help", "Help")]:
        assert f'<a href="{href}">{label}</a>' in main
    nav = response.text.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    assert re.search(r'href="/more" aria-current="page">More<', nav)
    assert nav.count('aria-current="page"') == 1


def test_the_more_page_needs_a_sign_in(client):
    response = client.get("/more")
    assert response.status_code in (303, 307)
    assert response.headers["location"].startswith("/login")
