"""A route's database work runs in the thread pool, never on the event loop: there, a write
waiting for the patient's lock (SQLite's one writer, PostgreSQL's advisory lock) stopped every
other request in the process, the one holding the lock included, for 30 s and a 503. The form
routes were `async def` to await the posted form; they take it as a dependency now
(app/deps.py PostedForm) and are plain `def`."""

import asyncio
import inspect
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx2
from sqlmodel import Session

from app.accounts.service import start_session
from app.config import settings
from app.db import engine, utcnow
from app.main import create_app
from app.sync.service import lock_patient
from tests import factories
from tests.helpers import app_routes

# Routes whose body awaits and touches no database: none today. A new one goes here only with
# a reason.
ASYNC_WITHOUT_DATABASE: set[str] = set()


def test_no_route_runs_on_the_event_loop():
    found = app_routes(create_app())
    posts = {path for path, route in found if "POST" in route.methods}
    assert {"/today/gate", "/api/v1/sync"} <= posts and len(found) > 100  # every router walked
    on_the_loop = sorted(
        f"{sorted(route.methods)} {path}" for path, route in found
        if inspect.iscoroutinefunction(route.endpoint) and path not in ASYNC_WITHOUT_DATABASE)
    assert on_the_loop == []


def test_a_form_waiting_for_the_patients_lock_lets_other_requests_through(db):
    """The patient's safety check arrives while another transaction holds the patient's lock
    (a sitter's entry, a dose from the phone): while it waits, the server answers others; the
    holder lets go only once another request was answered (or after 10 s, which fails)."""
    _prescriber, patient, _version = factories.patient_with_protocol(db)
    token = start_session(db, patient, utcnow(), method="password")
    db.commit()
    app = create_app()
    holding, answered = threading.Event(), threading.Event()
    released_by_answer: list[bool] = []

    def hold_the_patients_lock():
        with Session(engine) as other:
            lock_patient(other, patient.id)
            holding.set()
            released_by_answer.append(answered.wait(10))
            other.commit()

    async def scenario():
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver",
                                      cookies={settings.session_cookie: token}) as phone:
            csrf = (await phone.get("/api/v1/me")).json()["csrf_token"]
            holder = threading.Thread(target=hold_the_patients_lock)
            holder.start()
            await asyncio.to_thread(holding.wait, 10)
            gate = asyncio.create_task(phone.post(
                "/today/gate", headers={"Sec-Fetch-Site": "same-origin"},
                data={"csrf_token": csrf, "gate_client_id": "7d2f4e1a-3b5c-4d6e-8f90-a1b2c3d4e5f6",
                      "systolic": "120", "diastolic": "80", "heart_rate": "70"}))
            await asyncio.sleep(0.3)  # the form is in, waiting for the lock
            other = await phone.get("/livez")
            answered.set()
            await asyncio.to_thread(holder.join, 15)
            return other, await gate

    with ThreadPoolExecutor(1) as pool:  # a loop of its own (the browser tests may hold one)
        other, gate = pool.submit(asyncio.run, scenario()).result()
    assert other.status_code == 200
    assert released_by_answer == [True], "the other request waited for the lock's holder"
    assert gate.status_code in (303, 422), gate.text  # answered after the lock, not a 503
