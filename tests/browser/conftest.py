"""Browser harness: the real app under uvicorn on a free port, driven by Debian's Chromium.

The app shares the test database that tests/conftest.py set up (and empties after each test),
so `demo` seeds the demo clinic for one test at a time. Never downloads a browser.
"""

import asyncio
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright
from sqlmodel import Session

from app.accounts.models import Role, User
from app.db import engine, utcnow
from app.main import app
from app.protocols import service as protocols
from app.seed import seed_demo
from tests import factories
from tests.browser import signing

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "has_touch": True,
    "is_mobile": True,
    "device_scale_factor": 2,
}
TIMEOUT_MS = 10_000
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


# --- the server -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def live_server(_migrated_database) -> Iterator[str]:
    """uvicorn serving app.main:app from a background thread (with its own event loop)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the kernel picks a free port; we keep the socket, so no race
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        loop="asyncio",
        http="h11",
        ws="none",
        lifespan="on",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            # asyncio.run makes a fresh loop for this thread, apart from Playwright's.
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the test session below
            failure.append(exc)

    thread = threading.Thread(target=serve, name="live-server", daemon=True)
    thread.start()
    for _ in range(200):
        if server.started or failure or not thread.is_alive():
            break
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        thread.join(5)
        sock.close()
        pytest.fail(f"the live server did not start: {failure!r}")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    sock.close()
    assert not thread.is_alive(), "the live server did not stop"
    assert not failure, f"the live server crashed: {failure!r}"


@pytest.fixture
def demo(live_server):
    """The demo clinic (prescriber, two patients, a caregiver) in the empty test database."""
    with Session(engine, expire_on_commit=False) as session:
        users = seed_demo(session, utcnow())
        session.commit()
    return users


@pytest.fixture
def new_patient(live_server) -> Callable[..., User]:
    """Factory for a signed-out patient, linked to a new prescriber, whose plan (saved two days
    ago) has one session a day, the next six hours from now.

    `person` goes to factories.user (the zone is UTC unless it says otherwise; language).
    `clinic_phone` gives the prescriber the number shown as "Call my clinic" on a hold;
    `session_in_hours` moves the session (under 2 hours: it is due now).
    Named apart from tests/conftest.py's `patient` (signed in on a TestClient, session due
    now), which a browser module shadows with its own `patient` when it wants one.
    """

    def _new_patient(*, clinic_phone: str | None = None, session_in_hours: float = 6,
                     **person) -> User:
        now = utcnow()
        with Session(engine, expire_on_commit=False) as db:
            prescriber = factories.user(db, role=Role.PRESCRIBER)
            if clinic_phone:
                prescriber.clinic_phone = clinic_phone
            patient = factories.user(db, role=Role.PATIENT, **{"timezone": "UTC", **person})
            factories.link(db, patient, prescriber)
            protocols.save(db, prescriber=prescriber, patient_id=patient.id,
                           version_id=uuid.uuid4(), now=now - timedelta(days=2),
                           values=factories.protocol_values(**factories.session_now_protocol(
                               patient, hours_from_now=session_in_hours)))
            db.commit()
        return patient

    return _new_patient


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} not found (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class ConsoleErrors:
    """Console errors, uncaught page errors and 5xx responses seen by a test's pages.

    A test that provokes an error on purpose (e.g. a 401 from a wrong password, which Chromium
    logs as "Failed to load resource") declares it with `expect(pattern)`.
    """

    def __init__(self) -> None:
        self.seen: list[str] = []
        # Signing out wipes the phone's storage (Clear-Site-Data: "storage"), and Chromium then
        # force-closes IndexedDB connections still in use by the outbox's count or a flush; the
        # wipe is the point, and nothing the person sees fails. Everything else is unexpected.
        self.expected: list[re.Pattern[str]] = [
            re.compile(r"^page error: (The connection was closed\.|Connection is closing "
                       r"because of: Force close delete origin)$"),
            # Only a test that takes the phone offline meets this: a fetch the page started
            # (the outbox's flush asks /api/v1/me first) fails and Chromium logs it, how often
            # depending on timing. What the person sees is what those tests assert.
            re.compile(r"^console error: Failed to load resource: net::ERR_INTERNET_DISCONNECTED"),
        ]
        # Content-Security-Policy violations: never expected, whatever a test declares.
        self.csp: list[str] = []
        # What the browser did, shown when the test fails (pytest_runtest_makereport): a
        # browser test that times out then says where the page and its service worker were.
        self.trail: list[str] = []
        self.started = time.monotonic()
        self.pages: list[Page] = []

    def note(self, text: str) -> None:
        self.trail.append(f"{time.monotonic() - self.started:7.3f}s {text}")

    def follow(self, context: BrowserContext) -> None:
        """Every request of the context's pages and service workers, and the workers' console."""
        context.on("request", lambda r: self.note(
            f"{self._who(r)} {r.method} {r.url} ({r.resource_type})"))
        context.on("response", lambda r: self.note(
            f"{self._who(r.request)} {r.status} {r.url}"))
        context.on("requestfailed", lambda r: self.note(
            f"{self._who(r)} failed {r.url}: {r.failure}"))
        context.on("serviceworker", lambda worker: (
            self.note(f"service worker {worker.url}"),
            worker.on("console", lambda m: self.note(f"sw console {m.type}: {m.text}"))))

    @staticmethod
    def _who(request) -> str:
        return "sw" if request.service_worker else "page"

    def expect(self, pattern: str) -> None:
        self.expected.append(re.compile(pattern))

    def watch(self, page: Page) -> Page:
        self.pages.append(page)
        page.on("console", self._console)
        page.on("framenavigated", lambda frame: self.note(f"navigated {frame.url}")
                if frame == page.main_frame else None)
        page.on("pageerror", lambda error: self.seen.append(f"page error: {error}"))
        page.on("response", self._response)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        self.note(f"console {message.type}: {message.text}")
        if "Content Security Policy" in message.text:
            self.csp.append(f"console: {message.text}")
        if message.type == "error":
            where = message.location.get("url", "")
            self.seen.append(f"console error: {message.text} ({where})")

    def _response(self, response) -> None:
        if response.status >= 500:
            self.seen.append(f"HTTP {response.status} from {response.url}")

    def unexpected(self) -> list[str]:
        return [e for e in self.seen if not any(p.search(e) for p in self.expected)]


CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__tlCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || event.documentURI}:${event.lineNumber}`);
});
"""


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = (yield).get_result()
    watcher = getattr(item, "funcargs", {}).get("console_errors")
    if report.failed and isinstance(watcher, ConsoleErrors) and watcher.trail:
        where = [f"page at {page.url}" for page in watcher.pages if not page.is_closed()]
        report.sections.append(
            (f"browser trail ({report.when})", "\n".join(where + watcher.trail[-300:])))


@pytest.fixture
def new_context(browser, live_server, console_errors) -> Iterator:
    """Factory for phone-sized contexts (extra options e.g. java_script_enabled=False);
    every page opened in them is watched for errors, asserted at teardown."""
    contexts: list[BrowserContext] = []

    def _new_context(**options) -> BrowserContext:
        context = browser.new_context(base_url=live_server, **{**PHONE, **options})
        context.set_default_timeout(TIMEOUT_MS)
        context.on("page", console_errors.watch)
        console_errors.follow(context)
        # Every document reports its CSP violations through a binding (a DevTools-injected
        # script and binding, which the page's own CSP does not govern).
        context.expose_binding(
            "__tlCspViolation", lambda _source, text: console_errors.csp.append(text))
        context.add_init_script(CSP_LISTENER)
        contexts.append(context)
        return context

    yield _new_context
    for context in contexts:
        context.close()
    assert not console_errors.csp, "CSP violations:\n" + "\n".join(console_errors.csp)
    unexpected = console_errors.unexpected()
    assert not unexpected, "browser errors:\n" + "\n".join(unexpected)


@pytest.fixture
def context(new_context) -> BrowserContext:
    return new_context()


@pytest.fixture
def page(context) -> Page:
    return context.new_page()


@pytest.fixture
def sign_in():
    """Sign a page in through the real form, as a person would (tests/browser/signing.py)."""
    return signing.sign_in
