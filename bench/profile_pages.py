"""Profile the hot paths of patients, caregivers and prescribers on the demo data, in process.

For each request: milliseconds per request (wall clock, in process through ASGI: no
network, no uvicorn) and SQL statements per request; with PROFILE_SHOW=name[,name] the
pyinstrument call tree of that request's N repetitions. A developer's tool: it prints, it does
not write docs/benchmarks.md (bench/load.py-style benchmarks do that) and asserts nothing.

    .venv/bin/python -m bench.profile_pages                     # SQLite, 20 requests each
    PROFILE_N=5 PROFILE_SHOW=today,sync_dose .venv/bin/python -m bench.profile_pages
    PROFILE_ONLY=today PROFILE_SQL=today .venv/bin/python -m bench.profile_pages  # its SQL
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python -m bench.profile_pages                 # PostgreSQL

Each run on a fresh, migrated database of its own, dropped afterwards (bench/server.py).

APP_ENV is production (templates are not re-read, Argon2 at its production cost), so the
figures show what a real server spends; the demo clinic is seeded as `make run` seeds it.
"""

import asyncio
import logging
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta

from bench.server import database_for_this_process

N = int(os.environ.get("PROFILE_N", "20"))
SHOW = {name for name in os.environ.get("PROFILE_SHOW", "").split(",") if name}
SQL = {name for name in os.environ.get("PROFILE_SQL", "").split(",") if name}
ONLY = {name for name in os.environ.get("PROFILE_ONLY", "").split(",") if name}

_database = database_for_this_process()  # before app.db reads DATABASE_URL
os.environ["APP_ENV"] = os.environ.get("PROFILE_APP_ENV", "production")
os.environ["REMINDERS_DISPATCHER"] = "off"
os.environ.setdefault("SECRET_KEY", "profile-secret-key-that-is-long-enough-0123456789")
os.environ.setdefault("PUBLIC_ORIGIN", "http://127.0.0.1")  # production requires it

import anyio.to_thread  # noqa: E402
import httpx2 as httpx  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.cli import migrate  # noqa: E402
from app.db import engine, utcnow  # noqa: E402
from app.main import app  # noqa: E402
from app.seed import DEMO_PASSWORD, seed_demo  # noqa: E402

_statements = [0]
_printing = [False]


@event.listens_for(engine, "before_cursor_execute")
def _count(_conn, _cursor, statement, *_args) -> None:
    _statements[0] += 1
    if _printing[0]:
        print("   ", " ".join(statement.split())[:160])
        print("      from", _caller())


def _caller() -> str:
    """The app's own frames that led to a statement, innermost last: where to look for a
    repeated read."""
    frames = [f"{f.filename.split('/app/', 1)[1]}:{f.lineno} {f.name}"
              for f in traceback.extract_stack() if "/app/" in f.filename
              and "/app/db.py" not in f.filename]
    return " > ".join(frames[-3:])


async def _inline(func, *args, abandon_on_cancel=False, cancellable=None, limiter=None):
    return func(*args)


# Sync routes and dependencies run in the calling thread instead of anyio's pool, so the
# profiler (which samples one thread) sees the whole request. Requests are one at a time here.
anyio.to_thread.run_sync = _inline
_loop = asyncio.new_event_loop()


class Client:
    """A browser of one: the app called in this thread through ASGI, cookies kept."""

    def __init__(self) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                      base_url="http://testserver", follow_redirects=False)

    def get(self, url: str, **kwargs):
        return _loop.run_until_complete(self.http.get(url, **kwargs))

    def post(self, url: str, **kwargs):
        return _loop.run_until_complete(self.http.post(url, **kwargs))


def signed_in(email: str) -> Client:
    client = Client()
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/login", data={"email": email, "password": DEMO_PASSWORD,
                                         "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return client


def _item(kind: str, data: dict, recorded_at=None) -> dict:
    return {"id": str(uuid.uuid4()), "kind": kind,
            "recorded_at": (recorded_at or utcnow()).isoformat(), "data": data}


def _gate() -> dict:
    return {"systolic": 124, "diastolic": 80, "heart_rate": 72,
            "checklist": {"fasted": True, "no_sedatives": True, "no_driving": True,
                          "safe_place": True, "sitter_present": True}}


def requests(patient: Client, caregiver: Client, prescriber: Client, patient_id: str
             ) -> dict[str, Callable[[], object]]:
    csrf = patient.get("/api/v1/me").json()["csrf_token"]
    headers = {"X-CSRF-Token": csrf}

    def sync_dose():
        gate = _item("gate", _gate())
        # Recorded as already taken, with a reason: created whatever the demo's history says,
        # so every repetition goes the whole way (judged, flagged, written).
        dose = _item("dose", {"taken_at": utcnow().isoformat(), "dose_mg": "100",
                              "route": "sublingual", "gate_id": gate["id"],
                              "override_reason": "Profiling.", "already_taken": True})
        return patient.post("/api/v1/sync", json={"items": [gate, dose]}, headers=headers)

    def sync_checkin():
        item = _item("checkin", {"slot": "daily", "values": {"mood": 6}})
        return patient.post("/api/v1/sync", json={"items": [item]}, headers=headers)

    return {
        "me": lambda: patient.get("/api/v1/me"),
        "today": lambda: patient.get("/today"),
        "today_htmx": lambda: patient.get("/today", headers={"HX-Request": "true"}),
        "api_today": lambda: patient.get("/api/v1/today"),
        "sync_dose": sync_dose,
        "sync_checkin": sync_checkin,
        "trends": lambda: patient.get("/trends"),
        "checkin_form": lambda: patient.get("/checkins/daily"),
        "caregiver_home": lambda: caregiver.get("/supporting"),
        "caregiver_patient": lambda: caregiver.get(f"/supporting/{patient_id}"),
        "caregiver_session": lambda: caregiver.get(f"/supporting/{patient_id}/session"),
        "patient_list": lambda: prescriber.get("/patients"),
        "timeline": lambda: prescriber.get(f"/patients/{patient_id}"),
    }


def main() -> int:
    logging.getLogger("trochelog.access").disabled = True  # one line per request otherwise
    try:
        migrate()
        with Session(engine, expire_on_commit=False) as session:
            users = seed_demo(session, utcnow() - timedelta(minutes=1))
            session.commit()
            patient_id = str(users["patient@demo.test"].id)
        patient = signed_in("patient@demo.test")
        caregiver = signed_in("caregiver@demo.test")
        prescriber = signed_in("prescriber@demo.test")
        print(f"{'request':<20}{'ms/req':>9}{'SQL/req':>9}  status  (N={N}, "
              f"{engine.dialect.name})")
        for name, call in requests(patient, caregiver, prescriber, patient_id).items():
            if ONLY and name not in ONLY:
                continue
            _printing[0] = name in SQL
            answer = call()  # warm: first-use imports and template compilation
            _printing[0] = False
            assert answer.status_code == 200, (name, answer.status_code, answer.text[:400])
            _statements[0] = 0
            profiler = None
            if name in SHOW:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0005)
                profiler.start()
            started = time.perf_counter()
            for _ in range(N):
                answer = call()
            elapsed = time.perf_counter() - started
            if profiler is not None:
                profiler.stop()
            statuses = answer.status_code
            if name.startswith("sync"):
                statuses = ",".join(r["status"] for r in answer.json()["results"])
            print(f"{name:<20}{elapsed / N * 1000:>9.1f}{_statements[0] / N:>9.1f}  {statuses}")
            if profiler is not None:
                print(profiler.output_text(unicode=True, color=False, show_all=False,
                                           short_mode=False))
    finally:
        engine.dispose()
        _database.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
