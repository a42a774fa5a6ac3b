"""Small helpers shared by the account, care team and page tests."""

import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session, select

from app.accounts.models import AuthSession, User
from app.config import settings
from app.db import engine
from app.main import app


def app_routes(application: FastAPI = app) -> list[tuple[str, APIRoute]]:
    """Every route as it answers (included routers walked, their prefixes applied), by the walk
    FastAPI's own schema makes (app/web/openapi.py uses it too)."""
    return [(context.path_format, context.original_route)
            for context in iter_route_contexts(application.routes)
            if isinstance(context.original_route, APIRoute)]


INVITE_URL = re.compile(r'id="invite-url"[^>]*value="([^"]+)"')


@contextmanager
def counted() -> Iterator[list[str]]:
    """The SQL statements the app sends while the block runs (any thread: the test client
    serves requests on its own)."""
    seen: list[str] = []
    lock = threading.Lock()

    def _count(_conn, _cursor, statement, *_args) -> None:
        with lock:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _count)


@contextmanager
def another_client() -> Iterator[TestClient]:
    """A second browser (another phone, another tab with its own cookie jar)."""
    with TestClient(app, follow_redirects=False) as other:
        yield other


def session_cookie(client: TestClient) -> str | None:
    return client.cookies.get(settings.session_cookie)


def set_session_cookie(client: TestClient, token: str) -> None:
    """Put a (possibly stale) session token into a client's jar, as a stolen or old cookie."""
    client.cookies.set(settings.session_cookie, token, domain="testserver.local", path="/")


def set_cookie_headers(response, name: str) -> list[str]:
    return [
        value
        for value in response.headers.get_list("set-cookie")
        if value.split("=", 1)[0].strip() == name
    ]


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def invite_token(html: str) -> str:
    """The token of the one-time invite link shown on the 'invite created' page."""
    match = INVITE_URL.search(html)
    assert match, "page shows no invite link"
    url = match.group(1)
    assert url.startswith("http://testserver/invite/"), url
    return url.rsplit("/", 1)[1]


# The validation library's own wording, which must never reach a person (an answer's errors are
# in plain words of ours, in their language: app/validation.error_message).
LIBRARY_WORDING = re.compile(r"Input should|should have|String should|Value error|Decimal input")


def follow(client: TestClient, response, limit: int = 5):
    """Follow 303s as a browser would, returning the final response."""
    for _ in range(limit):
        if response.status_code not in (301, 302, 303, 307, 308):
            return response
        response = client.get(response.headers["location"])
    raise AssertionError("too many redirects")


def walk_pages(client: TestClient, first_url: str, next_link: re.Pattern[str],
               limit: int = 50) -> list[str]:
    """Every page of a paged list from `first_url` on, as a browser without JavaScript: each
    page must answer 200, and `next_link`'s first group (the "older" link's address, HTML
    escaped) leads to the next one until a page has none."""
    pages, url = [], first_url
    while url:
        response = client.get(url)
        assert response.status_code == 200, url
        pages.append(response.text)
        assert len(pages) < limit, "the next-page links never end"
        match = next_link.search(response.text)
        url = unescape(match.group(1)) if match else None
    return pages


def fresh(db: Session, model, pk):
    """The row as the database has it now, not as this session remembers it."""
    db.expire_all()
    return db.get(model, pk)


def sessions_of(db: Session, user: User) -> list[AuthSession]:
    db.expire_all()
    return list(db.exec(select(AuthSession).where(AuthSession.user_id == user.id)).all())


def signed_in_clients(email: str, n: int, password: str) -> list[TestClient]:
    """`n` browsers signed in as the same person (phones, tabs), each with its own cookies.
    The caller closes them (`client.__exit__(None, None, None)`)."""
    clients = []
    for _ in range(n):
        web = another_client().__enter__()
        clients.append(web)
        token = web.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        response = web.post("/login", data={"email": email, "password": password,
                                            "csrf_token": token})
        assert response.status_code == 303
    return clients


_MASKED_CSRF = re.compile(r"\b[0-9a-f]{128}\b")


def without_csrf(html: str) -> str:
    """A page with its CSRF tokens blanked: each response masks the token afresh (BREACH,
    app/web/csrf.py), so two renders of one page differ there and only there."""
    return _MASKED_CSRF.sub("CSRF", html)


def shown(html: str) -> str:
    """The page without its <template> elements: inert copies kept for the offline verdict
    (offline.js), not shown unless the phone itself finds a hold."""
    return re.sub(r"<template\b.*?</template>", "", html, flags=re.S)


def names_error(html: str, error_id: str) -> bool:
    """Whether some field's aria-describedby names `error_id` (after the field's hint, where it
    has one: a screen reader reads both)."""
    return re.search(rf'aria-describedby="(?:[^"]* )?{re.escape(error_id)}"', html) is not None
