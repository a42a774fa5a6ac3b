"""Several instances on one database, as compose.yml runs them: two app processes (each the
production command, bench/server.py) and two reminder workers, on the test database (SQLite:
two processes on one file; PostgreSQL: TEST_DATABASE_URL). Whatever one instance did, the other
must honour: nothing about a person's session, form tokens or sign-in failures may live in one
process's memory.

Already tested elsewhere, not repeated here: two dispatchers in one process racing over 1,000
reminders (tests/reminders/test_dispatcher.py), a dispatcher that died mid-send taken over after
its lease (same file), the worker process on its own (tests/reminders/test_runner.py), two
phones syncing one outbox at once (tests/sync/test_sync_properties.py); replays across two
processes are measured by bench/sync_bench.py.
"""

import os
import re
import time
from collections import Counter
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from app.config import settings
from app.db import utcnow
from bench.server import AppServer
from tests import factories
from tests.reminders.test_dispatcher import _device, _occurrence
from tests.reminders.worker_process import Worker

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def instances() -> Iterator[tuple[AppServer, AppServer]]:
    """Two app processes on this run's database (already migrated: their prestart's migrate
    finds nothing to do), started one after the other, stopped after this module."""
    url = os.environ["DATABASE_URL"]
    # Production refuses the tests' cheap Argon2 cost (the accounts' hashes carry their own).
    costs = {"ARGON2_TIME_COST": "3", "ARGON2_MEMORY_KIB": "65536"}
    with AppServer(url, **costs) as first, AppServer(url, **costs) as second:
        yield first, second


def browser() -> httpx.Client:
    """One browser: one cookie jar for both instances (cookies belong to the host, not the
    port), as behind a load balancer that sends each request wherever it likes."""
    return httpx.Client(follow_redirects=False, timeout=30)


def csrf(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match, "page has no CSRF token"
    return match.group(1)


def sign_in(web: httpx.Client, server: AppServer, email: str,
            password: str = factories.PASSWORD) -> httpx.Response:
    token = csrf(web.get(f"{server.origin}/login"))
    return web.post(f"{server.origin}/login",
                    data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def patient(db):
    account = factories.user(db)
    db.commit()
    return account


def test_a_session_from_one_instance_is_valid_on_the_other(instances, patient):
    a, b = instances
    with browser() as web:
        assert sign_in(web, a, patient.email).status_code == 303
        me = web.get(f"{b.origin}/api/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["id"] == str(patient.id)
        assert web.get(f"{b.origin}/account").status_code == 200


def test_a_form_rendered_by_one_instance_is_accepted_by_the_other(instances, patient, db):
    a, b = instances
    with browser() as web:
        # The sign-in form: rendered by A (its anonymous cookie and token), posted to B.
        token = csrf(web.get(f"{a.origin}/login"))
        answer = web.post(f"{b.origin}/login", data={
            "email": patient.email, "password": factories.PASSWORD, "csrf_token": token})
        assert answer.status_code == 303, answer.text
        # A signed-in form from A, posted to B; a forged token is still refused there.
        token = csrf(web.get(f"{a.origin}/account"))
        forged = web.post(f"{b.origin}/account/timezone",
                          data={"timezone": "Europe/Paris", "csrf_token": token[::-1]})
        assert forged.status_code == 403
        changed = web.post(f"{b.origin}/account/timezone",
                           data={"timezone": "Europe/Paris", "csrf_token": token})
        assert changed.status_code == 303, changed.text
    db.expire_all()
    assert db.get(type(patient), patient.id).timezone == "Europe/Paris"


def test_sign_in_failures_on_one_instance_slow_the_next_try_on_the_other(instances, patient):
    """The throttle counts in the database (app/accounts/throttle.py): misses spread over the
    instances add up, so a load balancer does not multiply an attacker's guesses."""
    a, b = instances
    with browser() as web:
        for _ in range(settings.login_free_failures):
            assert sign_in(web, a, patient.email, "wrong password").status_code == 401
        # The next try must wait (2 s after the last miss), even with the right password.
        refused = sign_in(web, b, patient.email)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert "Too many attempts" in refused.text


def test_signing_out_on_one_instance_ends_the_session_on_the_other(instances, patient):
    a, b = instances
    with browser() as web:
        assert sign_in(web, a, patient.email).status_code == 303
        cookie = web.cookies.get(settings.session_cookie)
        assert web.get(f"{b.origin}/api/v1/me").status_code == 200
        token = web.get(f"{a.origin}/api/v1/me").json()["csrf_token"]
        assert web.post(f"{a.origin}/logout", data={"csrf_token": token}).status_code == 303
    # The cookie, kept by a stolen or left-behind copy, is worth nothing on the other instance.
    with httpx.Client(follow_redirects=False, timeout=30,
                      cookies={settings.session_cookie: cookie}) as stale:
        assert stale.get(f"{b.origin}/api/v1/me").status_code == 401
        assert stale.get(f"{b.origin}/today").status_code == 303  # to the sign-in page


def test_the_instances_sign_pushes_with_one_key(instances, patient, push_service):
    """A browser subscribed through one instance must accept pushes signed by any instance or
    worker: the pair is made once and kept in the database (app/push/vapid.py)."""
    keys = set()
    with browser() as web:
        assert sign_in(web, instances[0], patient.email).status_code == 303
        for server in instances:
            answer = web.get(f"{server.origin}/api/v1/push/vapid-public-key")
            assert answer.status_code == 200, answer.text
            keys.add(answer.json()["public_key"])
    assert keys == {push_service.expected_public_key}


def test_two_worker_processes_deliver_each_due_reminder_once(db, push_service):
    """Two `python -m app.reminders.worker` processes on one database (compose.yml may run
    several): each due reminder reaches its device once."""
    people = [factories.user(db) for _ in range(20)]
    for person in people:
        _device(db, person, push_service, f"device-{person.id}")
    due = {str(_occurrence(db, people[i % 20], send_at=utcnow()).id) for i in range(200)}
    db.commit()

    workers = [Worker(), Worker()]
    try:
        push_service.wait_for(len(due), timeout=90)
        # Time for a second send, had either worker claimed what the other had sent.
        time.sleep(1.5)
        assert all(worker.running() for worker in workers)
    finally:
        for worker in workers:
            worker.stop()
    for worker in workers:
        worker.assert_stopped_cleanly()
    assert push_service.errors == []
    got = Counter(r.payload["id"] for r in push_service.received)
    assert set(got) == due
    assert max(got.values()) == 1, [i for i, n in got.items() if n > 1][:5]
