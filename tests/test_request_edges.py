"""Edges every route shares: where an unsigned visitor is sent, unknown pages, unsavable text."""

from app.accounts.models import User


def test_sign_in_redirect_keeps_the_whole_address(client):
    response = client.get("/trends?range=3m")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/trends%3Frange%3D3m"


def test_htmx_request_without_a_session_sends_the_page_to_sign_in(client):
    response = client.get("/today", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login?next=/today"


def test_unknown_page_keeps_the_signed_in_navigation(client, login_as):
    login_as("patient")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "We could not find that page." in response.text
    assert 'aria-label="Main"' in response.text  # the patient's menu is still there
    assert "Sign out" in response.text


def test_a_nul_character_in_a_form_is_refused_and_nothing_changes(client, auth, login_as, db):
    user = login_as("patient")
    response = auth.post("/account/timezone", {"timezone": "Europe/Berlin\x00"})
    assert response.status_code == 422
    assert "cannot be saved" in response.text
    db.expire_all()
    assert db.get(User, user.id).timezone == "America/New_York"
