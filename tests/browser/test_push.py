"""Push in a real browser: the service worker shows what the server pushes (delivered through
the DevTools protocol: headless Chromium cannot subscribe to a real push service), the states
the reminders page explains, and the page without JavaScript."""

import base64
import json
import os
import re
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import BrowserContext, Page, expect
from sqlmodel import Session, select

from app.accounts.models import User
from app.db import engine
from app.push.models import PushSubscription
from tests.browser.conftest import TIMEOUT_MS

pytestmark = pytest.mark.browser

NOTIFICATIONS = """navigator.serviceWorker.ready
  .then((r) => r.getNotifications())
  .then((list) => list.map((n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data,
                                    actions: (n.actions || []).map((a) => a.action)})))"""
PAYLOAD = {
    "title": "TrocheLog",
    "body": "You have a scheduled reminder.",
    "tag": "tl-4b1c",
    "url": "/today",
    "id": "4b1c",
    "kind": "session",
    "actions": {"open": "Open", "snooze": "Snooze 15 min"},
}


def _registration_id(context: BrowserContext, page: Page, live_server: str):
    """The service worker's registration id, as the DevTools protocol names it."""
    page.goto("/help")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    cdp = context.new_cdp_session(page)
    found: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: found.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for registration in found:
            if registration["scopeURL"] == f"{live_server}/" and not registration["isDeleted"]:
                return cdp, registration["registrationId"]
        page.wait_for_timeout(100)  # lets Playwright dispatch the protocol's events
    pytest.fail(f"no service worker registration for {live_server}/: {found}")


def _push(cdp, live_server: str, registration_id: str, data: str) -> None:
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": live_server, "registrationId": registration_id, "data": data},
    )


def _push_until(page: Page, cdp, live_server: str, registration_id: str, data: str,
                check) -> list[dict]:
    """Deliver a push and poll (from Python: the CSP forbids string-evaluated
    wait_for_function) until the notifications match `check`.

    Headless Chromium now and then leaves out of getNotifications() a notification whose
    showNotification() resolved (seen with the worker reporting each step back); the same push
    delivered again shows it. Every push here is idempotent (a tag), so it is sent again after
    a few seconds instead of failing the run on the browser's quirk.
    """
    shown: list[dict] = []
    for _attempt in range(3):
        _push(cdp, live_server, registration_id, data)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            shown = page.evaluate(NOTIFICATIONS)
            if check(shown):
                return shown
            page.wait_for_timeout(100)
    pytest.fail(f"notifications never matched: {shown}")


@pytest.fixture
def granted(new_context, live_server) -> BrowserContext:
    context = new_context()
    context.grant_permissions(["notifications"], origin=live_server)
    return context


def test_push_shows_the_notification_and_a_repeat_replaces_it(granted, live_server):
    page = granted.new_page()
    cdp, registration = _registration_id(granted, page, live_server)

    shown = _push_until(page, cdp, live_server, registration, json.dumps(PAYLOAD),
                        lambda s: len(s) == 1)
    assert shown == [{
        "title": "TrocheLog",
        "body": "You have a scheduled reminder.",
        "tag": "tl-4b1c",
        "data": {"url": "/today", "id": "4b1c"},
        "actions": ["open", "snooze"],
    }]

    # The same reminder again (a retry, a second dispatcher): still one notification, the new one.
    again = json.dumps({**PAYLOAD, "body": "It's time."})
    shown = _push_until(page, cdp, live_server, registration, again,
                        lambda s: s and s[0]["body"] == "It's time.")
    assert len(shown) == 1 and shown[0]["tag"] == "tl-4b1c"

    # Another reminder stacks beside it; a test notification has no Snooze.
    test = {**PAYLOAD, "tag": "tl-9", "id": "9", "kind": "test", "actions": {"open": "Open"}}
    shown = _push_until(page, cdp, live_server, registration, json.dumps(test),
                        lambda s: len(s) == 2)
    by_tag = {n["tag"]: n for n in shown}
    assert by_tag["tl-9"]["actions"] == ["open"]
    assert by_tag["tl-4b1c"]["body"] == "It's time."


@pytest.mark.parametrize(
    "data",
    ["not json at all", "", "[1, 2]", json.dumps({"title": 7, "url": "https://evil.test/"})],
)
def test_unreadable_push_still_shows_a_generic_notification(granted, live_server, data):
    page = granted.new_page()
    cdp, registration = _registration_id(granted, page, live_server)
    shown = _push_until(page, cdp, live_server, registration, data, lambda s: len(s) == 1)
    assert shown[0]["title"] == "TrocheLog"
    assert shown[0]["body"] == "Please open the app."
    # Never a link to another site.
    assert shown[0]["data"]["url"] == "/"
    assert shown[0]["actions"] == []


def test_reminders_page_explains_each_state(new_context, browser, live_server, demo, sign_in):
    context = new_context()
    page = context.new_page()
    sign_in(page, "caregiver@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("People I support")
    page.goto("/account")
    page.get_by_role("link", name="Reminders and notifications").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reminders and notifications")
    device = page.locator("[data-push]")
    # Not asked yet: the button, and nothing asked before the tap.
    expect(device.get_by_role("button", name="Turn on reminders")).to_be_visible()
    expect(device.get_by_role("status")).to_have_text("Reminders are off on this device.")
    assert page.evaluate("Notification.permission") == "default"

    # Blocked in the browser: how to allow it again, and no button that cannot work.
    cdp = browser.new_browser_cdp_session()
    cdp.send("Browser.setPermission", {
        "permission": {"name": "notifications"}, "setting": "denied", "origin": live_server,
        "browserContextId": _context_id(context, page),
    })
    page.reload()
    expect(device.get_by_role("status")).to_contain_text("Notifications are blocked")
    expect(device.get_by_role("status")).to_contain_text("site settings")
    expect(device.get_by_role("button", name="Turn on reminders")).to_be_hidden()


def _context_id(context: BrowserContext, page: Page) -> str:
    cdp = context.new_cdp_session(page)
    info = cdp.send("Target.getTargetInfo")
    return info["targetInfo"]["browserContextId"]


def test_iphone_safari_is_told_to_add_to_home_screen(new_context, demo, sign_in):
    iphone = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
    page = new_context(user_agent=iphone).new_page()
    # Safari outside a Home Screen app has no PushManager.
    page.add_init_script("delete window.PushManager;")
    sign_in(page, "patient@demo.test")
    card = page.locator(".push-card")
    expect(card.get_by_role("status")).to_have_text(re.compile(
        r"Add TrocheLog to your Home Screen first \(Share → Add to Home Screen\)"))
    expect(card.get_by_role("button", name="Turn on reminders")).to_be_hidden()


def test_reminders_page_works_without_javascript(new_context, demo, sign_in, console_errors):
    # The form sent back with its error answers 422; Chromium logs that one.
    console_errors.expect(r"status of 422")
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, "patient@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    page.goto("/account/reminders")
    expect(page.get_by_text("needs JavaScript")).to_be_visible()
    expect(page.get_by_role("button", name="Turn on reminders")).to_be_hidden()

    page.get_by_label("From").fill("21:30")
    page.get_by_label("Until").fill("06:45")
    page.get_by_label("Daily mood").uncheck()
    page.get_by_label("30 minutes").check()
    page.get_by_label("It's time.").check()
    page.get_by_role("button", name="Save reminder settings").click()

    expect(page.locator(".alert[role=status]")).to_have_text("Reminder settings saved.")
    expect(page.get_by_label("From")).to_have_value("21:30")
    expect(page.get_by_label("Until")).to_have_value("06:45")
    expect(page.get_by_label("Daily mood")).not_to_be_checked()
    expect(page.get_by_label("Weekly questionnaires")).to_be_checked()
    expect(page.get_by_label("30 minutes")).to_be_checked()
    expect(page.get_by_label("It's time.")).to_be_checked()

    # A mistake comes back beside its field, with what was typed kept.
    page.get_by_label("Until").fill("")
    page.get_by_role("button", name="Save reminder settings").click()
    expect(page.locator(".field-error")).to_have_count(1)
    expect(page.get_by_label("From")).to_have_value("21:30")


# --- turning reminders on, with the browser's push service stood in for -----------------------


def _fake_push_service(context: BrowserContext, endpoint: str) -> None:
    """PushManager answering as a browser with a push service would (headless Chromium has none:
    it refuses to subscribe in an incognito profile). The subscription lasts in localStorage."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    keys = {"p256dh": _b64url(key), "auth": _b64url(os.urandom(16))}
    context.add_init_script(f"""(() => {{
      if (!window.PushManager) return;
      const subscription = {{
        endpoint: {json.dumps(endpoint)},
        options: {{ applicationServerKey: null }},
        toJSON() {{ return {{ endpoint: this.endpoint, expirationTime: null,
                              keys: {json.dumps(keys)} }}; }},
        unsubscribe() {{ localStorage.removeItem("fake-push"); return Promise.resolve(true); }},
      }};
      PushManager.prototype.getSubscription = function () {{
        return Promise.resolve(localStorage.getItem("fake-push") ? subscription : null);
      }};
      PushManager.prototype.subscribe = function (options) {{
        if (!options || !options.userVisibleOnly || !options.applicationServerKey ||
            options.applicationServerKey.length !== 65) {{
          return Promise.reject(new Error("subscribe needs userVisibleOnly and the VAPID key"));
        }}
        localStorage.setItem("fake-push", "1");
        return Promise.resolve(subscription);
      }};
    }})();""")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _devices(email: str) -> list[PushSubscription]:
    with Session(engine) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        return list(session.exec(
            select(PushSubscription).where(PushSubscription.user_id == user.id)).all())


def test_turning_reminders_on_then_removing_this_device(granted, live_server, demo, sign_in):
    endpoint = "http://127.0.0.1:9/push/this-phone"
    _fake_push_service(granted, endpoint)
    page = granted.new_page()
    sign_in(page, "patient@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    card = page.locator(".push-card")
    # The card says "needs JavaScript" until the scripts, which load after the first paint,
    # replace it: on a busy machine that takes longer than expect's default 5 s.
    expect(card.get_by_role("status")).to_have_text("Reminders are off on this device.",
                                                    timeout=TIMEOUT_MS)
    page.goto("/account/reminders")
    expect(page.get_by_text("No device receives your reminders yet.")).to_be_visible()

    page.get_by_role("button", name="Turn on reminders").click()
    expect(page.locator("[data-push-status]")).to_have_text("Reminders are on for this device.")
    expect(page.get_by_role("button", name="Turn on reminders")).to_be_hidden()
    # The list shows the new device, marked as this one, without a reload.
    device = page.locator("[data-push-devices] .device")
    expect(device).to_have_count(1)
    expect(device.locator("[data-this-device]")).to_have_text("(this device)")
    assert [d.endpoint for d in _devices("patient@demo.test")] == [endpoint]

    # Every app open sends it again: the same device, not a second one; Today drops its card.
    page.goto("/today")
    expect(page.locator("html[data-push-checked]")).to_have_count(1)
    expect(page.locator(".push-card")).to_have_count(0)
    assert [d.endpoint for d in _devices("patient@demo.test")] == [endpoint]

    # Removed here, it stays removed: the next app open does not turn it back on.
    page.goto("/account/reminders")
    expect(page.locator("html[data-push-checked]")).to_have_count(1)
    expect(device.locator("[data-this-device]")).to_have_text("(this device)")
    device.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("The device was removed.")).to_be_visible()
    page.reload()
    expect(page.locator("html[data-push-checked]")).to_have_count(1)
    expect(page.locator("[data-push-status]")).to_have_text("Reminders are off on this device.")
    expect(page.get_by_role("button", name="Turn on reminders")).to_be_visible()
    assert _devices("patient@demo.test") == []


def test_app_open_renews_a_dropped_subscription(granted, live_server, demo, sign_in):
    endpoint = "http://127.0.0.1:9/push/renewed"
    _fake_push_service(granted, endpoint)
    page = granted.new_page()
    sign_in(page, "caregiver@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("People I support")
    page.goto("/account/reminders")
    page.get_by_role("button", name="Turn on reminders").click()
    expect(page.locator("[data-push-status]")).to_have_text("Reminders are on for this device.")

    # The browser dropped the subscription, and the server forgot it (a 410): the next app open
    # subscribes again, with no tap, because this person turned reminders on here.
    page.evaluate("localStorage.removeItem('fake-push')")
    with Session(engine) as session:
        for row in session.exec(select(PushSubscription)).all():
            session.delete(row)
        session.commit()
    page.goto("/supporting")
    expect(page.locator("html[data-push-checked]")).to_have_count(1)
    assert [d.endpoint for d in _devices("caregiver@demo.test")] == [endpoint]


def test_an_unreadable_push_on_a_spanish_phone_speaks_spanish(new_context, live_server):
    context = new_context(locale="es-US")
    context.grant_permissions(["notifications"], origin=live_server)
    page = context.new_page()
    cdp, registration = _registration_id(context, page, live_server)
    shown = _push_until(page, cdp, live_server, registration, "not json at all",
                        lambda s: len(s) == 1)
    assert shown[0]["body"] == "Abra la aplicación, por favor."
