"""Crash safety: kill -9 the server while doses are being written, restart it, and check that
every write it acknowledged is still there, exactly once; then replay the rest (same ids) and
find every write present and none twice.

A real uvicorn process (not the in-process TestClient), so SIGKILL really cuts a transaction in
the middle: on SQLite the next process recovers the WAL, on PostgreSQL the server rolls back the
dead backend's transaction. Runs on whichever database the run uses (TEST_DATABASE_URL).
5 kill cycles in the normal suite; SECURITY_FULL=1 (`make security-report`) does 40.
"""

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx2
import pytest
from sqlmodel import Session, col, func, select

from app.config import ROOT
from app.db import engine, utcnow
from app.doses.models import Dose
from app.sync.models import ClientWrite
from tests import factories, figures

FULL = os.environ.get("SECURITY_FULL") == "1"
CYCLES = 40 if FULL else 5
WRITERS = 4
APPLIED = ("created", "duplicate")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`uvicorn app.main:app` in a process of its own, on the run's test database (the
    environment tests/conftest.py set up: DATABASE_URL, SECRET_KEY, no dispatcher)."""

    def __init__(self, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
                 "--port", str(self.port), "--no-access-log", "--log-level", "warning"],
                cwd=ROOT, env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited at start; see {self.log}:\n{self.tail()}")
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"the server did not start; see {self.log}:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no rollback, no flush; whatever was in flight is cut."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    live = Server(tmp_path / "server-stderr.log")
    try:
        yield live
    finally:
        live.kill()  # always, or a stray server keeps the test database busy


def _signed_in(server: Server, email: str) -> tuple[httpx2.Client, str]:
    client = httpx2.Client(base_url=server.url, timeout=10)
    token = _CSRF.search(client.get("/login").text).group(1)
    response = client.post("/login", data={"email": email, "password": factories.PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 303, response.text
    return client, client.get("/api/v1/me").json()["csrf_token"]


def _dose_item() -> dict:
    # Said to be already taken, with a reason: a dose that breaks a hold (too soon, over a
    # maximum) is then recorded and flagged, never refused, so every write must land.
    return factories.sync_item("dose", {
        "taken_at": utcnow().isoformat(), "dose_mg": "100", "route": "sublingual",
        "no_gate_reason": "Logged later.", "override_reason": "Crash test.",
        "already_taken": True,
    })


class Writers:
    """Threads that each write doses one request at a time, each with its own client UUID,
    remembering which writes the server acknowledged (a 2xx saying created or duplicate)."""

    def __init__(self, server: Server, cookies: httpx2.Cookies, csrf: str) -> None:
        self.server, self.cookies, self.csrf = server, cookies, csrf
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent: dict[str, dict] = {}  # id → item, every write ever attempted
        self.acknowledged: dict[str, dict] = {}  # id → the server's result
        self.refused: list[dict] = []  # a 2xx that did not apply the write (must stay empty)
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(WRITERS)]

    def __enter__(self) -> "Writers":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.finish()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def _run(self) -> None:
        with httpx2.Client(base_url=self.server.url, cookies=self.cookies, timeout=10) as client:
            while not self.stop.is_set():
                item = _dose_item()
                with self.lock:
                    self.sent[item["id"]] = item
                try:
                    response = client.post("/api/v1/sync", json={"items": [item]},
                                           headers={"X-CSRF-Token": self.csrf})
                except httpx2.TransportError:  # the server died under us: not acknowledged
                    self._until_back(client)
                    continue
                if not response.is_success:
                    continue  # a 5xx while dying, say: not acknowledged either
                result = response.json()["results"][0]
                with self.lock:
                    if result["status"] in APPLIED:
                        self.acknowledged[item["id"]] = result
                    else:
                        self.refused.append(result)

    def _until_back(self, client: httpx2.Client) -> None:
        while not self.stop.is_set():
            time.sleep(0.05)
            try:
                if client.get("/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                pass

    def acknowledged_count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def _doses_of(patient_id: uuid.UUID) -> list[uuid.UUID]:
    with Session(engine) as db:
        return list(db.exec(select(Dose.id).where(Dose.patient_id == patient_id)).all())


def _client_writes_of(patient_id: uuid.UUID) -> int:
    with Session(engine) as db:
        return db.exec(select(func.count()).select_from(ClientWrite)
                       .where(col(ClientWrite.patient_id) == patient_id)).one()


def test_acknowledged_doses_survive_kill_9_and_replays_write_once(server):
    with Session(engine, expire_on_commit=False) as db:
        prescriber = factories.user(db, role="prescriber")
        patient = factories.user(db, role="patient")
        factories.protocol(db, prescriber, patient, **factories.session_now_protocol(patient))
        db.commit()

    server.start()
    client, csrf = _signed_in(server, patient.email)
    rng = random.Random()
    with closing(client), Writers(server, client.cookies, csrf) as writers:
        for _cycle in range(CYCLES):
            # Let some writes through since the last start, then kill at a random moment.
            before = writers.acknowledged_count()
            deadline = time.monotonic() + 10
            while writers.acknowledged_count() <= before and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.5))
            server.kill()
            time.sleep(rng.uniform(0, 0.2))
            server.start()
        writers.finish()  # the last start serves the replays

        acknowledged = dict(writers.acknowledged)
        present = _doses_of(patient.id)
        stored = {str(i) for i in present}
        lost = [i for i in acknowledged if i not in stored]
        figures.add("kill cycles", CYCLES)
        figures.add("acknowledged writes", len(acknowledged))
        figures.add("acknowledged rows lost", len(lost))
        assert len(acknowledged) >= CYCLES, "too few writes got through to prove anything"
        assert not lost, f"{len(lost)} acknowledged doses are gone: {lost[:5]}"
        assert len(present) == len(stored), "a dose is stored twice"
        assert not writers.refused, writers.refused[:3]

        # Replay every write that was never acknowledged, as a phone's outbox would: the same
        # items, the same ids. Whatever the dead server committed comes back as a duplicate.
        unacknowledged = [item for i, item in writers.sent.items() if i not in acknowledged]
        replayed: dict[str, dict] = {}
        for start in range(0, len(unacknowledged), 50):
            batch = unacknowledged[start:start + 50]
            response = client.post("/api/v1/sync", json={"items": batch},
                                   headers={"X-CSRF-Token": csrf})
            assert response.status_code == 200, response.text
            replayed.update({r["id"]: r for r in response.json()["results"]})

    assert all(r["status"] in APPLIED for r in replayed.values()), \
        [r for r in replayed.values() if r["status"] not in APPLIED][:3]
    present = _doses_of(patient.id)
    duplicates = len(present) - len(set(present))
    figures.add("duplicates after replay", duplicates)
    assert duplicates == 0
    assert {str(i) for i in present} == set(writers.sent), "a write is missing after replay"
    # One ledger entry per write: a replay wrote nothing twice anywhere.
    assert _client_writes_of(patient.id) == len(writers.sent)
    # Doses after the first broke the interval rule: recorded and flagged, and the sync result
    # told the phone so (never silently dropped).
    results = [*acknowledged.values(), *replayed.values()]
    unflagged = [r for r in results if "override" not in r.get("flags", [])]
    assert len(unflagged) <= 1, unflagged[:3]
