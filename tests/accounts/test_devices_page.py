"""The signed-in devices page: every session of the account, end one or all the others."""

import re

from sqlmodel import select

from app.audit.models import AuditEvent
from tests import factories
from tests.conftest import Auth, csrf_from
from tests.helpers import another_client, sessions_of

PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
LAPTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def _devices(client):
    page = client.get("/account/devices")
    assert page.status_code == 200
    return page


def test_account_page_links_to_devices_and_app_lock(login_as, client):
    login_as("patient")
    page = client.get("/account").text
    assert 'href="/account/devices"' in page
    assert 'href="/account/app-lock"' in page


def test_prescriber_has_devices_but_no_app_lock(login_as, client):
    login_as("prescriber")
    page = client.get("/account").text
    assert 'href="/account/devices"' in page
    assert 'href="/account/app-lock"' not in page
    assert client.get("/account/app-lock").status_code == 403


def test_page_lists_every_session_with_this_device_marked(db, login_as, client):
    client.headers["User-Agent"] = LAPTOP
    user = login_as("patient", timezone="Europe/Paris")
    with another_client() as phone:
        phone.headers["User-Agent"] = PHONE
        assert Auth(phone).login(user.email).status_code == 303
        page = _devices(client).text
    assert "Firefox on Windows" in page and "Safari on iPhone" in page
    assert page.count("This device") == 1
    # This device comes first and is the one marked.
    assert page.index("Firefox on Windows") < page.index("This device") < page.index("Safari")
    assert page.count("Password") >= 2  # how each signed in
    assert "Sign out everywhere else" in page
    assert PHONE not in page  # the label, never the header


def test_times_are_in_the_persons_time_zone(db, login_as, client):
    user = login_as("patient", timezone="Asia/Tokyo")
    (row,) = sessions_of(db, user)
    from app.templating import local_time

    assert local_time(row.created_at, "Asia/Tokyo") in _devices(client).text


def test_ending_another_device_signs_it_out(db, login_as, client):
    user = login_as("patient")
    with another_client() as phone:
        phone.headers["User-Agent"] = PHONE
        Auth(phone).login(user.email)
        assert phone.get("/today").status_code == 200
        page = _devices(client).text
        other = next(s for s in sessions_of(db, user) if s.device == "Safari on iPhone")
        response = client.post(f"/account/devices/{other.id}/end",
                               data={"csrf_token": csrf_from(page)})
        assert response.status_code == 303
        assert response.headers["location"] == "/account/devices?ended=one"
        assert "That device is signed out." in client.get(response.headers["location"]).text
        # The phone's next request is signed out; this browser is not.
        assert phone.get("/today").status_code == 303
        assert client.get("/today").status_code == 200
    entries = db.exec(select(AuditEvent).where(AuditEvent.action == "session.end")).all()
    assert [e.details for e in entries] == [{"scope": "one"}]


def test_sign_out_everywhere_else(db, login_as, client):
    user = login_as("caregiver")
    for _ in range(2):
        with another_client() as phone:
            Auth(phone).login(user.email)
    assert len(sessions_of(db, user)) == 3
    page = _devices(client).text
    response = client.post("/account/devices/others/end", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    assert len(sessions_of(db, user)) == 1
    assert client.get("/supporting").status_code == 200
    assert "Sign out everywhere else" not in _devices(client).text


def test_ending_this_device_is_signing_out(db, login_as, client):
    user = login_as("patient")
    (row,) = sessions_of(db, user)
    page = _devices(client).text
    response = client.post(f"/account/devices/{row.id}/end", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?signed_out=1"
    assert sessions_of(db, user) == []


def test_cannot_end_someone_elses_session(db, login_as, client):
    stranger = factories.user(db, role="patient")
    db.commit()
    with another_client() as other:
        Auth(other).login(stranger.email)
    (theirs,) = sessions_of(db, stranger)
    login_as("patient")
    page = _devices(client).text
    assert str(theirs.id) not in page
    response = client.post(f"/account/devices/{theirs.id}/end",
                           data={"csrf_token": csrf_from(page)})
    assert response.status_code == 404
    assert len(sessions_of(db, stranger)) == 1


def test_end_buttons_are_real_forms_with_csrf(login_as, client):
    login_as("patient")
    page = _devices(client).text
    forms = re.findall(r'<form method="post" action="/account/devices/[^"]+/end">\s*'
                       r'<input type="hidden" name="csrf_token"', page)
    assert forms
    assert client.post("/account/devices/others/end").status_code == 403  # no token
