"""WCAG 2.2 AA on every page: axe-core (any impact, WCAG 2.2 A/AA and best practice) and our own
headings-and-landmarks check, at the phone viewport, for every HTML page a signed-out visitor, a
patient, a caregiver and a prescriber can reach; also after validation errors, on the crisis
screen and after an htmx swap.

A new GET route fails `test_every_page_is_swept_or_excluded` until it is swept below or listed in
NOT_PAGES with the reason."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlmodel import Session, select

from app.accounts import reset as resets
from app.accounts.models import AuthSession
from app.checkins.models import QuestionnaireResponse
from app.db import engine, utcnow
from app.seed import DEMO_PASSWORD
from tests.browser.a11y import structure_problems, violations
from tests.browser.waiting import until
from tests.helpers import app_routes

pytestmark = pytest.mark.browser

# GET routes that are not pages a person reads, each with the reason.
NOT_PAGES = {
    "/": "redirects to the person's home page (swept)",
    "/healthz": "JSON health check",
    "/livez": "JSON liveness check",
    "/manifest.webmanifest": "web app manifest (JSON)",
    "/sw.js": "service worker script",
    "/checkins/settings": "redirects to /checkins (swept)",
    "/reminders/{occurrence_id}/open": "a reminder's link: redirects to the page it reminds of",
    "/account/data/trochelog-my-data.json": "a download (JSON)",
    "/account/data/trochelog-my-data.fhir.json": "a download (FHIR JSON)",
}
API_PREFIX = "/api/"  # JSON for the app and integrations, documented in OpenAPI


def html_get_routes() -> set[str]:
    return {path for path, route in app_routes()
            if "GET" in route.methods and not path.startswith(API_PREFIX)}


# --- the sweep ----------------------------------------------------------------------------------


class Sweep:
    """Visits pages, checks each with axe and the structure check, remembers which routes it saw."""

    def __init__(self) -> None:
        self.problems: dict[str, list[str]] = {}
        self.routes: set[str] = set()

    def check(self, page: Page, label: str) -> None:
        # The scripts arrive after the first paint (boot.js); pages are checked with them run.
        until(page, "document.readyState === 'complete' && typeof window.TrocheReady === 'function'"
                    " && typeof window.htmx === 'object'")
        # At the end of the page, where the phone's fixed menu rests over the page's own bottom
        # padding: elsewhere axe counts a field scrolled under it as an obscured target (WCAG
        # 2.5.8), which a person scrolls into view (and a focused field is never under it:
        # test_visual_a11y.py).
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        found = violations(page) + structure_problems(page)
        if found:
            self.problems[label] = found

    def visit(self, page: Page, route: str, url: str | None = None, status: int = 200) -> None:
        response = page.goto(url or route)
        assert response is not None
        self.routes.add(route)
        label = f"{url or route}"
        if response.status != status:
            self.problems[label] = [f"HTTP {response.status}"]
            return
        self.check(page, label)

    def report(self) -> str:
        return "\n".join(f"{where}:\n  " + "\n  ".join(found)
                         for where, found in self.problems.items())


def _signed_in(new_context, email: str) -> Page:
    page = new_context().new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Sign in")
    return page


def _answer(page: Page, item: str, label: str) -> None:
    page.locator(f"#item-{item}").get_by_label(label, exact=True).check()


SLOTS_PATIENT = ("pre", "plus40", "end", "next_morning", "daily")
SLOTS_SITTER = ("sitter_check", "observe")


def _sweep_patient(sweep: Sweep, new_context, patient_id) -> None:
    page = _signed_in(new_context, "patient@demo.test")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/today$"))
    for route in ("/today", "/doses", "/supply", "/checkins", "/trends", "/care-team",
                  "/account", "/account/access-log", "/account/app-lock", "/account/data",
                  "/account/devices", "/account/passkeys", "/account/reminders", "/more", "/help",
                  "/reauth"):
        sweep.visit(page, route)
    sweep.visit(page, "/trends", "/trends?range=all")
    for slot in SLOTS_PATIENT:
        sweep.visit(page, "/checkins/{slot_key}", f"/checkins/{slot}")
    for key in ("phq9", "gad7", "cssrs"):
        sweep.visit(page, "/questionnaires/{key}", f"/questionnaires/{key}")
    with Session(engine) as db:
        result = db.exec(select(QuestionnaireResponse.id).where(
            QuestionnaireResponse.patient_id == patient_id,
            QuestionnaireResponse.instrument == "phq9")).first()
    sweep.visit(page, "/questionnaires/result/{response_id}", f"/questionnaires/result/{result}")

    # Validation errors: a check-in with impossible numbers, a questionnaire with answers missing
    # (the browser's own `required` check is bypassed to reach the server's answer).
    page.goto("/checkins/pre")
    page.locator("form").first.evaluate("(form) => form.noValidate = true")
    page.get_by_label("Upper (systolic)").fill("999")
    page.get_by_label("Lower (diastolic)").fill("1")
    page.locator("form").first.locator("button[type=submit]").last.click()
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    sweep.check(page, "/checkins/pre (refused)")
    page.goto("/questionnaires/gad7")
    page.locator("form.questionnaire").evaluate("(form) => form.noValidate = true")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    sweep.check(page, "/questionnaires/gad7 (refused)")

    # The crisis screen: PHQ-9 item 9 positive, then the screener, then crisis resources.
    page.goto("/questionnaires/phq9")
    for n in range(1, 9):
        _answer(page, f"q{n}", "Several days")
    _answer(page, "q9", "More than half the days")
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(r"/questionnaires/cssrs$"))
    sweep.check(page, "/questionnaires/cssrs (after a positive item 9)")
    for item, answer in (("q1", "Yes"), ("q2", "Yes"), ("q3", "Yes"), ("q4", "Yes"),
                         ("q5", "No"), ("q6", "No")):
        _answer(page, item, answer)
    sweep.check(page, "/questionnaires/cssrs (follow-up questions shown)")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Please reach out now")
    sweep.check(page, "crisis screen")
    # Today with dosing on hold after that screen.
    sweep.visit(page, "/today", "/today?hold")

    # The lock screen: app lock on, the phone away for longer than the lock's minutes.
    page.goto("/account/app-lock")
    page.get_by_label("PIN (4 to 8 digits)").fill("2468")
    page.get_by_label("PIN again").fill("2468")
    page.get_by_role("button", name="Save PIN").click()
    expect(page.get_by_role("status")).to_have_text("App lock is on.")
    with Session(engine) as db:
        for row in db.exec(select(AuthSession).where(AuthSession.user_id == patient_id)):
            row.last_seen_at = utcnow() - timedelta(hours=2)
            db.add(row)
        db.commit()
    sweep.visit(page, "/unlock", "/unlock?next=/today")
    page.get_by_label("PIN", exact=True).fill("1111")
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("That PIN is not right.")).to_be_visible()
    sweep.check(page, "/unlock (wrong PIN)")


def _sweep_caregiver(sweep: Sweep, new_context, patient_id) -> None:
    page = _signed_in(new_context, "caregiver@demo.test")
    for route in ("/supporting", "/alerts", "/account", "/account/devices", "/account/passkeys",
                  "/account/reminders", "/more", "/help"):
        sweep.visit(page, route)
    sweep.visit(page, "/supporting/{patient_id}", f"/supporting/{patient_id}")
    sweep.visit(page, "/supporting/{patient_id}/session", f"/supporting/{patient_id}/session")
    for slot in SLOTS_SITTER:
        sweep.visit(page, "/supporting/{patient_id}/session/{slot_key}",
                    f"/supporting/{patient_id}/session/{slot}")
    # A sitter's checklist with a reading out of range: refused beside the field.
    page.goto(f"/supporting/{patient_id}/session/sitter_check")
    page.locator("form").first.evaluate("(form) => form.noValidate = true")
    page.get_by_label("Upper (systolic)").fill("999")
    page.locator("form").first.locator("button[type=submit]").last.click()
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    sweep.check(page, "/supporting/…/session/sitter_check (refused)")


def _sweep_prescriber(sweep: Sweep, new_context, patient_id) -> str:
    page = _signed_in(new_context, "prescriber@demo.test")
    for route in ("/patients", "/patients/new", "/patients/export", "/alerts", "/audit",
                  "/account", "/account/devices", "/account/passkeys", "/account/reminders",
                  "/more", "/help"):
        sweep.visit(page, route)
    for tail in ("", "/audit", "/export", "/protocol", "/summary", "/trends"):
        sweep.visit(page, "/patients/{patient_id}" + tail, f"/patients/{patient_id}{tail}")
    # A new patient with a missing name (refused), then the invite that it creates.
    page.goto("/patients/new")
    page.locator("form").first.evaluate("(form) => form.noValidate = true")
    page.locator("#email").fill("not an email")
    page.get_by_role("button", name="Add patient and create invite").click()
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    sweep.check(page, "/patients/new (refused)")
    page.locator("#display_name").fill("Robin Example")
    page.locator("#email").fill("robin@example.test")
    page.get_by_role("button", name="Add patient and create invite").click()
    invite = page.locator("#invite-url")
    expect(invite).to_have_value(re.compile(r"/invite/"))
    sweep.check(page, "invite created")
    return invite.input_value()


def _sweep_visitor(sweep: Sweep, context: BrowserContext, invite_url: str) -> None:
    page = context.new_page()
    for route in ("/login", "/forgot", "/help", "/offline", "/account/deleted"):
        sweep.visit(page, route)
    sweep.visit(page, "/forgot", "/forgot?sent=1")
    sweep.visit(page, "/invite/{token}", invite_url)
    with Session(engine) as db:
        issued = resets.request_reset(db, email="patient2@demo.test", now=utcnow())
        db.commit()
    assert issued is not None
    sweep.visit(page, "/reset/{token}", f"/reset/{issued.token}")
    # A password too short: refused.
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label(re.compile("again", re.I)).fill("short")
    page.locator("form").first.locator("button[type=submit]").last.click()
    expect(page.locator("[aria-invalid=true], [role=alert]").first).to_be_visible()
    sweep.check(page, "/reset (refused)")
    # A wrong password at sign-in.
    page.goto("/login")
    page.get_by_label("Email").fill("patient@demo.test")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    sweep.check(page, "/login (wrong password)")


def test_every_page_is_swept_or_excluded():
    """The route list this sweep checks is the app's: a new page must join the sweep (or be
    listed, with its reason, as not a page)."""
    assert set(NOT_PAGES) <= html_get_routes(), "stale NOT_PAGES entries"
    missing = html_get_routes() - set(NOT_PAGES) - SWEPT_ROUTES
    assert not missing, f"pages not in the accessibility sweep: {sorted(missing)}"


# Every page the sweep below visits (it asserts it visited exactly these).
SWEPT_ROUTES = {
    "/login", "/forgot", "/help", "/offline", "/account/deleted", "/invite/{token}",
    "/reset/{token}", "/unlock", "/reauth", "/more",
    "/today", "/doses", "/supply", "/checkins", "/checkins/{slot_key}", "/trends", "/care-team",
    "/questionnaires/{key}", "/questionnaires/result/{response_id}",
    "/account", "/account/access-log", "/account/app-lock", "/account/data", "/account/devices",
    "/account/passkeys", "/account/reminders",
    "/supporting", "/supporting/{patient_id}", "/supporting/{patient_id}/session",
    "/supporting/{patient_id}/session/{slot_key}", "/alerts",
    "/patients", "/patients/new", "/patients/export", "/audit", "/patients/{patient_id}",
    "/patients/{patient_id}/audit", "/patients/{patient_id}/export",
    "/patients/{patient_id}/protocol", "/patients/{patient_id}/summary",
    "/patients/{patient_id}/trends",
}


def test_every_page_has_no_axe_violations(new_context, demo, console_errors):
    # Deliberately refused forms answer 4xx, which Chromium logs; the lock screen's API 423.
    console_errors.expect(r"status of 4\d\d")
    sweep = Sweep()
    patient_id = demo["patient@demo.test"].id
    invite_url = _sweep_prescriber(sweep, new_context, patient_id)
    _sweep_caregiver(sweep, new_context, patient_id)
    _sweep_patient(sweep, new_context, patient_id)
    _sweep_visitor(sweep, new_context(), invite_url)
    assert not sweep.problems, "accessibility problems:\n" + sweep.report()
    assert sweep.routes - {"/"} == SWEPT_ROUTES
