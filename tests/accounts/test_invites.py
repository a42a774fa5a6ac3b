"""Invites: the only way in. A prescriber adds a patient; a patient invites a caregiver."""

import re
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import func, select

from app.accounts.models import AuthSession, Invite, InviteKind, Role, User
from app.db import utcnow
from app.web import csrf
from tests import factories
from tests.conftest import Auth, csrf_from
from tests.helpers import another_client, follow, fresh, invite_token, session_cookie, sha256

DEAD_LINK = ("This invite link has expired or was already used. If you set up your account with "
             "it, sign in; if not, ask for a new one.")
ALREADY_SHOWN = "This invite was already created and its link was shown once."
PATIENT_PASSWORD = "my own good password"


def _count(db, model, *where) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model).where(*where)).one()


def _new_patient(auth: Auth, **overrides):
    form = {
        "client_id": str(uuid.uuid4()),
        "display_name": "Robin Example",
        "email": "robin@example.test",
        "timezone": "America/Denver",
        **overrides,
    }
    return auth.post("/patients/new", form)


def _accept(client: TestClient, token: str, email: str = "robin@example.test", **overrides):
    """Accept as the invitee would: they type the address the invite was sent to."""
    page = client.get(f"/invite/{token}")
    assert page.status_code == 200, page.text
    form = {
        "email": email,
        "password": PATIENT_PASSWORD,
        "password_confirm": PATIENT_PASSWORD,
        "timezone": "America/Chicago",
        "csrf_token": csrf_from(page.text),
        **overrides,
    }
    return client.post(f"/invite/{token}", data=form)


@pytest.fixture
def prescriber(login_as) -> User:
    return login_as("prescriber")


# --- a prescriber adds a patient ----------------------------------------------------------------


def test_patient_invite_from_creation_to_today(db, auth, client, prescriber):
    response = _new_patient(auth)
    assert response.status_code == 200
    assert "Invite link for Robin Example" in response.text
    assert "robin@example.test" in response.text
    # The link is a secret shown once: no cache may keep it.
    assert response.headers["Cache-Control"] == "no-store"
    token = invite_token(response.text)

    patient = db.exec(select(User).where(User.email == "robin@example.test")).one()
    assert patient.role == Role.PATIENT
    assert patient.password_hash is None
    listing = client.get("/patients")
    assert "Robin Example" in listing.text
    assert "Invite not yet accepted" in listing.text

    with another_client() as phone:
        page = phone.get(f"/invite/{token}")
        # The link alone does not tell its holder whose it is: the invitee types the address.
        assert "robin@example.test" not in page.text
        assert 'name="email"' in page.text
        # The zone the prescriber chose for this patient, not the clinic default.
        assert 'value="America/Denver" selected' in page.text
        accepted = _accept(phone, token)
        assert accepted.status_code == 303
        assert session_cookie(phone)
        today = follow(phone, accepted)
        assert str(today.url).endswith("/today?welcome=1")
        assert today.status_code == 200
        assert "Welcome, Robin Example. Your account is ready." in today.text

    patient = fresh(db, User, patient.id)
    assert patient.timezone == "America/Chicago"
    assert patient.password_hash is not None
    assert "Invite not yet accepted" not in client.get("/patients").text
    with another_client() as laptop:
        assert Auth(laptop).login("robin@example.test", PATIENT_PASSWORD).status_code == 303


def test_invite_link_is_stored_only_as_a_hash(db, auth, prescriber):
    token = invite_token(_new_patient(auth).text)
    invite = db.exec(select(Invite)).one()
    assert invite.token_hash == sha256(token)
    with db.connection() as conn:
        row = conn.execute(text("SELECT * FROM invites")).one()
    assert all(token not in str(value) for value in row)


def test_invite_link_works_once(db, auth, prescriber):
    token = invite_token(_new_patient(auth).text)
    with another_client() as phone:
        assert _accept(phone, token).status_code == 303
    with another_client() as someone:
        again = someone.get(f"/invite/{token}")
        assert again.status_code == 404
        assert DEAD_LINK in again.text
        login_token = csrf_from(someone.get("/login").text)
        replay = someone.post(
            f"/invite/{token}",
            data={
                "password": "an attacker's password",
                "password_confirm": "an attacker's password",
                "timezone": "UTC",
                "csrf_token": login_token,
            },
        )
        assert replay.status_code == 404
        assert DEAD_LINK in replay.text
        assert session_cookie(someone) is None
    with another_client() as laptop:
        assert Auth(laptop).login("robin@example.test", PATIENT_PASSWORD).status_code == 303


def test_expired_invite_is_refused(db, auth, prescriber):
    token = invite_token(_new_patient(auth).text)
    invite = db.exec(select(Invite)).one()
    invite.expires_at = utcnow() - timedelta(minutes=1)
    db.add(invite)
    db.commit()
    with another_client() as phone:
        page = phone.get(f"/invite/{token}")
        assert page.status_code == 404
        assert DEAD_LINK in page.text
        token_for_form = csrf_from(phone.get("/login").text)
        post = phone.post(
            f"/invite/{token}",
            data={
                "password": PATIENT_PASSWORD,
                "password_confirm": PATIENT_PASSWORD,
                "timezone": "UTC",
                "csrf_token": token_for_form,
            },
        )
        assert post.status_code == 404
        assert session_cookie(phone) is None
    assert fresh(db, User, invite.patient_id).password_hash is None


def test_made_up_invite_link_is_the_same_404(client):
    response = client.get(f"/invite/{uuid.uuid4().hex}")
    assert response.status_code == 404
    assert DEAD_LINK in response.text


def test_double_submit_creates_one_patient_and_one_invite(db, auth, prescriber):
    client_id = str(uuid.uuid4())
    first = _new_patient(auth, client_id=client_id)
    second = _new_patient(auth, client_id=client_id)
    assert first.status_code == second.status_code == 200
    invite_token(first.text)
    assert ALREADY_SHOWN in second.text
    assert "/invite/" not in second.text
    assert _count(db, User, User.email == "robin@example.test") == 1
    assert _count(db, Invite) == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "Enter an email address like name@example.com."),
        (
            {"email": "robin @example.test"},
            "email",
            "Enter an email address like name@example.com.",
        ),
        ({"display_name": "   "}, "display_name", "Enter a name."),
        ({"display_name": "x" * 121}, "display_name", "Use at most 120 characters."),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Choose a time zone from the list."),
    ],
)
def test_invalid_new_patient_is_refused_with_values_kept(
    db, auth, prescriber, overrides, field, message
):
    client_id = str(uuid.uuid4())
    response = _new_patient(auth, client_id=client_id, **overrides)
    assert response.status_code == 422
    assert f'id="{field}-error">{message}</p>' in response.text
    values = {"display_name": "Robin Example", "email": "robin@example.test", **overrides}
    if field != "display_name" or values["display_name"].strip():
        assert f'value="{values["display_name"]}"' in response.text
    if field == "timezone":
        assert '<option value="Mars/Olympus_Mons" selected>' in response.text
    else:
        assert f'value="{values["email"]}"' in response.text
    # The same form id, so fixing the mistake and resubmitting still writes once.
    assert f'name="client_id" value="{client_id}"' in response.text
    assert _count(db, User, User.role == Role.PATIENT) == 0
    assert _count(db, Invite) == 0


def test_existing_email_is_refused(db, auth, prescriber):
    factories.user(db, role="caregiver", email="taken@example.test")
    db.commit()
    response = _new_patient(auth, email="Taken@Example.test")
    assert response.status_code == 422
    assert "An account with this email already exists." in response.text
    assert _count(db, Invite) == 0


def test_control_characters_never_reach_the_database(db, auth, prescriber):
    """PostgreSQL refuses NUL in text: these used to be 500s there and stored as-is on SQLite."""
    refused = _new_patient(auth, email="ro\x00bin@example.test")
    assert refused.status_code == 422
    assert "The form contained a character that cannot be saved." in refused.text
    assert _count(db, Invite) == 0

    created = _new_patient(auth, display_name="Robin Exam\x07ple")
    assert created.status_code == 200
    patient = db.exec(select(User).where(User.email == "robin@example.test")).one()
    assert patient.display_name == "Robin Example"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"password": "short", "password_confirm": "short"}, "password", "Use at least"),
        ({"password_confirm": "something else entirely"}, "password_confirm", "do not match"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Choose a time zone from the list."),
    ],
)
def test_invalid_acceptance_writes_nothing_and_keeps_the_link(
    db, auth, prescriber, overrides, field, message
):
    token = invite_token(_new_patient(auth).text)
    with another_client() as phone:
        response = _accept(phone, token, **overrides)
        assert response.status_code == 422
        assert f'id="{field}-error">' in response.text
        assert message in response.text
        # The chosen time zone is kept; the passwords are never sent back.
        chosen = overrides.get("timezone", "America/Chicago")
        assert f'<option value="{chosen}" selected>' in response.text
        assert PATIENT_PASSWORD not in response.text
        assert session_cookie(phone) is None

        patient = db.exec(select(User).where(User.email == "robin@example.test")).one()
        assert patient.password_hash is None
        assert patient.timezone == "America/Denver"
        assert db.exec(select(Invite)).one().used_at is None
        assert _count(db, AuthSession) == 1  # the prescriber's own

        # Fixing the mistake works: the link was not used up.
        assert _accept(phone, token).status_code == 303


def test_prescriber_reissues_and_the_earlier_link_stops_working(db, auth, client, prescriber):
    first = invite_token(_new_patient(auth).text)
    patient = db.exec(select(User).where(User.email == "robin@example.test")).one()

    detail = client.get(f"/patients/{patient.id}")
    assert "Create a new invite link" in detail.text
    client_id = str(uuid.uuid4())
    reissued = auth.post(f"/patients/{patient.id}/invite", {"client_id": client_id})
    assert reissued.status_code == 200
    second = invite_token(reissued.text)
    assert second != first

    # A double submit of the same form makes no third link and keeps the second alive.
    replay = auth.post(f"/patients/{patient.id}/invite", {"client_id": client_id})
    assert ALREADY_SHOWN in replay.text
    assert _count(db, Invite) == 2

    with another_client() as phone:
        old = phone.get(f"/invite/{first}")
        assert old.status_code == 404
        assert DEAD_LINK in old.text
        assert _accept(phone, second).status_code == 303

    # Once the patient is in, there is nothing to re-issue.
    assert "Create a new invite link" not in client.get(f"/patients/{patient.id}").text
    late = auth.post(f"/patients/{patient.id}/invite", {"client_id": str(uuid.uuid4())})
    assert late.status_code == 422
    assert "This patient has already set up their account." in late.text
    assert "/invite/" not in late.text


def test_new_patient_page_prepares_a_fresh_form_id(client, prescriber):
    first = client.get("/patients/new").text
    second = client.get("/patients/new").text
    assert 'name="client_id" value="' in first
    # Masked differently in each response (BREACH), the same session's token underneath.
    assert csrf.unmask(csrf_from(first)) == csrf.unmask(csrf_from(second))
    ids = [
        page.split('name="client_id" value="', 1)[1].split('"', 1)[0] for page in (first, second)
    ]
    assert ids[0] != ids[1]
    uuid.UUID(ids[0])


# --- the time zone the prescriber chose ---------------------------------------------------------

LOS_ANGELES_SET = (
    "Your prescriber set your time zone to Los Angeles (Pacific). Change it if that is wrong."
)


def _selected_timezone(html: str) -> str:
    chosen = re.findall(r'<option value="([^"]+)" selected>', html)
    assert len(chosen) == 1, chosen
    return chosen[0]


def test_invite_keeps_the_time_zone_the_prescriber_chose(db, auth, client, prescriber):
    """The prescriber chose Los Angeles; the page used to offer New York, and sessions ran three
    hours off once the patient accepted without looking."""
    token = invite_token(_new_patient(auth, timezone="America/Los_Angeles").text)
    # Even opened by the (New York) prescriber, the page shows the patient's zone.
    assert _selected_timezone(client.get(f"/invite/{token}").text) == "America/Los_Angeles"

    with another_client() as phone:
        page = phone.get(f"/invite/{token}")
        assert _selected_timezone(page.text) == "America/Los_Angeles"
        assert LOS_ANGELES_SET in page.text
        assert 'aria-describedby="timezone-hint"' in page.text
        accepted = _accept(phone, token, timezone=_selected_timezone(page.text))
        assert accepted.status_code == 303

    patient = db.exec(select(User).where(User.email == "robin@example.test")).one()
    assert patient.timezone == "America/Los_Angeles"


def test_patient_can_knowingly_change_the_time_zone(db, auth, prescriber):
    token = invite_token(_new_patient(auth, timezone="America/Los_Angeles").text)
    with another_client() as phone:
        refused = _accept(phone, token, password_confirm="not the same")
        # Shown again with the error: the sentence still names what the prescriber chose.
        assert LOS_ANGELES_SET in refused.text
        assert _accept(phone, token, timezone="Europe/Lisbon").status_code == 303
    patient = db.exec(select(User).where(User.email == "robin@example.test")).one()
    assert patient.timezone == "Europe/Lisbon"


# --- a leaked link alone is not enough ----------------------------------------------------------

WRONG_EMAIL = "That is not the email address this invite was sent to."


def test_invite_page_asks_for_the_address_and_never_shows_it(db, auth, prescriber):
    token = invite_token(_new_patient(auth).text)
    with another_client() as phone:
        page = phone.get(f"/invite/{token}")
        assert "robin@example.test" not in page.text
        assert 'name="email"' in page.text
        assert 'autocomplete="username"' in page.text  # password managers pair it with the password
        # The page holds a secret link: kept out of caches, and out of Referer headers.
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "strict-origin"


@pytest.mark.parametrize("typed", ["someone.else@example.test", "", "robin@example.tes"])
def test_wrong_address_writes_nothing(db, auth, prescriber, typed):
    token = invite_token(_new_patient(auth).text)
    with another_client() as thief:
        response = _accept(thief, token, email=typed)
        assert response.status_code == 422
        assert f'id="email-error">{WRONG_EMAIL}</p>' in response.text
        assert "robin@example.test" not in response.text
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "strict-origin"
        assert session_cookie(thief) is None
    patient = fresh(db, User, db.exec(select(User.id).where(User.role == Role.PATIENT)).one())
    assert patient.password_hash is None
    assert db.exec(select(Invite)).one().used_at is None
    with another_client() as phone:
        # Case and surrounding spaces do not matter.
        assert _accept(phone, token, email="  Robin@Example.TEST ").status_code == 303


def test_caregiver_invite_needs_the_address_too(db, login_as, auth):
    login_as("patient")
    token = invite_token(_invite_caregiver(auth, "Casey Sitter", "casey@example.test").text)
    with another_client() as thief:
        assert "casey@example.test" not in thief.get(f"/invite/{token}").text
        response = _accept(thief, token, email="thief@example.test")
        assert response.status_code == 422
        assert WRONG_EMAIL in response.text
    assert _count(db, User, User.role == Role.CAREGIVER) == 0
    with another_client() as phone:
        assert _accept(phone, token, email="casey@example.test").status_code == 303
    assert _count(db, User, User.role == Role.CAREGIVER) == 1


def test_guessing_the_address_is_throttled(db, auth, prescriber):
    token = invite_token(_new_patient(auth).text)
    with another_client() as thief:
        for n in range(5):
            assert _accept(thief, token, email=f"guess{n}@example.test").status_code == 422
        # Even the right address waits now: otherwise the guessing would eventually win.
        blocked = _accept(thief, token)
        assert blocked.status_code == 429
        assert "Too many attempts. Try again in" in blocked.text
        assert int(blocked.headers["Retry-After"]) > 0
    patient = db.exec(select(User).where(User.email == "robin@example.test")).one()
    assert fresh(db, User, patient.id).password_hash is None
    assert db.exec(select(Invite)).one().used_at is None


# --- a patient invites a caregiver --------------------------------------------------------------


def _invite_caregiver(auth: Auth, name: str, email: str, client_id: str | None = None):
    return auth.post(
        "/care-team/invite",
        {"client_id": client_id or str(uuid.uuid4()), "display_name": name, "email": email},
    )


def test_caregiver_invite_from_creation_to_supporting(db, login_as, auth, client):
    login_as("patient", display_name="Jamie Patient")
    response = _invite_caregiver(auth, "Casey Sitter", "casey@example.test")
    assert response.status_code == 200
    token = invite_token(response.text)
    team = client.get("/care-team").text
    assert "Invites waiting" in team
    assert "Casey Sitter (casey@example.test)" in team

    with another_client() as phone:
        page = phone.get(f"/invite/{token}")
        assert "has invited you to support them" in page.text  # named (issue 12)
        accepted = _accept(phone, token, email="casey@example.test")
        assert accepted.status_code == 303
        supporting = follow(phone, accepted)
        assert str(supporting.url).endswith("/supporting?welcome=1")
        assert "Welcome. You are now on the care team." in supporting.text
        assert "Jamie Patient" in supporting.text
        # Alerts wait on the sitter's own yes: the welcome says so, and leads to the button.
        welcome = supporting.text[supporting.text.index("Welcome."):]
        welcome = welcome[:welcome.index("</p>")]
        assert "Safety alerts are off until you turn them on" in welcome
        target = re.search(r'<a href="#(alerts-[0-9a-f-]+)">Turn alerts on</a>', welcome).group(1)
        assert f'id="{target}"' in supporting.text

    caregiver = db.exec(select(User).where(User.email == "casey@example.test")).one()
    assert caregiver.role == Role.CAREGIVER
    assert caregiver.display_name == "Casey Sitter"
    team = client.get("/care-team").text
    assert "Invites waiting" not in team
    assert "Casey Sitter" in team


def test_patient_cannot_invite_themselves(db, login_as, auth):
    me = login_as("patient")
    response = _invite_caregiver(auth, "Me Again", me.email.upper())
    assert response.status_code == 422
    assert "Enter your caregiver&#39;s email, not your own." in response.text
    assert _count(db, Invite) == 0


def test_invalid_caregiver_invite_keeps_values(db, login_as, auth):
    login_as("patient")
    response = _invite_caregiver(auth, "Casey Sitter", "casey-at-example")
    assert response.status_code == 422
    assert 'value="Casey Sitter"' in response.text
    assert 'value="casey-at-example"' in response.text
    assert _count(db, Invite) == 0


def test_existing_caregiver_signs_in_to_accept_a_second_patient(db, auth, client):
    first = factories.user(db, role="patient", display_name="First Patient")
    second = factories.user(db, role="patient", display_name="Second Patient")
    caregiver = factories.user(db, role="caregiver", email="sam@example.test")
    factories.link(db, first, caregiver)
    db.commit()

    auth.login(second.email)
    token = invite_token(_invite_caregiver(auth, "Sam", "sam@example.test").text)

    with another_client() as phone:
        page = phone.get(f"/invite/{token}")
        assert page.status_code == 200
        # The page does not say the address has an account (tests/careteam/test_scopes.py
        # compares it with a new address's page); it offers signing in to everyone.
        assert "already an account" not in page.text
        assert "sam@example.test" not in page.text
        assert f'href="/login?next=/invite/{token}"' in page.text

        # Posting without signing in does not link anyone and does not use the link.
        refused = phone.post(
            f"/invite/{token}",
            data={"timezone": "UTC", "csrf_token": csrf_from(phone.get("/login").text)},
        )
        assert refused.status_code == 422
        assert WRONG_EMAIL in refused.text
        # The right address with a password that is not the account's: refused, link unused.
        wrong = _accept(phone, token, email="sam@example.test", password="not-sams-password",
                        password_confirm="not-sams-password")
        assert wrong.status_code == 422
        assert "already has a TrocheLog account" in wrong.text
        assert "Second Patient" not in phone.get("/supporting").text

        # Sign in, come back to the link, accept.
        login_page = phone.get(f"/login?next=/invite/{token}")
        signed_in = phone.post(
            "/login",
            data={
                "email": "sam@example.test",
                "password": factories.PASSWORD,
                "next": f"/invite/{token}",
                "csrf_token": csrf_from(login_page.text),
            },
        )
        assert signed_in.headers["location"] == f"/invite/{token}"
        page = phone.get(f"/invite/{token}")
        assert "Accept invite" in page.text
        accepted = phone.post(
            f"/invite/{token}",
            data={"timezone": "America/New_York", "csrf_token": csrf_from(page.text)},
        )
        assert accepted.status_code == 303
        supporting = follow(phone, accepted)
        assert "First Patient" in supporting.text
        assert "Second Patient" in supporting.text

    assert _count(db, User, User.email == "sam@example.test") == 1


def test_someone_else_signed_in_cannot_take_a_caregiver_invite(db, auth):
    patient = factories.user(db, role="patient", display_name="Guarded Patient")
    factories.user(db, role="caregiver", email="invitee@example.test")
    intruder = factories.user(db, role="caregiver")
    db.commit()
    auth.login(patient.email)
    token = invite_token(_invite_caregiver(auth, "Invitee", "invitee@example.test").text)

    with another_client() as other:
        Auth(other).login(intruder.email)
        page = other.get(f"/invite/{token}")
        assert "Accept invite" not in page.text  # the same page as for anyone signed out
        response = other.post(
            f"/invite/{token}", data={"timezone": "UTC", "csrf_token": csrf_from(page.text)}
        )
        assert response.status_code == 422
        assert "Guarded Patient" not in other.get("/supporting").text


def test_caregiver_invite_to_a_non_caregiver_account_is_refused(db, auth):
    patient = factories.user(db, role="patient")
    prescriber = factories.user(db, role="prescriber")
    db.commit()
    auth.login(patient.email)
    token = invite_token(_invite_caregiver(auth, "Doc", prescriber.email).text)
    with another_client() as phone:
        Auth(phone).login(prescriber.email)
        page = phone.get(f"/invite/{token}")
        response = phone.post(
            f"/invite/{token}", data={"timezone": "UTC", "csrf_token": csrf_from(page.text)}
        )
        assert response.status_code == 422
        assert "This account cannot be added as a caregiver." in response.text
    invite = db.exec(select(Invite).where(Invite.kind == InviteKind.CAREGIVER)).one()
    assert invite.used_at is None


def test_caregiver_invite_starts_from_the_patients_time_zone(db, login_as, auth):
    login_as("patient", timezone="America/Los_Angeles")
    token = invite_token(_invite_caregiver(auth, "Casey Sitter", "casey@example.test").text)
    with another_client() as phone:
        page = phone.get(f"/invite/{token}")
        assert _selected_timezone(page.text) == "America/Los_Angeles"
        assert (
            "Your time zone is set to Los Angeles (Pacific), the same as the person you support."
            in page.text
        )
        accepted = _accept(
            phone, token, email="casey@example.test", timezone=_selected_timezone(page.text)
        )
        assert accepted.status_code == 303
    caregiver = db.exec(select(User).where(User.email == "casey@example.test")).one()
    assert caregiver.timezone == "America/Los_Angeles"


def test_signed_in_caregiver_sees_their_own_time_zone(db, auth):
    patient = factories.user(db, role="patient", timezone="America/Los_Angeles")
    factories.user(db, role="caregiver", email="sam@example.test", timezone="Europe/London")
    db.commit()
    auth.login(patient.email)
    token = invite_token(_invite_caregiver(auth, "Sam", "sam@example.test").text)
    with another_client() as phone:
        Auth(phone).login("sam@example.test")
        page = phone.get(f"/invite/{token}")
        assert "Accept invite" in page.text
        assert _selected_timezone(page.text) == "Europe/London"
        assert "the same as the person you support" not in page.text


def test_the_time_zone_select_reads_in_words(db, login_as, client):
    """The invite and account pages listed "America/New York" and "America/Argentina/Buenos
    Aires" under a sentence that said "Chicago (Central)"."""
    login_as("patient", timezone="America/Chicago")
    page = client.get("/account").text
    assert '<option value="America/Chicago" selected>Chicago (Central)</option>' in page
    assert '<option value="America/Argentina/Buenos_Aires" >Buenos Aires</option>' in page
    assert "America/New York" not in page
