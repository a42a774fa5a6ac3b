"""Keyboard and screen reader use on a phone: focus after htmx swaps (a new page, an appended
part), status messages read out, no keyboard trap on Today, charts with text equivalents."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import structure_problems, violations

pytestmark = pytest.mark.browser


def _focused(page: Page) -> str:
    """The focused element, described: tag, then its accessible text or label."""
    return page.evaluate("""() => {
      const el = document.activeElement;
      if (!el || el === document.body) return "body";
      const label = el.labels && el.labels[0] ? el.labels[0].textContent : "";
      return `${el.tagName.toLowerCase()}:${(label || el.textContent || el.value || "").trim()
        .replace(/\\s+/g, " ").slice(0, 60)}`;
    }""")


def _signed_in(page: Page, sign_in, email: str) -> None:
    sign_in(page, email)
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Sign in")


def test_a_new_page_swapped_in_focuses_its_heading_and_passes_axe(page: Page, demo, sign_in):
    sign_in(page, "patient@demo.test")  # the sign-in form is boosted: Today is swapped in
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Today")
    expect(heading).to_be_focused()
    assert violations(page) == []

    page.get_by_role("navigation", name="Main").get_by_role("link", name="More").click()
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    assert violations(page) + structure_problems(page) == []


def test_a_status_after_a_swap_is_read_out(page: Page, demo, sign_in):
    _signed_in(page, sign_in, "patient@demo.test")
    page.goto("/account/app-lock")
    page.get_by_label("PIN (4 to 8 digits)").fill("2468")
    page.get_by_label("PIN again").fill("2468")
    page.get_by_role("button", name="Save PIN").click()
    status = page.locator("main [role=status]").filter(has_text="App lock is on.")
    expect(status).to_be_visible()
    # Focus is not lost on the body; the status's text was put back into it once on the page
    # (a live region inserted with its text is often not read out).
    assert _focused(page) != "body"
    expect(status).to_have_attribute("data-announced", "")
    assert violations(page) == []


def test_a_status_rewritten_while_it_is_read_out_keeps_only_the_newer_message(
        page: Page, demo, sign_in):
    # Signing in swaps Today in; the reminders card's status then holds the no-JavaScript text,
    # which push.js replaces moments later. The read-out must not put the old text back after.
    _signed_in(page, sign_in, "patient@demo.test")
    page.goto("/account/app-lock")
    text = page.evaluate("""() => new Promise((done) => {
      const main = document.querySelector("main");
      const status = document.createElement("p");
      status.setAttribute("role", "status");
      status.textContent = "Older message.";
      main.appendChild(status);
      document.dispatchEvent(new CustomEvent("htmx:after:swap", {detail: {ctx: {target: main}}}));
      setTimeout(() => { status.textContent = "Newer message."; }, 60);
      setTimeout(() => done(status.textContent), 400);
    })""")
    assert text == "Newer message."


def test_show_older_doses_swap_focuses_the_new_part_and_passes_axe(page: Page, demo, sign_in):
    _signed_in(page, sign_in, "patient@demo.test")
    page.goto("/doses")
    doses = page.locator("li.card.dose")
    before = doses.count()
    page.get_by_role("link", name="Show older doses").click()
    expect(doses).to_have_count(before + 1)
    expect(doses.nth(before)).to_be_focused()
    assert violations(page) + structure_problems(page) == []


def test_today_by_keyboard_reaches_the_main_actions_and_is_no_trap(page: Page, demo, sign_in):
    _signed_in(page, sign_in, "patient@demo.test")
    page.goto("/today")  # loaded afresh: the first Tab starts at the top
    seen: list[str] = []
    for _ in range(80):
        page.keyboard.press("Tab")
        seen.append(_focused(page))
        if len(seen) > 3 and seen[-1] == seen[0]:
            break  # round the page and back to the start: nothing held focus
    assert seen[0] == "a:Skip to content"
    # The header's outbox link, hidden while nothing waits, is no invisible tab stop (it was:
    # 0 px wide, read as "Not yet sent:", under the header's display rule).
    assert not [s for s in seen if s.startswith("a:Not yet sent")], seen
    assert "a:Need help now?" in seen
    assert "a:Today" in seen  # the main menu
    assert any(s.startswith("input:Upper (systolic)") for s in seen), seen
    assert "button:Check" in seen  # the safety check before a dose
    assert "button:Sign out" in seen  # the footer, last: focus went all the way through
    assert seen[-1] == seen[0], f"focus did not come round again: {seen}"

    # Backwards works too, and a disclosure opened by keyboard lets focus out again.
    page.keyboard.press("Shift+Tab")
    assert _focused(page) != seen[0]
    summary = page.get_by_text("Log a dose you took earlier")
    summary.focus()
    page.keyboard.press("Enter")
    disclosure = page.locator("details").filter(has=summary)
    expect(disclosure).to_have_attribute("open", "")
    for _ in range(40):
        page.keyboard.press("Tab")
        if _focused(page) == "button:Sign out":
            break
    assert _focused(page) == "button:Sign out"


def test_a_refused_form_takes_focus_to_its_first_marked_field(page: Page, demo, sign_in,
                                                              console_errors):
    """A tester's password change came back with focus on the last field, the page scrolled to
    the top, and the only error 1,300 px below, unannounced."""
    console_errors.expect(r"status of 422")  # the refusal, on purpose
    _signed_in(page, sign_in, "patient2@demo.test")
    page.goto("/account")
    page.get_by_label("Current password").fill("not the password at all")
    page.get_by_label("New password", exact=True).fill("a fresh and long passphrase")
    again = page.get_by_label("New password again")
    again.fill("a fresh and long passphrase")
    again.press("Enter")
    current = page.get_by_label("Current password")
    expect(current).to_be_focused()
    expect(current).to_have_attribute("aria-invalid", "true")
    expect(current).to_be_in_viewport()
    expect(page.locator("#current_password-error")).to_have_text(
        "Your current password is not right.")


def test_skip_link_moves_focus_to_the_content(page: Page, demo, sign_in):
    _signed_in(page, sign_in, "patient@demo.test")
    page.goto("/checkins")
    page.keyboard.press("Tab")
    assert _focused(page) == "a:Skip to content"
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


@pytest.mark.parametrize("email", ["patient@demo.test", "prescriber@demo.test"])
def test_every_trend_chart_has_a_text_equivalent(page: Page, demo, sign_in, email):
    _signed_in(page, sign_in, email)
    patient_id = demo["patient@demo.test"].id
    page.goto(f"/patients/{patient_id}/trends?range=all" if email.startswith("prescriber")
              else "/trends?range=all")
    charts = page.locator("figure.chart")
    assert charts.count() >= 3
    for i in range(charts.count()):
        chart = charts.nth(i)
        summary = chart.locator("figcaption p").first.inner_text().strip()
        assert summary, "a chart without a summary in words"
        svg = chart.locator("svg[role=img]")
        if svg.count():
            # The picture is named by its title and the summary, and its numbers are a table.
            name = svg.evaluate("(el) => el.getAttribute('aria-labelledby').split(' ')"
                                ".map((id) => document.getElementById(id).textContent).join(' ')")
            assert summary in name
            chart.get_by_text("Show the numbers").click()
            table = chart.get_by_role("table")
            expect(table.locator("tbody tr").first).to_be_visible()
            assert table.locator("th[scope=col]").count() >= 2
    assert re.search(r"trends", page.url)
    assert violations(page) == []


def test_the_blood_pressure_charts_keys_stay_matched_in_forced_colours(page: Page, demo,
                                                                       sign_in):
    """In forced colours the legend's background swatches vanished: four names, no key. Each
    key is now drawn as its line is, and after-dose points are squares, before-dose circles,
    so the two differ by more than colour."""
    _signed_in(page, sign_in, "patient@demo.test")
    page.emulate_media(forced_colors="active")
    page.goto("/trends")
    chart = page.locator("figure.chart").filter(has=page.locator(".legend")).first
    keys = chart.locator(".legend li")
    expect(keys.first).to_be_visible()
    strokes = chart.locator(".legend .swatch line").evaluate_all(
        "els => els.map(el => getComputedStyle(el).stroke)")
    lines = {key: chart.locator(f"polyline.{key}").first.evaluate(
        "el => getComputedStyle(el).stroke") for key in ("series-before", "series-after")}
    assert len(strokes) == keys.count() and "none" not in strokes
    assert lines["series-before"] != lines["series-after"]
    assert lines["series-before"] in strokes and lines["series-after"] in strokes
    assert chart.locator("svg[role=img] rect.dot.series-after").count() > 0
    assert chart.locator("svg[role=img] circle.dot.series-after").count() == 0
    assert chart.locator("svg[role=img] circle.dot.series-before").count() > 0
