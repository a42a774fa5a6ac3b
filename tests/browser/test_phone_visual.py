"""Issue 12 item 10 on a 390 px phone: the protocol form shows only the chosen schedule's fields
(JavaScript; both show without it), the time field shows its whole value, "10" sits inside its
box on a 0–10 scale, and a radio sits on its label's line."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def _open_protocol(page: Page, sign_in) -> None:
    sign_in(page, "prescriber@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")
    href = page.get_by_role("link", name="Jordan Reyes").first.get_attribute("href")
    page.goto(f"{href}/protocol")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Protocol for"))


def test_the_protocol_form_shows_the_chosen_schedules_fields(page: Page, demo, sign_in):
    _open_protocol(page, sign_in)
    maintenance = page.locator("fieldset.phase").filter(has=page.locator("#maintenance_cadence"))
    weekdays = maintenance.get_by_role("group", name="Weekdays (for a weekday schedule)")
    every = maintenance.get_by_label("Every N days", exact=True)

    page.select_option("#maintenance_cadence", "interval")
    expect(weekdays).to_be_hidden()
    expect(every).to_be_visible()

    page.select_option("#maintenance_cadence", "weekdays")
    expect(weekdays).to_be_visible()
    expect(every).to_be_hidden()

    # The whole time is visible: the field is wider than what it shows.
    at = page.locator("#induction_at")
    assert at.evaluate("el => el.scrollWidth <= el.clientWidth")
    assert at.bounding_box()["width"] >= 130


def test_without_javascript_both_schedule_fields_show(new_context, demo, sign_in):
    page = new_context(java_script_enabled=False).new_page()
    _open_protocol(page, sign_in)
    maintenance = page.locator("fieldset.phase").filter(has=page.locator("#maintenance_cadence"))
    weekdays = maintenance.get_by_role("group", name="Weekdays (for a weekday schedule)")
    expect(weekdays).to_be_visible()
    expect(maintenance.get_by_label("Every N days", exact=True)).to_be_visible()


def test_ten_fits_its_box_and_radios_sit_on_their_labels(page: Page, demo, sign_in):
    sign_in(page, "patient@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    page.goto("/checkins/plus40")
    ten = page.locator("label.scale-option").filter(has_text=re.compile(r"^\s*10\s*$")).first
    box, text = ten.bounding_box(), ten.locator("span").bounding_box()
    assert text["x"] >= box["x"] and text["x"] + text["width"] <= box["x"] + box["width"]
    assert text["y"] + text["height"] <= box["y"] + box["height"]

    page.goto("/questionnaires/phq9")
    choice = page.locator("label.choice").first
    radio = choice.locator("input").bounding_box()
    label_top = choice.evaluate(
        "el => { const r = document.createRange(); r.selectNodeContents(el);"
        " const rects = [...r.getClientRects()].filter(x => x.width > 0 && x.left > "
        "el.querySelector('input').getBoundingClientRect().right);"
        " return rects.length ? rects[0].top + rects[0].height / 2 : null; }"
    )
    assert label_top is not None
    # The radio's middle is within a few pixels of the first line's middle.
    assert abs((radio["y"] + radio["height"] / 2) - label_top) <= 4


@pytest.mark.parametrize("email", ["patient@demo.test", "paciente@demo.test"])
def test_the_safety_checks_required_tags_stay_on_one_line(page: Page, demo, sign_in, email):
    """Beside a long checklist item on a 390 px phone, the tag was squeezed to a few letters a
    line ("requ / uir / ed")."""
    sign_in(page, email)
    tags = page.locator(".gate-form .required-tag")
    expect(tags.first).to_be_visible()
    lines = tags.evaluate_all(
        "els => els.map(el => { const r = document.createRange(); r.selectNodeContents(el);"
        " return [el.textContent.trim(), r.getClientRects().length]; })")
    assert lines and all(n == 1 for _word, n in lines), lines
