"""Test harness: one real database per run (SQLite, or TEST_DATABASE_URL), migrated once,
emptied after every test. In a parallel run (pytest-xdist, `make test`) each worker is a run of
its own: its own SQLite file or PostgreSQL schema, and its own live server for browser tests.

On PostgreSQL each run works in a schema of its own inside TEST_DATABASE_URL's database, so
two runs on one server (two developers, or CI beside a developer) never touch each other's
tables; the schema is dropped when the run ends.
"""

import os
import re
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

# Settings are read at import time: point the app at the test database before importing it.
_TMP = Path(tempfile.mkdtemp(prefix="trochelog-test-"))
os.environ["APP_ENV"] = "test"
# Tests run the dispatcher themselves (app.reminders.dispatcher.run_once), never in the background.
os.environ["REMINDERS_DISPATCHER"] = "off"
os.environ["SECRET_KEY"] = "test-secret-key-that-is-long-enough-0123456789"
# Real Argon2id, at a cost that keeps hundreds of sign-ins quick.
os.environ["ARGON2_TIME_COST"] = "1"
os.environ["ARGON2_MEMORY_KIB"] = "8192"
# Pages straight from the network in browser tests: a saved copy shown first would depend on
# how fast this machine answers (tests/browser/test_saved_copy.py turns it on).
os.environ["SAVED_COPY_AFTER_MS"] = "-1"
_SCHEMA: str | None = None
_BASE_URL = os.environ.get("TEST_DATABASE_URL")
if _BASE_URL and make_url(_BASE_URL).get_backend_name() == "postgresql":
    _SCHEMA = f"test_run_{uuid.uuid4().hex[:12]}"
    _admin = create_engine(_BASE_URL)
    with _admin.begin() as _conn:
        _conn.exec_driver_sql(f'CREATE SCHEMA "{_SCHEMA}"')
    _admin.dispose()
    _url = make_url(_BASE_URL).update_query_dict({"options": f"-csearch_path={_SCHEMA}"})
    os.environ["DATABASE_URL"] = _url.render_as_string(hide_password=False)
else:
    os.environ["DATABASE_URL"] = _BASE_URL or f"sqlite:///{_TMP / 'test.db'}"

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.exc import IntegrityError, OperationalError  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

from app.audit import guard as audit_guard  # noqa: E402
from app.cli import migrate  # noqa: E402
from app.db import engine, utcnow  # noqa: E402
from app.main import app  # noqa: E402
from app.seed import seed_demo  # noqa: E402
from tests import factories, figures  # noqa: E402

IS_POSTGRES = engine.dialect.name == "postgresql"


@pytest.fixture(scope="session", autouse=True)
def _migrated_database():
    # The run's schema starts empty, so the run proves the migrations build the whole schema.
    migrate()
    yield
    figures.write()  # what the security tests measured, for `make security-report`
    engine.dispose()
    if _SCHEMA is not None:
        admin = create_engine(_BASE_URL)
        with admin.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            conn.exec_driver_sql(f'DROP SCHEMA "{_SCHEMA}" CASCADE')
        admin.dispose()


def _empty_all_tables() -> None:
    # DELETE, children first, rather than TRUNCATE: a test leaves a few rows in a few tables,
    # and PostgreSQL's TRUNCATE of every table costs about 150 ms a test (a new file for each
    # table) against about 15 ms for DELETE, minutes over the suite.
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                if IS_POSTGRES:
                    # A test that leaves a transaction open would make this wait forever: fail
                    # loudly instead of hanging the run.
                    conn.execute(text("SET LOCAL lock_timeout = '20s'"))
                # The audit trail refuses DELETE (app/audit/guard.py): lifted for this cleanup
                # only, inside the same transaction.
                audit_guard.drop(conn)
                for table in tables:
                    conn.execute(table.delete())
                audit_guard.create(conn)
            return
        except (OperationalError, IntegrityError) as exc:
            # A browser test's page may still have requests in flight on the live server (the
            # service worker keeping pages for offline use): PostgreSQL can then pick this
            # cleanup as a deadlock victim, or such a request can add a row that points at one
            # being deleted. Let them finish and try again.
            retry = isinstance(exc, IntegrityError) or "deadlock" in str(exc).lower()
            if not IS_POSTGRES or not retry or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))


@pytest.fixture(autouse=True)
def _isolated():
    yield
    _empty_all_tables()


@pytest.fixture
def db():
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def demo(db):
    """The demo clinic as `make run` seeds it, now, committed (requests read it): its users by
    email. Tests that need a fixed clock seed their own (tests/exports)."""
    users = seed_demo(db, utcnow())
    db.commit()
    return users


@pytest.fixture
def patient(db, login_as):
    """A signed-in patient whose plan has a session right now (daily at this local time), with
    their prescriber. A test module with a patient of another kind defines its own."""
    patient = login_as("patient")
    prescriber = factories.user(db, role="prescriber")
    factories.protocol(db, prescriber, patient, **factories.session_now_protocol(patient))
    db.commit()
    return patient


@pytest.fixture
def client():
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Auth:
    """Signs a test client in and out through the real forms."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        return csrf_from(self.client.get(path).text)

    def login(self, email: str, password: str = factories.PASSWORD):
        token = self.csrf("/login")
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}
        )

    def logout(self):
        token = self.client.get("/api/v1/me").json()["csrf_token"]
        return self.client.post("/logout", data={"csrf_token": token})

    def post(self, path: str, data: dict, **kwargs):
        """A form post carrying the session's CSRF token, as the browser would send it."""
        token = self.client.get("/api/v1/me").json()["csrf_token"]
        return self.client.post(path, data={**data, "csrf_token": token}, **kwargs)


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def login_as(db, auth):
    """Create a user of `role` and sign the client in as them; returns the user."""

    def _login_as(role: str, **kwargs):
        user = factories.user(db, role=role, **kwargs)
        db.commit()
        response = auth.login(user.email)
        assert response.status_code == 303, response.text
        return user

    return _login_as


@pytest.fixture
def push_service():
    """A fake push service on 127.0.0.1 (tests/push/fake_service.py), stopped after the test.

    It verifies every request against the app's VAPID public key, made (and committed) here so
    the app and the service agree on it: `push_service.expected_public_key`. Subscriptions for
    the app come from `push_service.subscription(token)`; `push_service.errors` must stay empty.
    """
    from app.push import vapid
    from tests.push.fake_service import FakePushService

    with Session(engine, expire_on_commit=False) as session:
        public_key = vapid.public_key(session)
        session.commit()
    with FakePushService(expected_public_key=public_key) as service:
        yield service
