"""Sync: a phone's whole outbox flushed in one request, and randomized replays across two app
processes on one database (0 duplicates, 0 lost; a reused id with other content never
overwrites).

    .venv/bin/python -m bench.sync_bench                        # SQLite (two processes, one file)
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python -m bench.sync_bench
    BENCH_SYNC_OUTBOX=100 BENCH_SYNC_REPLAYS=1000 .venv/bin/python -m bench.sync_bench   # quick

The app runs as production does (bench/server.py: prestart, the Dockerfile's uvicorn command),
two processes on one fresh database. Sizes: BENCH_SYNC_OUTBOX items in the one-request flush
(500), BENCH_SYNC_REPLAYS item sends in the replay run (10,000), BENCH_SYNC_PATIENTS patients
(4) with two phones each, one phone on each process, all sending at once. Writes its section of
docs/benchmarks.md (not with BENCH_RECORD=0). Numbers, never assertions (the exit status is 1
if a row is lost or doubled).
"""

import json
import os
import platform
import random
import re
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

OUTBOX = int(os.environ.get("BENCH_SYNC_OUTBOX", "500"))
REPLAYS = int(os.environ.get("BENCH_SYNC_REPLAYS", "10000"))
PATIENTS = max(1, int(os.environ.get("BENCH_SYNC_PATIENTS", "4")))
SEED = int(os.environ.get("BENCH_SYNC_SEED", "14"))
PHONE_BATCH = 50  # app/static/outbox.js BATCH: what a phone sends per request today
CONFLICTS = 100  # ids replayed with other content, after the run and racing each other

# The bench's own process never serves: the app modules it imports (models, factories) need
# settings that load; its engine is made for the fresh database below.
_tmp = tempfile.mkdtemp(prefix="trochelog-bench-")
os.environ["DATABASE_URL"] = f"sqlite:///{_tmp}/unused.db"
os.environ["APP_ENV"] = "test"
os.environ["REMINDERS_DISPATCHER"] = "off"
os.environ.setdefault("SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")
# Cheap hashes for the seeded accounts (a hash carries its own cost: the servers verify it).
os.environ["ARGON2_TIME_COST"] = "1"
os.environ["ARGON2_MEMORY_KIB"] = "8192"

import httpx2 as httpx  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from app.accounts.models import User  # noqa: E402
from app.checkins.models import CheckIn, QuestionnaireResponse  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.doses.models import Dose, GateCheck, LedgerEntry  # noqa: E402
from app.sync.api import MAX_ITEMS  # noqa: E402
from bench import report  # noqa: E402
from bench.server import AppServer, database_kind, fresh_database, migrate  # noqa: E402
from tests import factories  # noqa: E402

# Read by the settings above; the servers must not inherit them (production refuses them).
for _name in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB"):
    os.environ.pop(_name)

ROOT = Path(__file__).resolve().parent.parent
ZONE = "America/New_York"
TABLES = {"checkin": CheckIn, "questionnaire": QuestionnaireResponse, "gate": GateCheck,
          "dose": Dose, "ledger_count": LedgerEntry, "ledger_fill": LedgerEntry}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- accounts and phones -------------------------------------------------------------------------


def _seed(engine, n: int) -> list[str]:
    """`n` patients, each with a prescriber and a plan of Monday and Thursday sessions at 10:00
    that started five weeks ago (no sitter required: the bench's gates pass). Their emails."""
    today = datetime.now(ZoneInfo(ZONE)).date()
    emails = []
    with Session(engine) as session:
        for _ in range(n):
            _, patient, _ = factories.patient_with_protocol(
                session, timezone=ZONE, sitter_required=False, maintenance=None,
                starts_on=(today - timedelta(days=35)).isoformat(),
                induction={"cadence": "weekdays", "weekdays": [0, 3], "at": "10:00",
                           "weeks": 12})
            emails.append(patient.email)
        session.commit()
    return emails


class Phone:
    """One signed-in browser on one app process: its own cookies and CSRF token."""

    def __init__(self, origin: str, email: str):
        self.http = httpx.Client(base_url=origin, timeout=120, follow_redirects=False)
        page = self.http.get("/login").text
        answer = self.http.post("/login", data={"email": email, "password": factories.PASSWORD,
                                                "csrf_token": _CSRF.search(page).group(1)})
        if answer.status_code != 303:
            raise RuntimeError(f"sign-in answered {answer.status_code}")
        self.csrf = self.http.get("/api/v1/me").json()["csrf_token"]

    def sync(self, items: list[dict]) -> httpx.Response:
        return self.http.post("/api/v1/sync", json={"items": items},
                              headers={"X-CSRF-Token": self.csrf})

    def close(self) -> None:
        self.http.close()


def _item(kind: str, data: dict, at: datetime, item_id: str | None = None) -> dict:
    return {"id": item_id or str(uuid.uuid4()), "kind": kind,
            "recorded_at": at.astimezone(UTC).isoformat(), "data": data}


# --- a. one outbox in one request ----------------------------------------------------------------

SESSION_VALUES = {"systolic": 132, "diastolic": 84, "heart_rate": 76, "dissociation": 4,
                  "sedation": 1, "nausea": "mild", "note": "Sitter here, talking normally."}


def outbox(size: int, now: datetime, rng: random.Random) -> list[dict]:
    """What a phone queues over four weeks without a signal, oldest first: for each Monday and
    Thursday session a safety check, the dose, the pre-dose, +40 minute, end-of-session and
    next-morning check-ins; PHQ-9 and GAD-7 every two weeks, a pill count weekly, a fill; the
    daily mood each evening, and more mood entries with notes through the days until the outbox
    holds `size` items (cut from the newest end when the structured part alone is larger)."""
    tz = ZoneInfo(ZONE)
    first = (now - timedelta(days=28)).astimezone(tz).date()
    last = now.astimezone(tz).date()

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)

    items: list[dict] = []
    day = first
    while day <= last:
        if day.weekday() in (0, 3):
            gate = _item("gate", factories.gate_data(), at(day, 10))
            dose = _item("dose", {"taken_at": at(day, 10, 5).isoformat(), "dose_mg": "100",
                                  "route": "sublingual", "gate_id": gate["id"],
                                  "lot": "B-2025", "hold_minutes": 15, "swallowed": False},
                         at(day, 10, 6))
            items += [
                _item("checkin", {"slot": "pre", "values": {"mood": 5, "systolic": 126,
                                                            "diastolic": 80, "heart_rate": 72}},
                      at(day, 9, 55)),
                gate, dose,
                _item("checkin", {"slot": "plus40", "dose_id": dose["id"],
                                  "values": SESSION_VALUES}, at(day, 10, 46)),
                _item("checkin", {"slot": "end", "dose_id": dose["id"],
                                  "values": {**SESSION_VALUES, "dissociation": 1}},
                      at(day, 12, 6)),
                _item("checkin", {"slot": "next_morning", "dose_id": dose["id"],
                                  "values": {"slept": True, "residual": "mild", "mood": 7}},
                      at(day + timedelta(days=1), 9, 30)),
            ]
        if (day - first).days % 14 == 0:
            items += [_item("questionnaire", {"instrument": "phq9", "answers": [1] * 8 + [0]},
                            at(day, 19)),
                      _item("questionnaire", {"instrument": "gad7", "answers": [1] * 7},
                            at(day, 19, 5))]
        if (day - first).days % 7 == 3:
            items.append(_item("ledger_count", {"counted_at": at(day, 18).isoformat(),
                                                "count": "6"}, at(day, 18)))
        if (day - first).days == 1:
            items.append(_item("ledger_fill", {"filled_on": day.isoformat(), "count": 8,
                                               "strength_mg": "100"}, at(day, 12)))
        items.append(_item("checkin", {"slot": "daily", "values": {
            "mood": rng.randint(3, 8), "note": "Evening: a steady day, walked the dog."}},
            at(day, 20)))
        day += timedelta(days=1)
    items = [i for i in items if datetime.fromisoformat(i["recorded_at"]) <= now]
    minutes = int((now - at(first, 8)).total_seconds() // 60)
    while len(items) < size:
        when = at(first, 8) + timedelta(minutes=rng.randrange(minutes))
        items.append(_item("checkin", {"slot": "daily", "values": {
            "mood": rng.randint(2, 9), "note": "Noted how I feel right now."}}, when))
    items.sort(key=lambda i: i["recorded_at"])
    return items[:size]


def _statuses(results: list[dict]) -> Counter:
    return Counter(r["status"] for r in results)


def one_request_flush(origin: str, emails: list[str], now: datetime) -> list[str]:
    """The outbox in one request; the same outbox for another patient in the phone's batches of
    50 (what outbox.js sends); the one-request flush sent again (a phone that never saw the
    answer)."""
    rng = random.Random(SEED)  # noqa: S311 - a repeatable mix, not a secret
    whole, batched = Phone(origin, emails[0]), Phone(origin, emails[1 % len(emails)])
    try:
        items = outbox(OUTBOX, now, rng)
        body = len(json.dumps({"items": items}).encode())
        kinds = Counter(i["kind"] for i in items)
        started = time.perf_counter()
        answer = whole.sync(items)
        one = time.perf_counter() - started
        if answer.status_code != 200:
            raise RuntimeError(f"the {len(items)}-item flush answered {answer.status_code}: "
                               f"{answer.text[:300]}")
        results = answer.json()["results"]
        created = _statuses(results)
        refused = [r for r in results if r["status"] == "rejected"][:3]

        started = time.perf_counter()
        again = whole.sync(items)
        replay = time.perf_counter() - started
        replayed = _statuses(again.json()["results"]) if again.status_code == 200 else {}

        # The same outbox with ids of its own (a dose names its gate, a check-in its dose).
        text_ = json.dumps(outbox(OUTBOX, now, random.Random(SEED)))  # noqa: S311
        for old_id in re.findall(r'"id": "([0-9a-f-]{36})"', text_):
            text_ = text_.replace(old_id, str(uuid.uuid4()))
        twin = json.loads(text_)
        started = time.perf_counter()
        batch_statuses: Counter = Counter()
        requests = 0
        for first in range(0, len(twin), PHONE_BATCH):
            response = batched.sync(twin[first:first + PHONE_BATCH])
            requests += 1
            batch_statuses += _statuses(response.json()["results"])
        in_batches = time.perf_counter() - started
    finally:
        whole.close()
        batched.close()

    mix = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
    lines = [
        f"- Outbox of {len(items)} items ({mix}); request body {body / 1024:,.0f} KiB",
        f"- In one request: **{one:.2f} s** = {len(items) / one:,.0f} items/s "
        f"({_fmt(created)})",
        f"- The same outbox in the phone's batches of {PHONE_BATCH} ({requests} requests, one "
        f"after another): {in_batches:.2f} s ({_fmt(batch_statuses)})",
        f"- The one-request flush sent again (the phone never saw the answer): {replay:.2f} s "
        f"({_fmt(replayed)})",
    ]
    if refused:
        lines.append(f"- Refused (first {len(refused)}): " + "; ".join(
            f"{r.get('code') or ''} {r.get('detail', '')[:80]}" for r in refused))
    return lines


def _fmt(counts) -> str:
    return ", ".join(f"{n:,} {status}" for status, n in sorted(counts.items())) or "none"


# --- b. randomized replays across two processes --------------------------------------------------


def _replay_content(kind: str, now: datetime, rng: random.Random, today: date) -> dict:
    """An item whose acceptance does not depend on the order it arrives in: mood check-ins,
    normal safety checks, doses logged as already taken (recorded whatever the rules say, with
    flags), questionnaires, pill counts and fills."""
    at = now - timedelta(seconds=rng.randrange(20 * 24 * 3600))
    data: dict
    if kind == "checkin":
        data = {"slot": "daily", "values": {"mood": rng.randint(0, 10), "note": "Replayed."}}
    elif kind == "gate":
        data = factories.gate_data(systolic=rng.randint(110, 140))
    elif kind == "dose":
        data = {"taken_at": at.isoformat(), "dose_mg": "100", "route": "sublingual",
                "no_gate_reason": "Logged afterwards.", "already_taken": True,
                "override_reason": "Taken already; logging it."}
    elif kind == "questionnaire":
        data = {"instrument": "gad7", "answers": [rng.randint(0, 3) for _ in range(7)]}
    elif kind == "ledger_count":
        data = {"counted_at": at.isoformat(), "count": str(rng.randint(0, 30))}
    else:
        data = {"filled_on": (today - timedelta(days=rng.randint(0, 10))).isoformat(),
                "count": rng.randint(1, 60), "strength_mg": "100"}
    return _item(kind, data, at)


REPLAY_KINDS = ["checkin"] * 10 + ["gate"] * 3 + ["dose"] * 2 + ["questionnaire"] * 2 + \
    ["ledger_count"] * 2 + ["ledger_fill"]


def _plan(unique: list[dict], sends: int, rng: random.Random) -> list[list[dict]]:
    """`sends` sends of the `unique` items (each at least once, the rest random repeats),
    shuffled, cut into batches of 1 to 50 in which the same id may even appear twice."""
    flat = list(unique) + [rng.choice(unique) for _ in range(max(0, sends - len(unique)))]
    rng.shuffle(flat)
    batches, i = [], 0
    while i < len(flat):
        n = rng.randint(1, PHONE_BATCH)
        batches.append(flat[i:i + n])
        i += n
    return batches


def replays(origins: list[str], emails: list[str], engine, now: datetime) -> tuple[list[str], bool]:
    rng = random.Random(SEED + 1)  # noqa: S311
    today = now.astimezone(ZoneInfo(ZONE)).date()
    per_patient = REPLAYS // len(emails)
    unique_n = max(1, per_patient // 3)  # three sends per id on average
    plans, expected = [], {}
    for email in emails:
        unique = [_replay_content(rng.choice(REPLAY_KINDS), now, rng, today)
                  for _ in range(unique_n)]
        expected.update({i["id"]: (email, i["kind"]) for i in unique})
        batches = _plan(unique, per_patient, rng)
        owner = [rng.randrange(len(origins)) for _ in batches]
        # Two phones per patient, one on each app process, each sending a random half.
        for n, origin in enumerate(origins):
            plans.append((email, origin, [b for k, b in enumerate(batches)
                                          if owner[k] == n]))
    phones = [Phone(origin, email) for email, origin, _ in plans]
    created: Counter = Counter()
    statuses: Counter = Counter()
    errors: Counter = Counter()
    lock = threading.Lock()
    sent = [0]

    def run(phone: Phone, batches: list[list[dict]]) -> None:
        for batch in batches:
            answer = phone.sync(batch)
            with lock:
                sent[0] += len(batch)
                if answer.status_code != 200:
                    errors[answer.status_code] += 1
                    continue
                for result in answer.json()["results"]:
                    statuses[result["status"]] += 1
                    if result["status"] == "created":
                        created[result["id"]] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(len(phones)) as pool:
        for future in [pool.submit(run, phone, plan)
                       for phone, (_, _, plan) in zip(phones, plans, strict=True)]:
            future.result()
    elapsed = time.perf_counter() - started

    stored: Counter = Counter()  # rows per client id, over every table an item writes
    unexpected = 0
    with Session(engine) as session:
        ids = {uuid.UUID(i) for i in expected}
        patients = list(session.exec(select(User.id).where(col(User.email).in_(emails))))
        for model in {*TABLES.values()}:
            for row_id, n in session.exec(
                    select(model.id, func.count()).where(col(model.patient_id).in_(patients))
                    .group_by(model.id)):
                if row_id in ids:
                    stored[str(row_id)] += n
                else:
                    unexpected += n
        from app.sync.models import ClientWrite
        ledger = Counter({str(i): n for i, n in session.exec(
            select(ClientWrite.id, func.count()).where(col(ClientWrite.id).in_(ids))
            .group_by(ClientWrite.id))})
    lost = [i for i in expected if stored[i] == 0 or ledger[i] == 0]
    doubled = [i for i in expected if stored[i] > 1 or ledger[i] > 1 or created[i] > 1]

    conflict_lines, conflicts_ok = _conflicts(phones, plans, expected, engine, now, rng)
    for phone in phones:
        phone.close()
    per_client = Counter(email for email, _ in expected.values())
    lines = [
        f"- {sent[0]:,} item sends ({len(expected):,} distinct client ids, each sent 1 to "
        f"many times; random order, batches of 1–{PHONE_BATCH}, an id sometimes twice in one "
        f"batch) by {len(phones)} phones at once: {len(emails)} patients × one phone on each "
        f"of {len(origins)} app processes on the same database",
        f"- Time: **{elapsed:.1f} s** = {sent[0] / elapsed:,.0f} item sends/s; answers: "
        f"{_fmt(statuses)}; HTTP errors: {_fmt(errors)}",
        f"- Stored rows per client id: **{len(doubled)} duplicates, {len(lost)} lost** "
        f"({sum(stored.values()):,} rows for {len(expected):,} ids; "
        f"{min(per_client.values()):,}–{max(per_client.values()):,} ids per patient; "
        f"'created' answered once per id: {all(created[i] == 1 for i in expected)}; "
        f"rows nobody sent: {unexpected})",
        *conflict_lines,
    ]
    return lines, not lost and not doubled and not errors and not unexpected and conflicts_ok


def _snapshot(engine, items: dict[str, str]) -> dict[str, tuple]:
    """Each id's stored rows as plain values (the domain row and its ledger entry)."""
    from app.sync.models import ClientWrite
    found = {}
    with Session(engine) as session:
        for item_id, kind in items.items():
            key = uuid.UUID(item_id)
            row = session.get(TABLES[kind], key)
            write = session.get(ClientWrite, key)
            found[item_id] = ({c.name: getattr(row, c.name) for c in row.__table__.columns}
                              if row else None,
                              write.content_hash if write else None)
    return found


def _changed(item: dict, rng: random.Random, now: datetime, today: date) -> dict:
    other = _replay_content(item["kind"], now, rng, today)
    return {**other, "id": item["id"]}


def _conflicts(phones, plans, expected, engine, now, rng) -> tuple[list[str], bool]:
    """Stored ids sent again with other content; then fresh ids sent with two contents at once
    from the two processes. The first write stands; every other content is refused."""
    today = now.astimezone(ZoneInfo(ZONE)).date()
    phone_of = {(email, origin): phone
                for phone, (email, origin, _) in zip(phones, plans, strict=True)}
    origins = sorted({origin for _, origin, _ in plans})
    # After the fact: CONFLICTS stored ids, new content, through the other process.
    chosen = rng.sample(sorted(expected), min(CONFLICTS, len(expected)))
    kinds = {i: expected[i][1] for i in chosen}
    before = _snapshot(engine, kinds)
    codes: Counter = Counter()
    for item_id in chosen:
        email, kind = expected[item_id]
        item = _changed({"id": item_id, "kind": kind}, rng, now, today)
        (result,) = phone_of[(email, origins[-1])].sync([item]).json()["results"]
        codes[f"{result['status']} ({result.get('code', '')})"] += 1
    unchanged = _snapshot(engine, kinds) == before

    # At once: two contents for one new id, one from each process, released together.
    raced: Counter = Counter()
    winners_stored = 0
    email = next(iter(expected.values()))[0]
    pairs = []
    for _ in range(min(CONFLICTS // 2, 50)):
        first = _replay_content("checkin", now, rng, today)
        pairs.append((first, _changed(first, rng, now, today)))
    barrier = threading.Barrier(2)

    def send(phone, items):
        barrier.wait()
        return [phone.sync([item]).json()["results"][0] for item in items]

    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(send, phone_of[(email, origins[0])], [p[0] for p in pairs])
        b = pool.submit(send, phone_of[(email, origins[-1])], [p[1] for p in pairs])
        left, right = a.result(), b.result()
    with Session(engine) as session:
        for (one, two), r1, r2 in zip(pairs, left, right, strict=True):
            pair = tuple(sorted((r1["status"], r2["status"])))
            raced[" + ".join(pair)] += 1
            winner = one if r1["status"] == "created" else two
            row = session.get(CheckIn, uuid.UUID(one["id"]))
            winners_stored += row is not None and row.values == winner["data"]["values"]
    ok = (unchanged and set(codes) == {"rejected (id_conflict)"}
          and set(raced) == {"created + rejected"} and winners_stored == len(pairs))
    return [
        f"- A stored id sent again with other content, through the other process "
        f"({len(chosen)} ids): {_fmt(codes)}; stored rows unchanged: **{unchanged}**",
        f"- A new id sent with two contents at once, one to each process ({len(pairs)} ids): "
        f"{_fmt(raced)}; the stored row is the one answered 'created': "
        f"{winners_stored}/{len(pairs)}",
    ], ok


# --- the run -------------------------------------------------------------------------------------


def main() -> int:
    kind = database_kind()
    started_at = datetime.now(UTC)
    with fresh_database(kind) as url:
        migrate(url)
        engine = make_engine(url)
        emails = _seed(engine, PATIENTS + 2)  # the last two for the one-request flush
        with AppServer(url) as a, AppServer(url) as b:
            now = datetime.now(UTC)
            flush = one_request_flush(a.origin, emails[-2:], now)
            replayed, ok = replays([a.origin, b.origin], emails[:PATIENTS], engine, now)
        engine.dispose()

    lines = [
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; database: {kind}; the client on the same machine",
        f"- Command: `{_command(kind)}`; {started_at:%Y-%m-%d %H:%M} UTC",
        f"- Server: two processes, each the production command (docker/prestart.sh → uvicorn, "
        f"one worker); POST /api/v1/sync takes at most {MAX_ITEMS} items",
        "",
        "**One outbox, one request**",
        "",
        *flush,
        "",
        "**Randomized replays**",
        "",
        *replayed,
    ]
    print("\n".join(lines))
    _record(kind, lines)
    return 0 if ok else 1


def _command(kind: str) -> str:
    sizes = (f"BENCH_SYNC_OUTBOX={OUTBOX} BENCH_SYNC_REPLAYS={REPLAYS} "
             f"BENCH_SYNC_PATIENTS={PATIENTS}")
    url = "BENCH_DATABASE_URL=postgresql+psycopg://… " if kind == "postgresql" else ""
    return f"{url}{sizes} .venv/bin/python -m bench.sync_bench"


def _record(database: str, lines: list[str]) -> None:
    report.record(f"sync:{database}", f"Sync on {database}", lines)


if __name__ == "__main__":
    sys.exit(main())
