"""The sign-in throttle keys on the address uvicorn resolved: X-Forwarded-For counts only when
it comes from a proxy in FORWARDED_ALLOW_IPS (uvicorn's ProxyHeadersMiddleware, exercised here
as `--proxy-headers --forwarded-allow-ips` runs it)."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.accounts import throttle
from app.accounts.models import LoginFailure
from app.config import settings
from app.main import app
from tests import factories, figures
from tests.conftest import csrf_from


def _served(client_address: str) -> TestClient:
    proxied = ProxyHeadersMiddleware(app, trusted_hosts=settings.forwarded_allow_ips)
    return TestClient(proxied, follow_redirects=False, client=(client_address, 40000))


def _miss(client: TestClient, email: str, forwarded_for: str):
    token = csrf_from(client.get("/login").text)
    return client.post("/login", headers={"X-Forwarded-For": forwarded_for},
                       data={"email": email, "password": "wrong", "csrf_token": token})


def _keys(db) -> set[str]:
    return {row.key for row in db.exec(select(LoginFailure)).all()}


def test_default_trusts_only_the_local_proxy():
    assert settings.forwarded_allow_ips == "127.0.0.1"


def test_spoofed_forwarded_for_from_an_untrusted_client_changes_nothing(db, still_clock):
    user = factories.user(db, role="patient")
    db.commit()
    with _served("198.51.100.23") as attacker:
        responses = [_miss(attacker, user.email, f"10.9.8.{n}")
                     for n in range(settings.login_free_failures + 1)]
    # Each "new address" was a lie: the misses add up for the one real address, and it slows.
    assert [r.status_code for r in responses[:-1]] == [401] * settings.login_free_failures
    assert responses[-1].status_code == 429
    keys = _keys(db)
    assert throttle.keys(user.email, "198.51.100.23")["pair"] in keys
    assert throttle.keys(user.email, "198.51.100.23")["address"] in keys
    for n in range(4):
        assert throttle.keys(user.email, f"10.9.8.{n}")["address"] not in keys
    figures.add("throttle: spoofed X-Forwarded-For ignored", 1)


def test_forwarded_for_from_the_trusted_proxy_names_the_client(db):
    user = factories.user(db, role="patient")
    db.commit()
    with _served("127.0.0.1") as proxy:
        assert _miss(proxy, user.email, "203.0.113.77").status_code == 401
    keys = _keys(db)
    assert throttle.keys(user.email, "203.0.113.77")["pair"] in keys
    assert throttle.keys(user.email, "127.0.0.1")["pair"] not in keys


@pytest.mark.parametrize("path", ["Makefile", "docker/prestart.sh"])
def test_servers_are_started_with_the_setting(path):
    from app.config import ROOT

    text = (ROOT / path).read_text()
    assert "--forwarded-allow-ips" in text and "forwarded_allow_ips" in text
    assert "--forwarded-allow-ips='*'" not in text
