"""The main menu on a 390×844 phone: each role's bottom bar fits without sideways scrolling,
every place is visible at once, the current place is marked on main pages and sub-pages, More
lists the rest, and the bar never hides the end of the page. A wide screen shows every place."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 390, 844


def _menu(page: Page):
    return page.get_by_role("navigation", name="Main")


def _fits(page: Page) -> None:
    """No sideways scrolling, and every menu item is visible inside the screen."""
    assert page.evaluate("document.scrollingElement.scrollWidth") <= WIDTH
    links = _menu(page).get_by_role("link")
    assert links.count() >= 3
    for i in range(links.count()):
        link = links.nth(i)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, link.text_content()
        assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, link.text_content()


def _marked(page: Page) -> list[str]:
    current = _menu(page).locator('a[aria-current="page"]')
    return [current.nth(i).inner_text().strip() for i in range(current.count())
            if current.nth(i).is_visible()]


PATIENT_PAGES = [
    ("/today", "Today"),
    ("/checkins", "Check-ins"),
    ("/checkins/daily", "Check-ins"),
    ("/questionnaires/phq9", "Check-ins"),
    ("/doses", "History"),
    ("/trends", "Trends"),
    ("/more", "More"),
    ("/supply", "More"),
    ("/care-team", "More"),
    ("/account/reminders", "More"),
]


def test_the_patients_bar_fits_and_marks_where_they_are(page: Page, demo, sign_in):
    sign_in(page, "patient@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    labels = [t.strip() for t in _menu(page).get_by_role("link").all_inner_texts()]
    assert labels == ["Today", "Check-ins", "History", "Trends", "More"]

    for path, marked in PATIENT_PAGES:
        page.goto(path)
        _fits(page)
        assert _marked(page) == [marked], path
        help_link = page.get_by_role("banner").get_by_role("link", name="Need help now?")
        expect(help_link).to_be_visible()


def test_more_lists_the_rest_and_they_open(page: Page, demo, sign_in):
    sign_in(page, "patient@demo.test")
    _menu(page).get_by_role("link", name="More").click()
    expect(page).to_have_url(re.compile(r"/more$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("More")
    main = page.get_by_role("main")
    for name in ["Supply", "Care team", "Account", "Help"]:
        expect(main.get_by_role("link", name=name, exact=True)).to_be_visible()

    main.get_by_role("link", name="Supply", exact=True).click()  # a boosted navigation
    expect(page).to_have_url(re.compile(r"/supply$"))
    assert _marked(page) == ["More"]


@pytest.mark.parametrize(
    ("email", "labels", "more"),
    [
        ("caregiver@demo.test", ["People I support", "Alerts", "More"], ["Account", "Help"]),
        ("prescriber@demo.test", ["Patients", "Alerts", "More"],
         ["Access log", "Account", "Help"]),
    ],
)
def test_each_care_team_role_has_a_bar_that_fits(page: Page, demo, sign_in, email, labels, more):
    sign_in(page, email)
    expect(page.get_by_role("heading", level=1)).to_have_text(labels[0])
    _fits(page)
    texts = _menu(page).get_by_role("link").all_inner_texts()
    names = [re.sub(r"\s+\d+$", "", t.strip()) for t in texts]
    assert names == labels
    assert _marked(page) == [labels[0]]

    page.goto("/alerts")
    _fits(page)
    assert [re.sub(r"\s+\d+$", "", t) for t in _marked(page)] == ["Alerts"]

    _menu(page).get_by_role("link", name="More").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("More")
    _fits(page)
    assert _marked(page) == ["More"]
    for name in more:
        expect(page.get_by_role("main").get_by_role("link", name=name, exact=True)).to_be_visible()

    page.goto("/account")
    assert _marked(page) == ["More"]


def test_the_prescribers_sub_pages_mark_patients(page: Page, demo, sign_in):
    sign_in(page, "prescriber@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")
    page.get_by_role("link", name="Jordan Reyes").first.click()
    expect(page).to_have_url(re.compile(r"/patients/[^/]+$"))
    _fits(page)
    assert _marked(page) == ["Patients"]


def test_the_bar_does_not_cover_the_end_of_the_page(page: Page, demo, sign_in):
    sign_in(page, "patient@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    page.goto("/more")
    page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    bar = _menu(page).bounding_box()
    button = sign_out.bounding_box()
    assert bar is not None and button is not None
    assert button["y"] + button["height"] <= bar["y"]


def test_a_wide_screen_shows_every_place_without_more(new_context, demo, sign_in):
    page = new_context(viewport={"width": 1024, "height": 768}, is_mobile=False).new_page()
    sign_in(page, "patient@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    labels = [t.strip() for t in _menu(page).get_by_role("link").all_inner_texts()]
    assert labels == ["Today", "Check-ins", "History", "Trends", "Supply", "Care team", "Account"]
    page.goto("/supply")
    assert _marked(page) == ["Supply"]


@pytest.mark.parametrize(("email", "width"), [("patient@demo.test", 390),
                                              ("paciente@demo.test", 390),
                                              ("paciente@demo.test", 320)])
def test_with_text_doubled_the_bar_keeps_whole_words_and_the_end_of_the_page(
        page: Page, demo, sign_in, email, width):
    """At 200% text the places broke inside words ("Tod / ay", "H / o / y"). The bar takes a
    second row instead, stays on the screen, and the page keeps room for it."""
    from tests.browser.test_phone_visual import BROKEN_WORDS

    sign_in(page, email)
    page.set_viewport_size({"width": width, "height": HEIGHT})
    page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")
    menu = page.locator("nav.site-nav")  # "Main", "Principal"
    links = menu.get_by_role("link").filter(visible=True)
    expect(links.first).to_be_visible()
    # "Check-ins" may break after its hyphen, as any text does; never inside a word.
    assert [w for w in links.evaluate_all(BROKEN_WORDS) if "-" not in w] == []
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5
        assert box["y"] + box["height"] <= HEIGHT + 0.5
    bar = menu.bounding_box()
    assert bar is not None and bar["height"] > 100  # two rows
    page.goto("/more")
    page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")
    # The page's room follows the bar once it has grown (app.js measures it).
    page.wait_for_function("""() => document.documentElement.style.getPropertyValue(
      '--nav-height') === (document.querySelector('.site-nav ul').offsetHeight + 1) + 'px'""")
    page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
    last = page.get_by_role("button", name=re.compile("Sign out|Cerrar sesión"))
    expect(last).to_be_visible()
    bar, button = menu.bounding_box(), last.bounding_box()
    assert bar is not None and button is not None
    assert button["y"] + button["height"] <= bar["y"]
