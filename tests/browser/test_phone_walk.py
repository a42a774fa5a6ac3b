"""Issue 12's acceptance walk: each demo role on a 390×844 phone visits every page its menu
reaches (the bar and the More page) and each page is checked as a new user would see it:

- nothing overflows sideways;
- the page's heading and its main action (the first primary button, else the first form's
  button) start on the first screen;
- no internal code (an identifier with an underscore, like `sitter_required`) is in the text;
- a form refused by the server, then reloaded (pull-to-refresh), leaves a useful page.

Every problem on every page is collected and reported at once, so one run lists them all.
Screenshots of the walk go to $WALK_SHOTS, or to a `walk` folder in pytest's temporary directory
(the failure message and the test's output name it). They are not committed.
"""

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page

WIDTH, HEIGHT = 390, 844
ROLES = ("patient@demo.test", "caregiver@demo.test", "prescriber@demo.test")
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")
# Text that may rightly hold underscores: addresses and links.
ALLOWED = re.compile(r"\S+@\S+|https?://\S+|/\S*")
NOT_USEFUL = re.compile(r"not available here|Method Not Allowed|Not Found", re.IGNORECASE)
SKIP = ("/logout", "/static/", "/api/", "#")
# The first few elements that stick out past the screen's right edge, to name in the report.
WIDEST = """w => {
    const out = [...document.querySelectorAll('main *, header *')]
        .filter(e => e.getBoundingClientRect().right > w + 1);
    return out.filter(e => !out.some(o => o !== e && e.contains(o))).slice(0, 3)
        .map(e => e.tagName.toLowerCase() + ' "' + (e.textContent || '').trim().slice(0, 30) + '"');
}"""


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("WALK_SHOTS") or tmp_path / "walk")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _slug(role: str, path: str) -> str:
    return f"{role.split('@')[0]}{re.sub(r'[^a-z0-9]+', '-', path.lower()).rstrip('-') or '-home'}"


def _links(page: Page, selector: str) -> list[str]:
    """Same-site paths of the links under `selector`, in page order, without duplicates."""
    hrefs = page.eval_on_selector_all(selector, "els => els.map(a => a.getAttribute('href'))")
    paths: list[str] = []
    for href in hrefs:
        if not href:
            continue
        parsed = urlparse(href)
        if parsed.netloc and not parsed.netloc.startswith("127.0.0.1"):
            continue
        path = parsed.path or "/"
        if path.startswith(SKIP) or href.startswith("#") or path in paths:
            continue
        paths.append(path)
    return paths


def _menu(page: Page) -> list[str]:
    """Every place the menu reaches: links in `nav` elements, then those on a More page."""
    paths = _links(page, "nav a[href]")
    if "/more" in paths:
        page.goto("/more")
        paths += [p for p in _links(page, "main a[href]") if p not in paths]
    return paths


def _top(page: Page, selector: str) -> float | None:
    """The top of the first visible element matching `selector`, or None if there is none."""
    for element in page.locator(selector).all():
        if element.is_visible():
            box = element.bounding_box()
            if box:
                return box["y"]
    return None


def _check_first_screen(page: Page, where: str, problems: list[str]) -> None:
    heading = _top(page, "main h1")
    if heading is None:
        problems.append(f"{where}: no visible h1")
    elif heading >= HEIGHT:
        problems.append(f"{where}: the heading starts below the first screen (at {heading:.0f}px)")
    # The main action starts on the first screen: the form holding the first primary button
    # (its fields may run on below), a primary link or button, or else the first form.
    action = _top(page, "main form:has(.primary)")
    kind = "form with the primary button"
    if action is None:
        action = _top(page, "main .primary")
        kind = "primary action"
    if action is None:
        action = _top(page, "main form")
        kind = "first form"
    if action is not None and action >= HEIGHT:
        problems.append(f"{where}: the {kind} is below the first screen (at {action:.0f}px)")


def _check_page(page: Page, where: str, problems: list[str]) -> None:
    _check_first_screen(page, where, problems)
    # What a tap on "Show the numbers" and the like reveals must fit and read well too.
    page.eval_on_selector_all("main details", "ds => ds.forEach(d => { d.open = true; })")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    if width > WIDTH + 1:
        wide = page.evaluate(WIDEST, WIDTH)
        problems.append(f"{where}: overflows sideways ({width}px wide; e.g. {', '.join(wide)})")
    text = ALLOWED.sub(" ", page.inner_text("main"))
    codes = sorted(set(CODE.findall(text)))
    if codes:
        problems.append(f"{where}: internal codes in the text: {', '.join(codes)}")


def _refuse_and_reload(page: Page, role: str, path: str, form: str, problems: list[str]) -> None:
    """Send `form` on `path` with its number fields emptied (the browser's own checks off, as
    an old phone or a slip of the thumb would), then reload as pull-to-refresh does."""
    where = f"{role} {path} (refused {form}, then reload)"
    page.goto(path)
    target = page.locator(f"main form[action='{form}']").first
    if target.count() == 0 or not target.is_visible():
        problems.append(f"{where}: no visible form posting to {form}")
        return
    target.evaluate("f => { f.noValidate = true; f.querySelectorAll('input[type=number]')"
                    ".forEach(i => { i.value = ''; }); }")
    target.locator("button[type=submit], button:not([type])").first.click()
    page.wait_for_load_state("networkidle")
    if page.locator("main .field-error, main [role=alert], main .alert-error").count() == 0:
        problems.append(f"{where}: the refused form shows no error")
    response = page.reload()
    status = response.status if response else None
    heading = page.locator("main h1").first
    text = page.inner_text("main") if page.locator("main").count() else ""
    if status != 200 or heading.count() == 0 or NOT_USEFUL.search(text):
        problems.append(f"{where}: reload at {urlparse(page.url).path} answered {status} "
                        f"with {text.strip()[:60]!r}")


REFUSALS = {"patient@demo.test": (("/today", "/today/gate"), ("/supply", "/supply/count"))}


@pytest.mark.browser
def test_every_menu_page_works_on_a_phone_for_every_demo_role(
    demo, new_context, sign_in, console_errors, tmp_path
):
    # The refusals below answer 422 and old pages may answer 405 on reload: this walk
    # reports those itself, so the browser's console lines about them are expected.
    console_errors.expect(r"status of (405|422)")
    shots = _shots(tmp_path)
    problems: list[str] = []
    visited: list[str] = []
    for role in ROLES:
        page = new_context().new_page()
        sign_in(page, role)
        page.wait_for_selector("nav a[href]")  # signed in: the menu is there
        places = _menu(page)
        if not places:
            problems.append(f"{role}: the menu has no links")
        for path in places:
            response = page.goto(path)
            where = f"{role} {path}"
            visited.append(where)
            if response is None or response.status != 200:
                problems.append(f"{where}: answered {response.status if response else None}")
            else:
                _check_page(page, where, problems)
            page.screenshot(path=str(shots / f"{_slug(role, path)}.png"), full_page=True)
        for path, form in REFUSALS.get(role, ()):
            _refuse_and_reload(page, role, path, form, problems)
            page.screenshot(path=str(shots / f"{_slug(role, form)}-reloaded.png"), full_page=True)
        page.context.close()
    print(f"\nphone walk: {len(visited)} pages, screenshots in {shots}")
    assert len(visited) >= len(ROLES), "the walk visited almost nothing"
    assert not problems, (f"{len(problems)} problems on a 390x844 phone "
                          f"(screenshots in {shots}):\n" + "\n".join(problems))
