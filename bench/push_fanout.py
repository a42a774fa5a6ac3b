"""Fan-out of 10,000 due reminders to a local push service, against the cost of the
encryption and signing alone, measured in the same run (the ratio is the figure).

    make bench                      # SQLite in a temporary file
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test make bench

On a fresh, migrated database of its own (bench/server.py), in this process. Writes its section
of docs/benchmarks.md (not with BENCH_RECORD=0). Numbers, never assertions.
"""

import base64
import os
import platform
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

from bench.server import ROOT, database_for_this_process

REMINDERS = int(os.environ.get("BENCH_REMINDERS", "10000"))
PEOPLE = max(REMINDERS // 5, 1)  # five due reminders each, one device each
CRYPTO_SAMPLE = 2000

_database = database_for_this_process()  # before app.db reads DATABASE_URL
os.environ["APP_ENV"] = "test"
os.environ["REMINDERS_DISPATCHER"] = "off"
os.environ.setdefault("SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.accounts.models import Role, User  # noqa: E402
from app.cli import migrate  # noqa: E402
from app.db import engine  # noqa: E402
from app.push import sender, vapid  # noqa: E402
from app.push.models import PushSubscription  # noqa: E402
from app.reminders import dispatcher  # noqa: E402
from app.reminders.models import ReminderOccurrence  # noqa: E402
from bench import report  # noqa: E402


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _device_keys() -> tuple[str, str]:
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _b64(point), _b64(os.urandom(16))


def _seed(origin: str, now: datetime) -> None:
    users, devices, occurrences = [], [], []
    for i in range(PEOPLE):
        user_id = uuid.uuid4()
        users.append({"id": user_id, "email": f"bench-{i}@example.test",
                      "display_name": f"Bench {i}", "name_key": f"bench {i}", "role": Role.PATIENT,
                      "timezone": "America/New_York", "is_active": True, "created_at": now})
        p256dh, auth = _device_keys() if i < 50 else devices[i % 50]["keys"]
        devices.append({"id": uuid.uuid4(), "user_id": user_id, "endpoint": f"{origin}/push/{i}",
                        "p256dh": p256dh, "auth": auth, "name": "Bench", "created_at": now,
                        "updated_at": now, "keys": (p256dh, auth)})
        for j in range(REMINDERS // PEOPLE):
            # "test" reminders: always needed, so the figure is the sending, not the relevance
            # checks (which read the person's record).
            occurrences.append({"id": uuid.uuid4(), "user_id": user_id, "kind": "test",
                                "rule": f"bench:{j}", "local_time": "2026-12-01T09:00",
                                "due_at": now, "send_at": now, "url": "/today",
                                "status": "pending", "created_at": now})
    with Session(engine) as session:
        session.execute(insert(User), users)
        session.execute(insert(PushSubscription),
                        [{k: v for k, v in d.items() if k != "keys"} for d in devices])
        session.execute(insert(ReminderOccurrence), occurrences)
        vapid.keys(session)
        session.commit()


def _crypto_only(keys, origin: str) -> float:
    """Messages per second for prepare() alone: encryption + VAPID signing, no network."""
    p256dh, auth = _device_keys()
    subscription = {"endpoint": f"{origin}/push/x", "keys": {"p256dh": p256dh, "auth": auth}}
    payload = {"title": "TrocheLog", "body": "You have a scheduled reminder.", "tag": "tl-x",
               "url": "/reminders/x/open", "id": str(uuid.uuid4()),
               "actions": {"open": "Open", "snooze": "Snooze 15 min"}}
    started = time.perf_counter()
    for _ in range(CRYPTO_SAMPLE):
        sender.prepare(subscription, payload, keys=keys, ttl=14400, urgency="high",
                       topic=uuid.uuid4().hex)
    return CRYPTO_SAMPLE / (time.perf_counter() - started)


def main() -> int:
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.push_receiver"], cwd=ROOT, stdout=subprocess.PIPE,
        text=True)
    try:
        port = int(receiver.stdout.readline())
        origin = f"http://127.0.0.1:{port}"
        migrate()
        now = datetime.now(UTC)
        _seed(origin, now)
        with Session(engine) as session:
            keys = vapid.keys(session)
        crypto_rate = _crypto_only(keys, origin)

        started = time.perf_counter()
        summary = dispatcher.PassSummary()
        while True:
            step = dispatcher.fan_out(now + timedelta(seconds=1))
            summary.fanned_out += step.fanned_out
            if not step.fanned_out:
                break
        fanned = time.perf_counter() - started
        dispatcher.send_due(now + timedelta(seconds=1), summary)
        elapsed = time.perf_counter() - started
        with urllib.request.urlopen(f"{origin}/count") as answer:  # noqa: S310 - loopback
            received = int(answer.read())
    finally:
        receiver.terminate()
        engine.dispose()
        _database.close()

    rate = summary.sent / elapsed
    lines = [
        f"- Database: {engine.dialect.name}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{dispatcher.SEND_THREADS} sending threads, batches of {dispatcher.BATCH}",
        f"- Due reminders: {REMINDERS:,} ({PEOPLE:,} people, one device each); "
        f"sent {summary.sent:,}, received by the push service {received:,}",
        f"- Fan-out (claim occurrences, one delivery per device): {fanned:.2f} s",
        f"- End to end (fan-out, claim, encrypt, sign, POST, record): {elapsed:.2f} s = "
        f"**{rate:,.0f} messages/s**",
        f"- Encryption + signing alone (`sender.prepare`, one thread): "
        f"**{crypto_rate:,.0f} messages/s**",
        f"- Ratio (end to end / crypto alone): **{rate / crypto_rate:.2f}**",
    ]
    print("\n".join(lines))
    _record(engine.dialect.name, lines)
    return 0 if received == summary.sent == REMINDERS else 1


def _record(database: str, lines: list[str]) -> None:
    report.record(f"push-fanout:{database}", f"Push fan-out on {database}", lines)


if __name__ == "__main__":
    sys.exit(main())
