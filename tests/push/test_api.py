"""/api/v1/push: the public key, saving and removing this browser's subscription, and sign-out
stopping reminders on that device."""

import base64
import os

import pytest
from sqlmodel import Session, select

from app.accounts.models import AuthSession
from app.config import settings
from app.db import engine, utcnow
from app.errors import Invalid, NotFound
from app.push import service, vapid
from app.push.models import PushSubscription
from tests import factories
from tests.conftest import Auth, csrf_from
from tests.helpers import another_client, signed_in_clients

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
WINDOWS_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
WINDOWS_EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0"
)
PATH = "/api/v1/push/subscriptions"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(client) -> str:
    return client.get("/api/v1/me").json()["csrf_token"]


def _body(push_service, device="phone", **extra) -> dict:
    return {**push_service.subscription(device), **extra}


def _post(client, body, headers=None):
    return client.post(PATH, json=body, headers={"X-CSRF-Token": _token(client), **(headers or {})})


def _delete(client, endpoint):
    return client.request(
        "DELETE", PATH, json={"endpoint": endpoint}, headers={"X-CSRF-Token": _token(client)}
    )


def _rows(db) -> list[PushSubscription]:
    db.expire_all()
    return list(db.exec(select(PushSubscription)).all())


# --- the public key ---------------------------------------------------------------------------


def test_public_key_is_the_one_the_app_signs_with(db, client):
    response = client.get("/api/v1/push/vapid-public-key")
    assert response.status_code == 200
    assert response.json() == {"public_key": vapid.public_key(db)}
    assert response.headers["cache-control"] == "no-store"


# --- subscribing ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["patient", "caregiver", "prescriber"])
def test_any_signed_in_person_can_subscribe(db, client, login_as, push_service, role):
    user = login_as(role)
    body = _body(push_service, name="My phone")
    response = _post(client, body)

    assert response.status_code == 201, response.text
    [row] = _rows(db)
    assert response.json() == {"id": str(row.id), "name": "My phone"}
    assert row.user_id == user.id
    assert row.endpoint == body["endpoint"]
    assert (row.p256dh, row.auth) == (body["keys"]["p256dh"], body["keys"]["auth"])
    # Bound to this sign-in, so signing out here stops it.
    [session_row] = db.exec(select(AuthSession).where(AuthSession.user_id == user.id)).all()
    assert row.auth_session_id == session_row.id


def test_the_browsers_own_json_is_accepted(db, client, login_as, push_service):
    login_as("patient")
    body = {**push_service.subscription("phone"), "expirationTime": None}
    assert _post(client, body, {"User-Agent": ANDROID_CHROME}).json()["name"] == (
        "Chrome on Android"
    )


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        (ANDROID_CHROME, "Chrome on Android"),
        (IPHONE_SAFARI, "Safari on iPhone"),
        (WINDOWS_FIREFOX, "Firefox on Windows"),
        (WINDOWS_EDGE, "Edge on Windows"),
        ("curl/8.5.0", "This browser"),
        ("", "This browser"),
    ],
)
def test_a_device_is_named_from_its_browser(agent, name):
    assert service.device_name(agent) == name


def test_subscribing_again_updates_instead_of_adding(db, client, login_as, push_service):
    login_as("patient")
    body = _body(push_service, name="Kitchen tablet")
    first = _post(client, body).json()
    # The browser re-posts on every app open; its keys may have rotated.
    renewed = {**body, "keys": push_service.subscription("phone")["keys"]}
    renewed.pop("name")
    second = _post(client, renewed, {"User-Agent": ANDROID_CHROME})

    assert second.status_code == 201
    assert second.json() == first  # same device, and the name it was given stays
    [row] = _rows(db)
    assert row.p256dh == renewed["keys"]["p256dh"]


def test_a_handed_over_phone_moves_to_the_new_person(db, client, login_as, push_service):
    first_owner = login_as("patient")
    body = _body(push_service)
    first_id = _post(client, body).json()["id"]

    second_owner = factories.user(db, role="patient")
    db.commit()
    with another_client() as phone:
        Auth(phone).login(second_owner.email)
        response = _post(phone, body)
    assert response.status_code == 201

    [row] = _rows(db)
    assert row.user_id == second_owner.id
    # A new id: anything queued for the first owner no longer points at this phone.
    assert str(row.id) != first_id
    assert service.devices(db, first_owner) == []


def test_a_renewed_subscription_replaces_the_old_one(db, client, login_as, push_service):
    login_as("patient")
    old = _body(push_service, "old", name="Phone")
    old_id = _post(client, old).json()["id"]
    new = _body(push_service, "new", old_endpoint=old["endpoint"])

    response = _post(client, new)
    assert response.status_code == 201
    assert response.json() == {"id": old_id, "name": "Phone"}
    [row] = _rows(db)
    assert row.endpoint == new["endpoint"]


def test_someone_elses_old_endpoint_is_left_alone(db, client, login_as, push_service):
    other = factories.user(db, role="patient")
    db.commit()
    theirs = push_service.subscription("theirs")
    service.subscribe(db, user=other, endpoint=theirs["endpoint"], auth_session_id=None,
                      name=None, now=utcnow(), **theirs["keys"])
    db.commit()
    me = login_as("patient")

    response = _post(client, _body(push_service, "mine", old_endpoint=theirs["endpoint"]))
    assert response.status_code == 201
    assert {(row.user_id, row.endpoint) for row in _rows(db)} == {
        (other.id, theirs["endpoint"]),
        (me.id, push_service.endpoint("mine")),
    }


def _point(first: int = 4) -> str:
    return _b64(bytes([first]) + os.urandom(64))


INVALID = [
    ("endpoint", {"endpoint": "http://push.example.net/x"}, "push address"),
    ("endpoint", {"endpoint": "ftp://push.example.net/x"}, "push address"),
    ("endpoint", {"endpoint": "not a url"}, "push address"),
    ("endpoint", {"endpoint": "https://push.example.net/" + "x" * 1024}, "push address"),
    ("endpoint", {"endpoint": "https://10.0.0.5/internal"}, "push address"),
    ("endpoint", {"endpoint": "https://user:pw@push.example.net/x"}, "push address"),
    ("endpoint", {"endpoint": "https://push.example.net/\u00e9\u0000"}, "push address"),
    ("p256dh", {"keys": {"p256dh": _b64(b"\x04" + b"1" * 10), "auth": _b64(b"a" * 16)}},
     "subscription key"),
    ("p256dh", {"keys": {"p256dh": _point(first=5), "auth": _b64(b"a" * 16)}},
     "subscription key"),
    ("p256dh", {"keys": {"p256dh": _point(), "auth": _b64(b"a" * 16)}},  # not on the curve
     "subscription key"),
    ("p256dh", {"keys": {"p256dh": "!!not base64!!", "auth": _b64(b"a" * 16)}},
     "subscription key"),
    ("auth", {"keys": {"auth": _b64(b"a" * 15)}}, "subscription key"),
    ("keys", {"keys": None}, "keys"),
    ("name", {"name": "Phone\u0000"}, "cannot be saved"),
    ("name", {"name": "x" * 81}, "80 characters"),
]


@pytest.mark.parametrize(("field", "change", "message"), INVALID,
                         ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(INVALID)])
def test_an_unusable_subscription_is_refused_and_nothing_is_saved(
    db, client, login_as, push_service, field, change, message
):
    login_as("patient")
    body = _body(push_service)
    if isinstance(change.get("keys"), dict):
        change = {"keys": {**body["keys"], **change["keys"]}}
    response = _post(client, {**body, **change})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert message in response.json()["detail"]
    assert _rows(db) == []


def test_a_local_push_service_is_refused_in_production(db, login_as, push_service, monkeypatch):
    user = login_as("patient")
    subscription = push_service.subscription("local")
    monkeypatch.setattr(settings, "app_env", "production")
    with pytest.raises(Invalid) as refused:
        service.subscribe(db, user=user, endpoint=subscription["endpoint"], name=None,
                          auth_session_id=None, now=utcnow(),
                          **subscription["keys"])
    assert refused.value.field == "endpoint"


# --- removing ---------------------------------------------------------------------------------


def test_unsubscribing_removes_this_browser(db, client, login_as, push_service):
    login_as("patient")
    body = _body(push_service)
    _post(client, body)

    response = _delete(client, body["endpoint"])
    assert response.status_code == 204
    assert response.content == b""
    assert _rows(db) == []
    # Again (the browser was already forgotten): still fine.
    assert _delete(client, body["endpoint"]).status_code == 204


def test_unsubscribing_cannot_remove_someone_elses_device(db, client, login_as, push_service):
    other = factories.user(db, role="patient")
    db.commit()
    theirs = push_service.subscription("theirs")
    service.subscribe(db, user=other, endpoint=theirs["endpoint"], auth_session_id=None,
                      name=None, now=utcnow(), **theirs["keys"])
    db.commit()
    login_as("patient")

    assert _delete(client, theirs["endpoint"]).status_code == 204
    assert [row.user_id for row in _rows(db)] == [other.id]


def test_remove_by_id_is_for_the_owner_only(db, login_as, push_service):
    owner = factories.user(db, role="patient")
    stranger = factories.user(db, role="patient")
    sub = push_service.subscription("x")
    row = service.subscribe(db, user=owner, endpoint=sub["endpoint"], auth_session_id=None,
                            name=None, now=utcnow(), **sub["keys"])
    with pytest.raises(NotFound):
        service.remove(db, user=stranger, subscription_id=row.id)
    service.remove(db, user=owner, subscription_id=row.id)
    assert service.devices(db, owner) == []


def test_gone_deletes_only_while_the_endpoint_still_matches(db, push_service):
    owner = factories.user(db, role="patient")
    old = push_service.subscription("old")
    row = service.subscribe(db, user=owner, endpoint=old["endpoint"], auth_session_id=None,
                            name=None, now=utcnow(), **old["keys"])
    new = push_service.subscription("new")
    # The browser renewed its subscription while a send to the old endpoint was in flight.
    service.subscribe(db, user=owner, endpoint=new["endpoint"], auth_session_id=None, name=None,
                      now=utcnow(), old_endpoint=old["endpoint"], **new["keys"])
    assert service.gone(db, row.id, old["endpoint"]) is False
    assert [d.endpoint for d in service.devices(db, owner)] == [new["endpoint"]]
    assert service.gone(db, row.id, new["endpoint"]) is True
    assert service.devices(db, owner) == []


# --- who may ----------------------------------------------------------------------------------


def test_not_signed_in_is_401(db, client, push_service):
    # A valid anonymous CSRF token, so the sign-in check is what answers.
    token = csrf_from(client.get("/login").text)
    headers = {"X-CSRF-Token": token}
    body = _body(push_service)
    response = client.post(PATH, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "Please sign in to continue."}
    response = client.request("DELETE", PATH, json={"endpoint": body["endpoint"]},
                              headers=headers)
    assert response.status_code == 401
    assert _rows(db) == []


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-CSRF-Token": "0" * 64}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["no-token", "wrong-token", "cross-site"],
)
def test_csrf_is_required(db, client, login_as, push_service, headers):
    login_as("patient")
    body = _body(push_service)
    if "Sec-Fetch-Site" in headers:
        headers = {**headers, "X-CSRF-Token": _token(client)}
    response = client.post(PATH, json=body, headers=headers)
    assert response.status_code == 403
    assert "expired or came from another site" in response.json()["detail"]
    assert _rows(db) == []


def test_the_delete_needs_csrf_too(db, client, login_as, push_service):
    login_as("patient")
    body = _body(push_service)
    _post(client, body)
    response = client.request("DELETE", PATH, json={"endpoint": body["endpoint"]})
    assert response.status_code == 403
    assert len(_rows(db)) == 1


# --- sign-out ---------------------------------------------------------------------------------


def test_signing_out_stops_reminders_on_that_device_only(db, push_service):
    user = factories.user(db, role="caregiver")
    db.commit()
    phone, laptop = signed_in_clients(user.email, 2, factories.PASSWORD)
    try:
        assert _post(phone, _body(push_service, "phone")).status_code == 201
        assert _post(laptop, _body(push_service, "laptop")).status_code == 201
        assert len(_rows(db)) == 2

        assert Auth(phone).logout().status_code == 303
        assert [row.endpoint for row in _rows(db)] == [push_service.endpoint("laptop")]
    finally:
        for web in (phone, laptop):
            web.__exit__(None, None, None)


def test_changing_the_password_stops_reminders_on_every_device(db, push_service):
    user = factories.user(db, role="patient")
    other = factories.user(db, role="patient")
    db.commit()
    phone, laptop, someone = (*signed_in_clients(user.email, 2, factories.PASSWORD),
                              *signed_in_clients(other.email, 1, factories.PASSWORD))
    try:
        for web, name in ((phone, "phone"), (laptop, "laptop"), (someone, "theirs")):
            assert _post(web, _body(push_service, name)).status_code == 201
        answer = phone.post("/account/password", data={
            "current_password": factories.PASSWORD, "new_password": "a new long passphrase 42",
            "password_confirm": "a new long passphrase 42", "csrf_token": _token(phone)})
        assert answer.status_code == 303
        assert [row.endpoint for row in _rows(db)] == [push_service.endpoint("theirs")]
    finally:
        for web in (phone, laptop, someone):
            web.__exit__(None, None, None)


# --- the documented API -----------------------------------------------------------------------


def test_openapi_describes_the_push_api(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert "get" in paths["/api/v1/push/vapid-public-key"]
    post = paths[PATH]["post"]
    assert "201" in post["responses"]
    body_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    model = schema["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert {"endpoint", "keys"} <= set(model["required"])
    assert "204" in paths[PATH]["delete"]["responses"]


def test_two_tabs_saving_the_same_subscription_at_once_make_one_row(db, push_service, monkeypatch):
    # The other tab's request commits between this one's read and its insert.
    user = factories.user(db, role="patient")
    db.commit()
    sub = push_service.subscription("phone")
    real_name = service.device_name

    def other_tab_commits_first(agent):
        with Session(engine) as other:
            service.subscribe(other, user=user, endpoint=sub["endpoint"], name="Other tab",
                              auth_session_id=None, now=utcnow(), **sub["keys"])
            other.commit()
        return real_name(agent)

    monkeypatch.setattr(service, "device_name", other_tab_commits_first)
    row = service.subscribe(db, user=user, endpoint=sub["endpoint"], name=None,
                            auth_session_id=None, now=utcnow(), **sub["keys"])
    db.commit()
    assert row.name == "Other tab"
    assert [r.id for r in _rows(db)] == [row.id]
