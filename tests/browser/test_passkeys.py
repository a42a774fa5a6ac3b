"""Passkeys, the real ceremony: headless Chromium with a DevTools virtual authenticator (a
platform authenticator with resident keys and user verification) against the live server.

WebAuthn needs a secure context and a domain for its relying party id (an IP address is
refused), so these pages are opened at http://localhost:<port>, which browsers treat as secure;
the server then derives the relying party id "localhost" from the request.
"""

import base64
import json
from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlmodel import Session, select

from app.accounts.models import AuthSession, Passkey
from app.audit.models import AuditEvent
from app.db import engine, utcnow
from tests import factories
from tests.browser.waiting import until


@pytest.fixture
def local(live_server) -> str:
    return live_server.replace("127.0.0.1", "localhost")


@pytest.fixture
def person():
    with Session(engine, expire_on_commit=False) as db:
        user = factories.user(db, role="patient")
        db.commit()
    return user


def virtual_authenticator(context: BrowserContext, page: Page) -> None:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def password_sign_in(page: Page, local: str, email: str) -> None:
    page.goto(f"{local}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{local}/today")


def add_passkey(page: Page, local: str, name: str) -> None:
    page.goto(f"{local}/account/passkeys")
    expect(page.get_by_text("Passkeys need a browser that supports them")).to_be_hidden()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("status")).to_have_text("Passkey added. You can use it to sign in.")


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


@pytest.fixture
def expect_refusals(console_errors):
    # A refused answer is a 4xx, which Chromium logs as a failed resource load.
    console_errors.expect(r"Failed to load resource.*40[0-9]")


def test_add_sign_in_and_remove_a_passkey(context, local, person, expect_refusals):
    page = context.new_page()
    virtual_authenticator(context, page)
    password_sign_in(page, local, person.email)

    add_passkey(page, local, "My test phone")
    listed = page.locator("[data-passkey-list] li")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("My test phone")
    expect(listed).to_contain_text("Not used yet")

    sign_out(page)
    # The passkey alone signs in, and lands on the role's home like a password would.
    page.get_by_role("button", name="Use a passkey").click()
    expect(page).to_have_url(f"{local}/today")

    page.goto(f"{local}/account/passkeys")
    expect(page.locator("[data-passkey-list] li")).to_contain_text("Last used")

    with Session(engine) as db:
        methods = db.exec(
            select(AuthSession.method).where(AuthSession.user_id == person.id)
        ).all()
        assert "passkey" in methods
        sign_ins = db.exec(
            select(AuditEvent).where(AuditEvent.action == "sign_in",
                                     AuditEvent.actor_id == person.id)
        ).all()
        assert {"method": "passkey"} in [e.details for e in sign_ins if e.outcome == "ok"]
        added = db.exec(select(AuditEvent).where(AuditEvent.action == "passkey.add")).all()
        assert [e.outcome for e in added] == ["ok"]

    # Removed, it no longer signs in: the server says so beside the button.
    page.get_by_role("button", name="Remove My test phone").click()
    expect(page.get_by_role("status")).to_have_text(
        "Passkey removed. It can no longer sign you in."
    )
    expect(page.get_by_text("You have no passkeys yet.")).to_be_visible()
    sign_out(page)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.locator("[data-passkey-sign-in] [data-passkey-error]")).to_have_text(
        "This passkey is not set up for TrocheLog, or it was removed. Sign in with your password."
    )
    expect(page).to_have_url(f"{local}/login?signed_out=1")
    with Session(engine) as db:
        removed = db.exec(select(AuditEvent).where(AuditEvent.action == "passkey.remove")).all()
        assert len(removed) == 1
        failed = db.exec(
            select(AuditEvent).where(AuditEvent.action == "sign_in",
                                     AuditEvent.outcome == "failed")
        ).all()
        assert [e.details.get("method") for e in failed] == ["passkey"]


def test_replayed_and_forged_assertions_are_refused(context, local, person, expect_refusals):
    page = context.new_page()
    virtual_authenticator(context, page)
    password_sign_in(page, local, person.email)
    add_passkey(page, local, "Phone")
    sign_out(page)

    # Capture a genuine answer on its way to the server, and let it sign in.
    with page.expect_request(f"{local}/login/passkey") as posted:
        page.get_by_role("button", name="Use a passkey").click()
    expect(page).to_have_url(f"{local}/today")
    answer = json.loads(posted.value.post_data)
    sign_out(page)

    with Session(engine) as db:
        before_sessions = len(db.exec(select(AuthSession)).all())
        before_count = db.exec(select(Passkey.sign_count)).one()

    def post(body: dict) -> tuple[int, dict]:
        # Posted from the signed-out page itself, with its CSRF token, as a script on it could.
        return tuple(page.evaluate(
            """async (body) => {
                const token = document.querySelector(
                    '[data-passkey-sign-in] input[name=csrf_token]').value;
                const r = await fetch('/login/passkey', {method: 'POST', headers: {
                    'Content-Type': 'application/json', 'X-CSRF-Token': token},
                    body: JSON.stringify(body)});
                return [r.status, await r.json()];
            }""",
            body,
        ))

    # The same answer again: its challenge was used up.
    status, reply = post(answer)
    assert status == 400
    assert reply["detail"] == (
        "This passkey request has expired or was already used. Please try again."
    )

    # A forged signature over a fresh challenge the server did issue to this browser.
    options = page.evaluate(
        """async () => {
            const token = document.querySelector(
                '[data-passkey-sign-in] input[name=csrf_token]').value;
            const r = await fetch('/login/passkey/options', {method: 'POST', headers: {
                'Content-Type': 'application/json', 'X-CSRF-Token': token}, body: '{}'});
            return await r.json();
        }"""
    )
    forged = json.loads(json.dumps(answer))
    client_data = {"type": "webauthn.get", "challenge": options["challenge"],
                   "origin": local, "crossOrigin": False}
    forged["credential"]["response"]["clientDataJSON"] = (
        base64.urlsafe_b64encode(json.dumps(client_data).encode()).decode().rstrip("=")
    )
    status, reply = post(forged)
    assert status == 400
    assert reply["detail"] == "This passkey's answer was not valid. Please try again."

    # Nothing was written: no session, the counter unchanged, and the page is still signed out.
    with Session(engine) as db:
        assert len(db.exec(select(AuthSession)).all()) == before_sessions
        assert db.exec(select(Passkey.sign_count)).one() == before_count
    page.goto(f"{local}/today")
    expect(page).to_have_url(f"{local}/login?next=/today")

    # A copy of the key elsewhere has counted further than this authenticator: refused.
    with Session(engine) as db:
        passkey = db.exec(select(Passkey)).one()
        passkey.sign_count = before_count + 1000
        db.add(passkey)
        db.commit()
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.locator("[data-passkey-sign-in] [data-passkey-error]")).to_contain_text(
        "This passkey may have been copied"
    )
    expect(page).to_have_url(f"{local}/login?next=/today")
    with Session(engine) as db:
        assert len(db.exec(select(AuthSession)).all()) == before_sessions
        assert db.exec(select(Passkey.sign_count)).one() == before_count + 1000
        refusals = db.exec(
            select(AuditEvent.details).where(AuditEvent.action == "sign_in",
                                             AuditEvent.outcome == "failed")
        ).all()
        assert sorted(d["reason"] for d in refusals) == ["assertion", "challenge", "sign_count"]


def test_confirm_it_is_you_with_a_passkey(context, local, person):
    page = context.new_page()
    virtual_authenticator(context, page)
    password_sign_in(page, local, person.email)
    add_passkey(page, local, "Phone")

    # The last proof is old: adding another passkey asks for a new one first.
    with Session(engine) as db:
        auth = db.exec(select(AuthSession).where(AuthSession.user_id == person.id)).one()
        auth.reauthenticated_at = utcnow() - timedelta(hours=1)
        db.add(auth)
        db.commit()
    page.goto(f"{local}/account/passkeys")
    expect(page.get_by_role("button", name="Add a passkey")).to_have_count(0)
    page.get_by_role("link", name="Confirm it is you").click()
    expect(page).to_have_url(f"{local}/reauth?next=/account/passkeys")
    page.get_by_role("button", name="Confirm with a passkey").click()
    expect(page).to_have_url(f"{local}/account/passkeys")
    expect(page.get_by_role("button", name="Add a passkey")).to_be_visible()
    with Session(engine) as db:
        auth = db.exec(select(AuthSession).where(AuthSession.user_id == person.id)).one()
        assert utcnow() - auth.reauthenticated_at < timedelta(minutes=5)
        events = db.exec(select(AuditEvent).where(AuditEvent.action == "reauth")).all()
        assert [(e.outcome, e.details) for e in events] == [("ok", {"method": "passkey"})]


# The layout shifts of the page so far (what CLS adds up), once the browser has reported the
# last frame's. All of them: nothing is typed or tapped here, and headless Chromium marks a
# fresh page's shifts "after input" (which CLS would leave out, and Lighthouse counted).
LAYOUT_SHIFT = """() => new Promise((resolve) => {
  let shifted = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) shifted += entry.value;
  }).observe({ type: "layout-shift", buffered: true });
  setTimeout(() => resolve(shifted), 300);
})"""


def test_the_sign_in_page_does_not_move_when_the_passkey_offer_appears(page: Page):
    # passkeys.js runs after the first paint; the offer it reveals was already in its place.
    page.goto("/login")
    expect(page.get_by_role("button", name="Use a passkey")).to_be_visible()
    until(page, "!document.querySelector('[data-passkey-sign-in]').hidden")
    assert page.evaluate(LAYOUT_SHIFT) == 0
