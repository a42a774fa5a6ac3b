"""Privacy on a shared phone: signing out, or a session that ended while the phone was away,
wipes what the browser kept (the service worker's page caches, IndexedDB); persistent storage
is asked for while signed in; a sign-out that would delete unsent entries asks first."""

import asyncio
import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, delete, select

from app.accounts.models import AuthSession, Role
from app.accounts.service import start_session
from app.audit.models import AuditEvent
from app.careteam.models import CareLink
from app.config import settings
from app.db import engine, utcnow
from app.protocols import service as protocols
from app.web.access_log import AccessLogMiddleware
from tests import factories
from tests.browser.server_log import ServerRequests
from tests.browser.signing import sign_in
from tests.browser.waiting import until

pytestmark = pytest.mark.browser

PHI_DB = "trochelog-privacy-test"
PHI_CACHE_MARKER = "/phi-marker"
UNSENT = (
    "3 entries on this phone have not been sent yet. If you sign out now they will be deleted. "
    "Sign out and delete them?"
)

# What this origin keeps: every cached request's path per cache, every IndexedDB database with
# its record count, and localStorage's keys.
KEPT_JS = """async () => {
  const cached = {};
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    cached[name] = (await cache.keys()).map((r) => new URL(r.url).pathname);
  }
  const databases = {};
  for (const info of await indexedDB.databases()) {
    const db = await new Promise((ok, fail) => {
      const open = indexedDB.open(info.name);
      open.onsuccess = () => ok(open.result);
      open.onerror = () => fail(open.error);
    });
    let records = 0;
    for (const store of db.objectStoreNames) {
      records += await new Promise((ok, fail) => {
        const count = db.transaction(store).objectStore(store).count();
        count.onsuccess = () => ok(count.result);
        count.onerror = () => fail(count.error);
      });
    }
    db.close();
    databases[info.name] = records;
  }
  return {cached, databases, local: Object.keys(localStorage)};
}"""

# PHI as the outbox and the service worker would keep it: a record in IndexedDB, a page in Cache
# Storage, a key in localStorage.
POPULATE_JS = """async ([dbName, marker]) => {
  await new Promise((ok, fail) => {
    const open = indexedDB.open(dbName, 1);
    open.onupgradeneeded = () => open.result.createObjectStore("outbox", {keyPath: "id"});
    open.onerror = () => fail(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction("outbox", "readwrite");
      tx.objectStore("outbox").put({id: crypto.randomUUID(), kind: "dose", mg: 150});
      tx.oncomplete = () => { db.close(); ok(); };
      tx.onerror = () => fail(tx.error);
    };
  });
  const cache = await caches.open("pages-privacy-test");
  await cache.put(marker, new Response("<p>blood pressure 128/82</p>"));
  localStorage.setItem("trochelog-test", "150 mg");
}"""


def _path(path: str) -> re.Pattern[str]:
    return re.compile(rf"^https?://[^/]+{re.escape(path)}(\?.*)?$")


@pytest.fixture
def patient(live_server):
    with Session(engine, expire_on_commit=False) as db:
        patient = factories.user(db, role=Role.PATIENT, timezone="UTC")
        db.commit()
    return patient


def _kept(page: Page) -> dict:
    return page.evaluate(KEPT_JS)


def _cached_paths(kept: dict) -> set[str]:
    return {path for paths in kept["cached"].values() for path in paths}


def _today_cached_with_phi(page: Page) -> None:
    """Today, loaded by the service worker (a navigation it controls), is in its page cache,
    and the page holds PHI in IndexedDB, Cache Storage and localStorage."""
    until(page, "navigator.serviceWorker.controller !== null")
    page.goto("/today")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    # The service worker has finished keeping this patient's pages for offline use.
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    page.evaluate(POPULATE_JS, [PHI_DB, PHI_CACHE_MARKER])
    until(
        page,
        """async () => {
          for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            if ((await cache.keys()).some((r) => new URL(r.url).pathname === "/today")) return true;
          }
          return false;
        }"""
    )
    kept = _kept(page)
    assert {"/today", PHI_CACHE_MARKER} <= _cached_paths(kept)
    assert kept["databases"].get(PHI_DB) == 1
    assert "trochelog-test" in kept["local"]


def _assert_wiped(page: Page) -> None:
    kept = _kept(page)
    cached = _cached_paths(kept)
    assert "/today" not in cached, kept
    assert PHI_CACHE_MARKER not in cached, kept
    assert "pages-privacy-test" not in kept["cached"], kept
    assert PHI_DB not in kept["databases"], kept
    # The outbox's own database may be opened again by the sign-in page, but empty.
    assert kept["databases"].get("trochelog", 0) == 0, kept
    assert kept["local"] == [], kept
    assert not [c for c in page.context.cookies() if c["name"] == "tl_session"]


def test_sign_out_wipes_what_the_phone_kept_and_an_ended_session_its_pages(page: Page, patient,
                                                                console_errors):
    # Once the session has ended, the outbox's "who am I?" is refused: that 401 is the point.
    console_errors.expect(r"status of 401")
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    _today_cached_with_phi(page)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(_path("/login"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    _assert_wiped(page)

    # Signed in again, the phone is away while the session ends (idle expiry, a sign-out on
    # another phone, a password change): the next page load wipes the same way.
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    _today_cached_with_phi(page)
    with Session(engine) as db:
        db.exec(delete(AuthSession).where(col(AuthSession.user_id) == patient.id))
        db.commit()

    page.goto("/today")
    expect(page).to_have_url(_path("/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    # The pages with PHI are gone (the sign-in page has the service worker drop them);
    # storage stays, where the outbox keeps entries not yet sent (they wait for this user to
    # sign in again; another user never sees them).
    until(page, """async () => {
      for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        if ((await cache.keys()).some((r) => new URL(r.url).pathname === "/today")) return false;
      }
      return true;
    }""")
    kept = _kept(page)
    assert "/today" not in _cached_paths(kept), kept
    assert PHI_CACHE_MARKER not in _cached_paths(kept), kept
    assert kept["databases"].get(PHI_DB) == 1, kept
    # A stale cookie wipes once; signing in again works as usual.
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")


def test_signed_in_pages_ask_for_persistent_storage(context, page: Page, patient):
    context.add_init_script(
        """
        window.__persistCalls = 0;
        StorageManager.prototype.persisted = () => Promise.resolve(false);
        StorageManager.prototype.persist = () => { window.__persistCalls += 1;
                                                   return Promise.resolve(true); };
        """
    )
    page.goto("/login")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__persistCalls") == 0  # nobody signed in: nothing to keep

    page.get_by_label("Email").fill(patient.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    # Signing in swaps Today into the sign-in page's document (htmx boost): asked then.
    until(page, "window.__persistCalls === 1")

    page.goto("/today")
    until(page, "window.__persistCalls === 1")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__persistCalls") == 1  # once per page


def _unsent(page: Page, n: int) -> None:
    """The outbox's count of unsent entries, as every signed-in page shows it."""
    page.wait_for_load_state("networkidle")
    # The warm-up is done (the outbox renders its own count again when it is).
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    page.evaluate(
        """(n) => {
          let counts = document.querySelectorAll("[data-outbox-count]");
          if (counts.length === 0) {
            const count = document.createElement("span");
            count.setAttribute("data-outbox-count", "");
            document.querySelector("main").append(count);
            counts = [count];
          }
          counts.forEach((count) => { count.textContent = String(n); });
        }""",
        n,
    )


def test_sign_out_with_unsent_entries_asks_first(page: Page, patient, console_errors):
    console_errors.expect(r"status of 401")  # /api/v1/me once signed out: the point
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    _unsent(page, 3)
    dialogs: list[str] = []

    def refuse(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", refuse)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    page.wait_for_timeout(500)  # no request in flight: still signed in, still on Today
    assert dialogs == [f"confirm: {UNSENT}"]
    expect(page).to_have_url(_path("/today"))
    assert page.evaluate("fetch('/api/v1/me').then((r) => r.status)") == 200

    page.remove_listener("dialog", refuse)
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(_path("/login"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    assert dialogs[1:] == [UNSENT]
    assert page.evaluate("fetch('/api/v1/me').then((r) => r.status)") == 401


def test_sign_out_with_nothing_unsent_does_not_ask(page: Page, patient):
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    _unsent(page, 0)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(_path("/login"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    assert dialogs == []


OUTBOX_JS = """() => TrocheOutbox.all().then((items) => items.map((i) => [i.user, i.id]))"""


def _queue_mood(page: Page, user, mood: int, status: str = "pending") -> str:
    """A daily mood check-in kept in the outbox for `user`, as the phone keeps one made
    offline. A flush sends a pending one as soon as `user` is signed in and online; a
    "rejected" one (the server refused it) stays until its person fixes or discards it."""
    until(page, "window.TrocheOutbox !== undefined")
    item_id = str(uuid.uuid4())
    page.evaluate("""([id, user, mood, status]) => TrocheOutbox.add({
        id, user, kind: "checkin", label: "Mood", recorded_at: new Date().toISOString(),
        data: {slot: "daily", values: {mood}}}).then(() => status === "pending" ||
          new Promise((ok, fail) => {
            const open = indexedDB.open("trochelog");
            open.onerror = () => fail(open.error);
            open.onsuccess = () => {
              const tx = open.result.transaction("outbox", "readwrite");
              const store = tx.objectStore("outbox");
              store.get(id).onsuccess = (event) => {
                store.put({...event.target.result, status, detail: "Refused."});
              };
              tx.oncomplete = () => { open.result.close(); ok(true); };
              tx.onerror = () => fail(tx.error);
            };
          }))""", [item_id, str(user.id), mood, status])
    return item_id


def test_a_sign_out_keeps_another_accounts_unsent_entries_for_them(
        context, page: Page, patient, live_server, console_errors):
    """Jordan's session ended with a check-in still on the phone (it waits for Jordan); Sam
    signed in on the same phone and signed out, and the sign-out's storage wipe deleted
    Jordan's entry: a dose Jordan took, gone, and Today inviting another. Now Sam's own
    entries go (after the warning) and Jordan's stay until Jordan signs in and sends them."""
    from app.checkins.models import CheckIn

    console_errors.expect(r"status of 401")
    with Session(engine, expire_on_commit=False) as db:
        other = factories.user(db, role=Role.PATIENT, timezone="UTC")
        db.commit()
    sign_in(page, other.email, factories.PASSWORD, lands_on="Today")
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    # Jordan's session ends by itself (idle expiry) with an entry made on the phone still
    # waiting (no flush can send it now: nobody is signed in).
    with Session(engine) as db:
        db.exec(delete(AuthSession).where(col(AuthSession.user_id) == other.id))
        db.commit()
    waiting = _queue_mood(page, other, 4)
    page.goto("/today")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    # Sam's own unsent entry: one the server refused (a flush leaves it for Sam to see to).
    own = _queue_mood(page, patient, 6, status="rejected")
    page.reload()  # the count of this person's unsent entries, as the page draws it
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(_path("/login"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    assert dialogs and dialogs[0].startswith("1 entry on this phone has not been sent yet.")
    until(page, "window.TrocheOutbox !== undefined")
    assert page.evaluate(OUTBOX_JS) == [[str(other.id), waiting]]
    assert own not in str(page.evaluate(OUTBOX_JS))
    kept = _kept(page)
    assert "/today" not in _cached_paths(kept), kept  # the pages go, as at every sign-out

    # Jordan signs in again: the entry that waited is sent, once.
    sign_in(page, other.email, factories.PASSWORD, lands_on="Today")
    until(page, "TrocheOutbox.all().then((items) => items.length === 0)")
    with Session(engine) as db:
        rows = db.exec(select(CheckIn).where(CheckIn.patient_id == other.id)).all()
        assert [r.values for r in rows] == [{"mood": 4}]
        assert db.exec(select(CheckIn).where(CheckIn.patient_id == patient.id)).all() == []


def test_entries_waiting_for_a_sign_in_say_so_online_and_a_sign_out_offline_signs_nobody_out(
        page: Page, patient, console_errors):
    """After the session ended, the page still said the entry "will be sent when you are back
    online" while it was online; and offline, Sign out warned that entries would be deleted,
    then did nothing, and nothing said the person was still signed in."""
    console_errors.expect(r"status of 401")
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.context.set_offline(True)
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#offline-saved")).to_have_text(
        "You are offline, so you are still signed in: signing out needs a connection. "
        "Try again when you have a signal.")
    assert dialogs == []

    # The session ends while the phone is away, with an entry made on it still waiting (no
    # flush can send it: nobody is signed in).
    with Session(engine) as db:
        db.exec(delete(AuthSession).where(col(AuthSession.user_id) == patient.id))
        db.commit()
    _queue_mood(page, patient, 5)
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")  # the signal came back
    note = page.locator("#offline-saved")
    expect(note).to_contain_text("You are signed out on this phone, so what you saved here is "
                                 "waiting, not sent. Sign in again to send it.")
    note.get_by_role("link", name="Sign in again").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


# Every cached response whose body holds `needle`, as "cache path" (Cache Storage, all caches).
CACHED_WITH_JS = """async ([needle, only]) => {
  const found = [];
  for (const name of await caches.keys()) {
    if (only && !name.startsWith(only)) continue;
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      const hit = await cache.match(request);
      if (!hit) continue; // dropped by the service worker since keys() listed it
      const body = await hit.text();
      if (body.includes(needle)) found.push(name + " " + new URL(request.url).pathname);
    }
  }
  return found;
}"""


def _cached_with(page: Page, needle: str, only: str = "") -> list[str]:
    return page.evaluate(CACHED_WITH_JS, [needle, only])


def _signed_in_elsewhere(context, live_server: str, person) -> None:
    """`person` signed in on this phone without the sign-in page showing (an invitation or a
    reset link starts a session the same way: accounts.start_session)."""
    with Session(engine, expire_on_commit=False) as db:
        token = start_session(db, person, utcnow(), method="invite")
        db.commit()
    context.add_cookies([{"name": settings.session_cookie, "value": token, "url": live_server,
                          "httpOnly": True, "sameSite": "Lax"}])


def test_someone_else_signed_in_on_the_phone_never_sees_the_last_persons_pages(
        context, page: Page, patient, live_server, console_errors):
    console_errors.expect(r"status of 401")
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    _today_cached_with_phi(page)
    with ServerRequests() as seen:
        page.goto("/account")
        until(page,
              f"async () => (await ({CACHED_WITH_JS})([{patient.email!r}, 'pages'])).length > 1")
        # The page's own request after it loads (the service worker refreshes the snapshot; an
        # empty outbox asks nothing) is answered before the session ends, so the test knows
        # what it met. (One still on its way would meet the ended session; its answer leaves
        # the cookie alone: tests/accounts/test_sessions.py.)
        seen.wait_for(r"GET /api/v1/today")
    # The phone is put down; the session ends by itself; someone else is signed in on it by
    # an invitation link, so the sign-in page (which has the caches dropped) never shows.
    with Session(engine, expire_on_commit=False) as db:
        db.exec(delete(AuthSession).where(col(AuthSession.user_id) == patient.id))
        other = factories.user(db, role=Role.PATIENT, timezone="UTC")
        db.commit()
    context.clear_cookies()
    _signed_in_elsewhere(context, live_server, other)

    page.goto("/today")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    until(page, f"async () => (await ({CACHED_WITH_JS})([{patient.email!r}, ''])).length === 0")

    # Offline, a page the first person opened shows nothing of theirs.
    context.set_offline(True)
    page.goto("/account")
    expect(page.locator("body")).not_to_contain_text(patient.email)
    expect(page.locator("body")).not_to_contain_text(patient.display_name)
    context.set_offline(False)


def test_the_app_shell_kept_across_sign_outs_is_made_without_the_persons_cookies(
        page: Page, patient):
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    until(page, "navigator.serviceWorker.controller !== null")
    # A deploy while signed in: a new worker installs (here: the old one gone, caches too).
    page.evaluate("""async () => {
      for (const reg of await navigator.serviceWorker.getRegistrations()) await reg.unregister();
      for (const name of await caches.keys()) await caches.delete(name);
    }""")
    page.goto("/today")
    until(page, """async () => {
      const shell = (await caches.keys()).find((k) => k.startsWith("shell-"));
      if (!shell) return false;
      const cache = await caches.open(shell);
      return !!(await cache.match("/help")) && !!(await cache.match("/offline"));
    }""")
    assert _cached_with(page, patient.email, "shell-") == []
    assert _cached_with(page, patient.display_name, "shell-") == []


def test_a_caregivers_phone_drops_a_patients_page_once_the_link_is_revoked(
        context, page: Page, live_server, console_errors):
    console_errors.expect(r"status of 404")
    with Session(engine, expire_on_commit=False) as db:
        supported = factories.user(db, role=Role.PATIENT, timezone="UTC")
        caregiver = factories.user(db, role=Role.CAREGIVER, timezone="UTC")
        factories.link(db, supported, caregiver)
        db.commit()
    # Waiting for the home page: the service worker already controls the sign-in page, so
    # waiting for it alone let the next page open before the sign-in was answered.
    sign_in(page, caregiver.email, factories.PASSWORD, lands_on="People I support")
    until(page, "navigator.serviceWorker.controller !== null")
    about = f"/supporting/{supported.id}"
    page.goto(about)
    expect(page.get_by_role("heading", level=1)).to_contain_text(supported.display_name)
    until(page, f"async () => (await ({CACHED_WITH_JS})"
                f"([{supported.display_name!r}, 'pages'])).length > 0")

    _stops_sharing(supported, caregiver)
    response = page.goto(about)
    assert response is not None and response.status == 404
    until(page, f"async () => !(await ({CACHED_WITH_JS})([{supported.display_name!r}, '']))"
                f".some((kept) => kept.endsWith({about!r}))")

    context.set_offline(True)
    page.goto(about)
    expect(page.locator("body")).not_to_contain_text(supported.display_name)
    context.set_offline(False)


def test_a_removed_sitter_on_a_slow_connection_reads_the_refusal_not_the_saved_copy(
        context, page: Page, live_server, console_errors, monkeypatch):
    """On a slow connection the service worker shows the saved copy after 150 ms and the page
    asks for the fresh one: a removed sitter's answer was a 404, yet the copy stayed, with the
    patient's alerts, dose and entries, its forms back on, and "No answer from TrocheLog"."""
    console_errors.expect(r"status of 404")
    # The production setting (the suite's is off), before the service worker is fetched.
    monkeypatch.setattr(settings, "saved_copy_after_ms", 150)
    with Session(engine, expire_on_commit=False) as db:
        caregiver = factories.user(db, role=Role.CAREGIVER, timezone="UTC")
        supported = _supported_by(db, caregiver, "Quinn Slowline")
        db.commit()
    about = f"/supporting/{supported.id}/session"
    # The page's requests answered late (the fresh one's too), as on a slow connection.
    slow = {"on": False}
    real = AccessLogMiddleware.__call__

    async def slowed(self, scope, receive, send):
        if slow["on"] and scope["type"] == "http" and scope["path"] == about:
            await asyncio.sleep(1.0)
        await real(self, scope, receive, send)

    monkeypatch.setattr(AccessLogMiddleware, "__call__", slowed)
    sign_in(page, caregiver.email, factories.PASSWORD, lands_on="People I support")
    until(page, "navigator.serviceWorker.controller !== null")
    page.goto(about)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Quinn Slowline")
    until(page, f"async () => (await ({CACHED_WITH_JS})"
                f"(['Quinn Slowline', 'pages'])).length > 0")
    _stops_sharing(supported, caregiver)
    slow["on"] = True
    page.goto(about)
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found", timeout=10000)
    expect(page.locator("body")).not_to_contain_text("Quinn Slowline")
    expect(page.get_by_text("No answer from TrocheLog")).to_have_count(0)


def _supported_by(db, caregiver, name: str):
    """A patient with a session today who shares their sessions with `caregiver`."""
    prescriber = factories.user(db, role=Role.PRESCRIBER)
    person = factories.user(db, role=Role.PATIENT, timezone="UTC", display_name=name)
    factories.link(db, person, prescriber)
    factories.link(db, person, caregiver, scope="supervision")
    protocols.save(db, prescriber=prescriber, patient_id=person.id, version_id=uuid.uuid4(),
                   now=utcnow() - timedelta(days=2),
                   values=factories.protocol_values(**factories.session_now_protocol(person)))
    return person


def _stops_sharing(person, caregiver) -> None:
    with Session(engine) as db:
        link = db.exec(select(CareLink).where(CareLink.patient_id == person.id,
                                              CareLink.member_id == caregiver.id)).one()
        link.revoked_at = utcnow()
        db.add(link)
        db.commit()


# The path of every page the service worker keeps.
PAGE_PATHS_JS = """async () => {
  const paths = [];
  for (const name of await caches.keys()) {
    if (!name.startsWith("pages")) continue;
    const cache = await caches.open(name);
    for (const request of await cache.keys()) paths.push(new URL(request.url).pathname);
  }
  return paths;
}"""


def _kept_paths(page: Page, needle: str) -> set[str]:
    return {kept.split(" ", 1)[1] for kept in _cached_with(page, needle, "pages")}


def test_a_sitters_phone_drops_every_page_of_someone_who_stopped_sharing(
        new_context, live_server, console_errors):
    """The sitter's phone keeps each person's page and session pages for a session without
    signal. When a person stops sharing, none of them may still answer offline: not only the
    page the sitter happens to open again (404), but the session pages under it, and, once the
    sitter's home lists who still shares, the pages of someone the sitter never opened again."""
    console_errors.expect(r"status of 404")
    with Session(engine, expire_on_commit=False) as db:
        caregiver = factories.user(db, role=Role.CAREGIVER, timezone="UTC")
        opened = _supported_by(db, caregiver, "Opal Opened")
        unopened = _supported_by(db, caregiver, "Uma Unopened")
        stays = _supported_by(db, caregiver, "Stella Stays")
        db.commit()
    context = new_context()
    page = context.new_page()
    sign_in(page, caregiver.email, factories.PASSWORD, lands_on="People I support")
    until(page, "navigator.serviceWorker.controller !== null")
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    for person in (opened, unopened, stays):
        base = f"/supporting/{person.id}"
        assert {base, f"{base}/session", f"{base}/session/plus40"} <= _kept_paths(
            page, person.display_name), person.display_name
    # The warm-up's requests are marked: the access log reads them as the phone refreshing its
    # copies, not as the sitter opening three people's sessions (tests/audit/test_pages.py).
    with Session(engine) as db:
        views = db.exec(select(AuditEvent).where(AuditEvent.actor_id == caregiver.id,
                                                 AuditEvent.action == "view")).all()
    opened_pages = [e for e in views if not e.details.get("list")]  # not the home's list
    assert {e.patient_id for e in opened_pages} == {opened.id, unopened.id, stays.id}
    assert all(e.details.get("offline_copy") for e in opened_pages), opened_pages

    # Opal stops sharing; the sitter opens her page again: 404, and her session pages go too.
    _stops_sharing(opened, caregiver)
    response = page.goto(f"/supporting/{opened.id}")
    assert response is not None and response.status == 404
    under = f"/supporting/{opened.id}"
    until(page, f"async () => !(await ({PAGE_PATHS_JS})()).some((p) => p.startsWith({under!r}))")
    assert _kept_paths(page, unopened.display_name)  # nobody else's, yet

    # Uma stops sharing; the sitter only goes back to their home, which no longer lists her.
    _stops_sharing(unopened, caregiver)
    page.goto("/supporting")
    expect(page.get_by_role("link", name=unopened.display_name)).to_have_count(0)
    until(page, f"async () => (await ({CACHED_WITH_JS})([{unopened.display_name!r}, 'pages']))"
                ".length === 0")
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)

    context.set_offline(True)
    for gone in (opened, unopened):
        for path in (f"/supporting/{gone.id}", f"/supporting/{gone.id}/session",
                     f"/supporting/{gone.id}/session/plus40"):
            page.goto(path)
            expect(page.locator("body")).not_to_contain_text(gone.display_name)
    # Stella still shares: her session still opens without signal.
    page.goto(f"/supporting/{stays.id}/session")
    expect(page.get_by_role("heading", level=1)).to_have_text("Stella Stays's session")
    context.set_offline(False)
