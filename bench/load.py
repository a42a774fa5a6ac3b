"""Server throughput and latency under the real mix, as a ratio to the same server's ceiling.

    make bench                                   # SQLite
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test make bench
    LOAD_SECONDS=3 LOAD_USERS=10 BENCH_RECORD=0 .venv/bin/python -m bench.load   # a quick check

One production process (bench/server.py: docker/prestart.sh, the Dockerfile's uvicorn command)
on a fresh database seeded with its own clinic (bench/load_seed.py). Every virtual user signs in
through the real /login form and finds its pages by following links (the first dosers below
excepted: the seed starts their sessions). Phases, in one server run:

1. Ceiling: GET /livez (constant, no database) from LOAD_USERS closed loops for LOAD_SECONDS.
2. Each endpoint alone, the same way: its throughput ÷ the ceiling is the headline RATIO. The
   dose-sync goal's batch is a safety check and a dose, each from one of LOAD_FIRST_DOSERS
   patients logging the day's first dose (clean, with nothing to correct).
3. The mix: LOAD_USERS users in closed loops (no think time), LOAD_PRESCRIBERS of them
   prescribers and LOAD_CAREGIVERS caregivers (sitters). A patient's iteration: Today (full
   page), Today as a boosted htmx request (HX-Request: true), GET /api/v1/me (the outbox's
   whoAmI), a sync batch with a safety check and a dose, a sync batch with a daily mood
   check-in, Trends. A prescriber's: the patient list, then one patient's timeline (a link from
   the list). A caregiver's (each supports two patients): their home page, the page about one
   of the patients, then a session checklist (links from home; each takes the next patient in
   turn, so a caregiver's iteration visits both).
4. Open loop: sync writes sent at a fixed LOAD_WRITE_RATE/s while page reads go on at
   LOAD_READ_RATE/s; latency counted from when each request was due (so a backlog shows), p99
   reported. A write is what the phone's outbox holds and the server answers one by one: one
   item with its own client id (a correction, a safety check, a dose). The batches here hold
   three, so the goal's 50 writes/s is 16.7 batches/s. First the writes alone (what the write
   path does by itself), then with reads beside them at each rate of LOAD_READ_SWEEP (the
   headroom: the highest read rate at which the writes still keep p99 under 250 ms; rates past
   LOAD_READ_RATE stop at the first that misses), then LOAD_STRESS_BATCHES batches/s (3× the
   goal at the default 50) with the reads, to show where the write path stops keeping up.
5. On PostgreSQL: the mix against one app process, then two on the same database with the
   users split between them → the scaling factor. Sessions live in the database, so the same
   cookies work on both.

What the writes are: every dose must be recorded (safety check "ok"), or the benchmark would
measure refusals. The plan is one session a day at the seeding minute, so the first dose of the
run is on schedule; for the next one not to be refused as "too soon" (20 h minimum), each later
batch starts by marking the user's previous dose entered in error (the correction a patient
makes for a wrong entry), then a new safety check, then the dose: three writes per batch, each
answered "created" (DOSE_CHAIN). Since 2026-12-05 that dose is recorded with the flag
`cleared_by_correction` (within the limits only because the dose before it was struck), as the
rule intends: the chain measures a flagged dose, and the prescribers' list in the mix shows that
flag for every patient who repeated. Entered-in-error doses stay in the record (the timeline
shows them), not on Today. The goal names a batch of a safety check and a dose, so its phase
sends exactly that, each for a patient who has not dosed in the run (DOSE), and checks that
each dose is clean: no flag at all.

Every response's status is checked (200 for pages and API, each sync item "created"); anything
else is counted as an error, reported beside the figures, and fails the run (exit 1). The
client runs on the same machine as the servers (say how many cores): its share of the CPU is
not the server's. Numbers, never assertions.
"""

import asyncio
import itertools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx2 as httpx

from bench import report
from bench.server import BIN, ROOT, AppServer, database_kind, fresh_database, migrate, server_env

SECONDS = float(os.environ.get("LOAD_SECONDS", "20"))
USERS = int(os.environ.get("LOAD_USERS", "50"))
PRESCRIBERS = int(os.environ.get("LOAD_PRESCRIBERS", str(max(1, USERS // 10))))
CAREGIVERS = int(os.environ.get("LOAD_CAREGIVERS", str(max(1, USERS // 10))))
PATIENTS = max(int(os.environ.get("LOAD_PATIENTS", "50")), USERS)
# Patients who each log one first dose of the day in the goal's phase. The phase ends early if
# they run out (reported), so there are more than a fast hour's 20 s can use (about 120/s).
FIRST_DOSERS = int(os.environ.get("LOAD_FIRST_DOSERS", "2500"))
WRITE_RATE = float(os.environ.get("LOAD_WRITE_RATE", "50"))  # writes (items) per second
STRESS_BATCHES = float(os.environ.get("LOAD_STRESS_BATCHES", "50"))  # batches per second
# Writes per dose batch once a user's chain has started: a correction of the previous dose,
# a safety check and the dose (the module's docstring says why).
ITEMS_PER_BATCH = 3
# Page reads beside the open loop's writes. At 50/s the reads alone were more than one process
# serves here (about 35/s of this mix): the phase measured an overload, not the writes.
READ_RATE = float(os.environ.get("LOAD_READ_RATE", "10"))
# The read rates tried beside the goal's writes, to find how many page reads a second one
# process serves while the writes keep their p99 under the goal: one rate's p99 swings with the
# hour the machine is having (62 ms to seconds at 10 reads/s); the rate where it crosses the
# goal says how much headroom there is.
READ_SWEEP = tuple(sorted({float(r) for r in
                           os.environ.get("LOAD_READ_SWEEP", "2.5,5,10,20,30").split(",")}
                          | {READ_RATE}))
P99_GOAL = 0.250  # seconds, at WRITE_RATE

LIVEZ = "GET /livez"
TODAY = "Today page"
PARTIAL = "Today (htmx)"
ME = "GET /api/v1/me"
# The goal's batch: a safety check and a dose, the day's first for a patient not yet seen in the
# run (a fresh one each time: FIRST_DOSERS). A repeating patient's batch also strikes the
# previous dose, so the next one is not refused (it is flagged cleared_by_correction):
# DOSE_CHAIN, in the mix and the open loop.
DOSE = "sync: gate + dose"
DOSE_CHAIN = "sync: correction + gate + dose"
CHECKIN = "sync: check-in"
TRENDS = "Trends page"
PATIENT_LIST = "Patient list"
TIMELINE = "Patient timeline"
SUPPORTING = "Caregiver home"
SUPPORTED_PAGE = "Caregiver: patient page"
SITTER_SESSION = "Caregiver: session checklist"
GOALS = {DOSE: 0.3, TODAY: 0.4}
UUID_LINK = re.compile(r'href="(/patients/[0-9a-f-]{36})"')
SUPPORTED_LINK = re.compile(r'href="(/supporting/[0-9a-f-]{36})"')


# --- measurements --------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    sizes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    missed: Counter = field(default_factory=Counter)  # open loop: due but never sent
    written: int = 0  # sync items answered "created" (or "duplicate" on a replay)
    elapsed: float = 0.0
    used_up: bool = False  # the phase ended early: no first doser was left

    def ok(self, label: str, seconds: float, size: int) -> None:
        self.latencies[label].append(seconds)
        self.sizes[label].append(size)

    def fail(self, label: str, why: str) -> None:
        self.errors[label][why] += 1

    def rate(self, label: str) -> float:
        return len(self.latencies[label]) / self.elapsed if self.elapsed else 0.0

    def total_errors(self) -> int:
        return sum(sum(c.values()) for c in self.errors.values())

    def labels(self) -> list[str]:
        return list(dict.fromkeys([*self.latencies, *self.errors]))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:.0f}"


def error_text(stats: Stats, label: str) -> str:
    found = stats.errors.get(label)
    return ", ".join(f"{n}× {why}" for why, n in found.most_common(3)) if found else "0"


# --- virtual users -------------------------------------------------------------------------


@dataclass
class VirtualUser:
    email: str
    role: str
    origin: str
    client: httpx.AsyncClient
    csrf: str = ""
    today: str = ""
    trends: str = ""
    patients: list[str] = field(default_factory=list)
    previous_dose: str | None = None
    unsent: list[dict] | None = None  # a dose batch whose answer was lost: sent again
    replaying: bool = False
    turn: itertools.count = field(default_factory=itertools.count)

    def url(self, path: str) -> str:
        return self.origin + path


Step = Callable[[Stats, VirtualUser], Awaitable[None]]


def new_client(keep_cookies: bool = True) -> httpx.AsyncClient:
    """Like a browser: fetch metadata on every request (the CSRF check reads Sec-Fetch-Site).
    Idle connections are dropped after 2 s: uvicorn closes them at 5 s, httpx's default, so a
    user idle that long (a caregiver between open-loop reads) could send on a connection the
    server was closing and count a ReadError the server never saw. Without `keep_cookies` the
    client stores none: each request names its session in its own Cookie header (one
    connection sending for many first dosers, as one proxy connection would)."""
    pool = httpx.Limits(max_connections=200, max_keepalive_connections=200,
                        keepalive_expiry=2.0)
    jar = None if keep_cookies else CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(timeout=60, follow_redirects=False, limits=pool, cookies=jar,
                             headers={"Sec-Fetch-Site": "same-origin",
                                      "User-Agent": "trochelog-bench-load"})


async def sign_in(vu: VirtualUser, password: str) -> None:
    """The real form: GET /login (CSRF token + anonymous cookie), POST /login, follow to the
    landing page and find the links the mix follows."""
    page = await vu.client.get(vu.url("/login"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if page.status_code != 200 or token is None:
        raise RuntimeError(f"/login answered {page.status_code} without a CSRF token")
    answer = await vu.client.post(vu.url("/login"), data={
        "email": vu.email, "password": password, "csrf_token": token.group(1), "next": "/"})
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in of {vu.email} answered {answer.status_code}")
    landing = await vu.client.get(vu.url("/"), follow_redirects=True)
    if landing.status_code != 200:
        raise RuntimeError(f"the landing page answered {landing.status_code}")
    me = await vu.client.get(vu.url("/api/v1/me"))
    vu.csrf = me.json()["csrf_token"]
    if vu.role == "patient":
        vu.today = landing.url.path
        trends = re.search(r'href="(/trends[^"]*)"', landing.text)
        if vu.today != "/today" or trends is None:
            raise RuntimeError(f"a patient landed on {vu.today} without a Trends link")
        vu.trends = trends.group(1)
    elif vu.role == "caregiver":
        if landing.url.path != "/supporting":
            raise RuntimeError(f"a caregiver landed on {landing.url.path}")
        vu.patients = sorted(set(SUPPORTED_LINK.findall(landing.text)))
        if not vu.patients:
            raise RuntimeError("a caregiver's home links to no patient")
    else:
        listing = re.search(r'href="(/patients)"', landing.text)
        if listing is None:
            raise RuntimeError("a prescriber's landing page has no link to the patient list")
        page = await vu.client.get(vu.url(listing.group(1)))
        vu.patients = sorted(set(UUID_LINK.findall(page.text)))
        if not vu.patients:
            raise RuntimeError("a prescriber's patient list links to no patient")


async def call(stats: Stats, label: str, vu: VirtualUser, method: str, path: str, *,
               check: Callable[[httpx.Response], str | None] | None = None,
               due: float | None = None, **kw) -> httpx.Response | None:
    """One measured request: a 200 (and `check` passing) or it counts as an error. `due`: when
    an open-loop request should have started (its latency then includes any backlog)."""
    started = time.perf_counter() if due is None else due
    try:
        response = await vu.client.request(method, vu.url(path), **kw)
    except httpx.HTTPError as exc:
        stats.fail(label, type(exc).__name__)
        return None
    seconds = time.perf_counter() - started
    problem = None if response.status_code == 200 else f"HTTP {response.status_code}"
    if problem is None and check is not None:
        problem = check(response)
    if problem:
        stats.fail(label, problem)
        return None
    stats.ok(label, seconds, len(response.content))
    return response


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def all_created(response: httpx.Response) -> str | None:
    for result in response.json()["results"]:
        if result["status"] != "created":
            return f"item {result['status']} ({result.get('code') or result.get('reasons')})"
    return None


def sync_headers(vu: VirtualUser) -> dict[str, str]:
    return {"X-CSRF-Token": vu.csrf, "Origin": vu.origin}


def all_saved(response: httpx.Response) -> str | None:
    """A replayed batch: items the lost attempt had saved come back "duplicate"."""
    for result in response.json()["results"]:
        if result["status"] not in ("created", "duplicate"):
            return f"item {result['status']} ({result.get('code') or result.get('reasons')})"
    return None


def gate_and_dose() -> list[dict]:
    """A safety check that passes and the dose it clears, each with its own client id."""
    gate_id = str(uuid.uuid4())
    return [
        {"id": gate_id, "kind": "gate", "recorded_at": now_iso(), "data": {
            "systolic": 124, "diastolic": 80, "heart_rate": 72,
            "checklist": {"fasted": True, "no_sedatives": True, "no_driving": True,
                          "safe_place": True, "sitter_present": True}}},
        {"id": str(uuid.uuid4()), "kind": "dose", "recorded_at": now_iso(), "data": {
            "taken_at": now_iso(), "dose_mg": "100", "route": "sublingual",
            "gate_id": gate_id}}]


async def dose_batch(stats: Stats, vu: VirtualUser, due: float | None = None) -> None:
    """A safety check and a dose (after marking the previous dose entered in error). When an
    attempt fails, the next one sends the same items again, as the outbox does: the server may
    have saved them, and only the same ids keep the user's record in order."""
    if vu.unsent is None:
        items = []
        if vu.previous_dose:
            items.append({"id": str(uuid.uuid4()), "kind": "dose_entered_in_error",
                          "recorded_at": now_iso(),
                          "data": {"dose_id": vu.previous_dose, "reason": "Logged twice."}})
        vu.unsent = items + gate_and_dose()
    items, replay = vu.unsent, vu.replaying
    vu.replaying = True
    answer = await call(stats, DOSE_CHAIN, vu, "POST", "/api/v1/sync", json={"items": items},
                        headers=sync_headers(vu), check=all_saved if replay else all_created,
                        due=due)
    if answer is not None:
        stats.written += len(items)
        vu.previous_dose = items[-1]["id"]
        vu.unsent, vu.replaying = None, False


@dataclass
class FirstDoser:
    """A patient signed in by the seed (its session's Cookie header) who has not dosed today."""
    cookie: str
    csrf: str = ""


class FirstDosersUsedUp(Exception):
    """Every first doser has logged their dose: the goal's phase ends here."""


async def ready_first_dosers(accounts: dict, origin: str) -> list[FirstDoser]:
    """Each first doser's CSRF token, from GET /api/v1/me with its session, as the outbox asks
    before a flush (before the phase: not measured)."""
    dosers = [FirstDoser(f"{accounts['cookie']}={token}") for token in accounts["first_dosers"]]
    client, turn = new_client(keep_cookies=False), asyncio.Semaphore(USERS)

    async def one(doser: FirstDoser) -> None:
        async with turn:
            answer = await client.get(origin + "/api/v1/me", headers={"Cookie": doser.cookie})
        if answer.status_code != 200:
            raise RuntimeError(f"a first doser's session answered {answer.status_code}")
        doser.csrf = answer.json()["csrf_token"]

    try:
        await asyncio.gather(*(one(doser) for doser in dosers))
    finally:
        await client.aclose()
    return dosers


def first_dose(dosers: list[FirstDoser]) -> Step:
    """The goal's batch, a safety check and a dose, each time from the next first doser (so
    every dose is a clean one: on schedule, a day after the last). `vu` is only a connection."""
    waiting = iter(dosers)

    async def step(stats: Stats, vu: VirtualUser) -> None:
        doser = next(waiting, None)
        if doser is None:
            raise FirstDosersUsedUp
        items = gate_and_dose()
        answer = await call(stats, DOSE, vu, "POST", "/api/v1/sync", json={"items": items},
                            headers={"X-CSRF-Token": doser.csrf, "Origin": vu.origin,
                                     "Cookie": doser.cookie}, check=all_clean)
        if answer is not None:
            stats.written += len(items)

    return step


def all_clean(response: httpx.Response) -> str | None:
    """Created, the safety check passed and the dose unflagged: the day's first, on schedule."""
    problem = all_created(response)
    if problem is not None:
        return problem
    gate, dose = response.json()["results"]
    if gate.get("verdict") != "ok":
        return f"safety check {gate.get('verdict')}"
    return f"dose flagged {dose['flags']}" if dose.get("flags") else None


async def checkin_batch(stats: Stats, vu: VirtualUser) -> None:
    item = {"id": str(uuid.uuid4()), "kind": "checkin", "recorded_at": now_iso(),
            "data": {"slot": "daily", "values": {"mood": 6, "note": "A steady day."}}}
    await call(stats, CHECKIN, vu, "POST", "/api/v1/sync", json={"items": [item]},
               headers=sync_headers(vu), check=all_created)


def htmx_headers(vu: VirtualUser, path: str) -> dict[str, str]:
    # What htmx 4 sends for a boosted link to the page (base.html's hx-boost).
    return {"HX-Request": "true", "HX-Boosted": "true", "HX-Current-URL": vu.url(path)}


async def today_page(stats: Stats, vu: VirtualUser, due: float | None = None) -> None:
    await call(stats, TODAY, vu, "GET", vu.today, due=due)


async def today_partial(stats: Stats, vu: VirtualUser, due: float | None = None) -> None:
    await call(stats, PARTIAL, vu, "GET", vu.today, headers=htmx_headers(vu, vu.today), due=due)


async def me(stats: Stats, vu: VirtualUser) -> None:
    await call(stats, ME, vu, "GET", "/api/v1/me")


async def trends_page(stats: Stats, vu: VirtualUser, due: float | None = None) -> None:
    await call(stats, TRENDS, vu, "GET", vu.trends, due=due)


async def patient_list(stats: Stats, vu: VirtualUser, due: float | None = None) -> None:
    page = await call(stats, PATIENT_LIST, vu, "GET", "/patients", due=due)
    if page is not None:
        vu.patients = sorted(set(UUID_LINK.findall(page.text))) or vu.patients


def next_patient(vu: VirtualUser) -> str:
    """The page of the next patient this prescriber or caregiver looks after, in turn."""
    return vu.patients[next(vu.turn) % len(vu.patients)]


async def timeline(stats: Stats, vu: VirtualUser, due: float | None = None) -> None:
    await call(stats, TIMELINE, vu, "GET", next_patient(vu), due=due)


async def supporting(stats: Stats, vu: VirtualUser, due: float | None = None) -> None:
    await call(stats, SUPPORTING, vu, "GET", "/supporting", due=due)


async def supported_patient(stats: Stats, vu: VirtualUser, due: float | None = None) -> None:
    await call(stats, SUPPORTED_PAGE, vu, "GET", next_patient(vu), due=due)


async def sitter_session(stats: Stats, vu: VirtualUser, due: float | None = None) -> None:
    await call(stats, SITTER_SESSION, vu, "GET", f"{next_patient(vu)}/session", due=due)


async def livez(stats: Stats, vu: VirtualUser) -> None:
    await call(stats, LIVEZ, vu, "GET", "/livez")


async def patient_iteration(stats: Stats, vu: VirtualUser) -> None:
    await today_page(stats, vu)
    await today_partial(stats, vu)
    await me(stats, vu)  # the outbox asks who is signed in before each flush
    await dose_batch(stats, vu)
    await checkin_batch(stats, vu)
    await trends_page(stats, vu)


async def prescriber_iteration(stats: Stats, vu: VirtualUser) -> None:
    await patient_list(stats, vu)
    await timeline(stats, vu)


async def caregiver_iteration(stats: Stats, vu: VirtualUser) -> None:
    await supporting(stats, vu)
    await supported_patient(stats, vu)
    await sitter_session(stats, vu)


# --- phases --------------------------------------------------------------------------------


async def closed_loop(loops: list[tuple[VirtualUser, Step]], seconds: float) -> Stats:
    """Each (user, step) pair repeats its step back to back until the time is up."""
    stats = Stats()
    deadline = time.perf_counter() + seconds

    async def run(vu: VirtualUser, step: Step) -> None:
        while time.perf_counter() < deadline:
            try:
                await step(stats, vu)
            except FirstDosersUsedUp:
                stats.used_up = True
                return

    started = time.perf_counter()
    await asyncio.gather(*(run(vu, step) for vu, step in loops))
    stats.elapsed = time.perf_counter() - started
    return stats


def spread(users: list[VirtualUser], step: Step, n: int) -> list[tuple[VirtualUser, Step]]:
    """n loops over the users, round robin (several loops may share a user's client)."""
    return [(users[i % len(users)], step) for i in range(n)]


LATE = 1.0  # an open-loop request that cannot start within this of its due time is missed


async def open_loop(patients: list[VirtualUser], prescribers: list[VirtualUser],
                    seconds: float, batch_rate: float, read_rate: float = READ_RATE,
                    caregivers: list[VirtualUser] | None = None) -> Stats:
    """Dose batches due at `batch_rate`/s (each from an idle patient: one user's writes stay in
    order) and page reads due at `read_rate`/s, in the mix's proportions, at most USERS reads in
    flight. A request that cannot start within LATE seconds of its due time (no idle patient,
    too many reads waiting) is counted as missed, not queued: past capacity the phase reports
    the rate it reached instead of a queue that grows for minutes."""
    stats = Stats()
    idle: asyncio.Queue[VirtualUser] = asyncio.Queue()
    for vu in patients:
        idle.put_nowait(vu)
    in_flight = asyncio.Semaphore(USERS)
    reads: list[tuple[Step, list[VirtualUser]]] = (
        [(today_page, patients), (today_partial, patients), (trends_page, patients)] * 9
        + [(patient_list, prescribers), (timeline, prescribers)]
        + ([(supporting, caregivers), (supported_patient, caregivers),
            (sitter_session, caregivers)] if caregivers else []))
    tasks: list[asyncio.Task] = []

    async def write(i: int, due: float) -> None:
        try:
            vu = await asyncio.wait_for(idle.get(), LATE)
        except TimeoutError:
            stats.missed[DOSE_CHAIN] += 1
            return
        try:
            await dose_batch(stats, vu, due=due)
        finally:
            idle.put_nowait(vu)

    async def read(i: int, due: float) -> None:
        try:
            await asyncio.wait_for(in_flight.acquire(), LATE)
        except TimeoutError:
            stats.missed["reads"] += 1
            return
        try:
            step, users = reads[i % len(reads)]
            await step(stats, users[i % len(users)], due=due)
        finally:
            in_flight.release()

    async def schedule(rate: float, start: Callable[[int, float], Awaitable[None]]) -> None:
        if rate <= 0:
            return
        origin = time.perf_counter()
        for i in itertools.count():
            due = origin + i / rate
            if due - origin >= seconds:
                return
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(start(i, due)))

    started = time.perf_counter()
    await asyncio.gather(schedule(batch_rate, write), schedule(read_rate, read))
    await asyncio.gather(*tasks)
    stats.elapsed = time.perf_counter() - started
    return stats


async def read_sweep(patients: list[VirtualUser], prescribers: list[VirtualUser],
                     caregivers: list[VirtualUser], batch_rate: float,
                     rates: tuple[float, ...] = READ_SWEEP,
                     seconds: float = SECONDS) -> dict[float, Stats]:
    """The writes at `batch_rate` with page reads beside them at each of `rates`, slowest
    first. Every rate up to READ_RATE is measured (the report's fixed point); past it the sweep
    stops at the first rate whose write p99 misses the goal, since faster ones only miss more."""
    found: dict[float, Stats] = {}
    for rate in sorted(rates):
        found[rate] = stats = await open_loop(patients, prescribers, seconds, batch_rate,
                                              read_rate=rate, caregivers=caregivers)
        if rate >= READ_RATE and not meets_p99_goal(stats):
            break
    return found


def meets_p99_goal(stats: Stats) -> bool:
    """The writes kept p99 under the goal, none failed or went unsent, and neither did a page
    read beside them (a rate the server could not keep up with was not served)."""
    done = stats.latencies[DOSE_CHAIN]
    return (bool(done) and percentile(done, 99) < P99_GOAL
            and sum(stats.missed.values()) == 0 and not stats.total_errors())


def mix_loops(patients: list[VirtualUser], prescribers: list[VirtualUser],
              caregivers: list[VirtualUser]):
    return ([(vu, patient_iteration) for vu in patients]
            + [(vu, prescriber_iteration) for vu in prescribers]
            + [(vu, caregiver_iteration) for vu in caregivers])


SOLO: list[tuple[str, Step, str]] = [
    (TODAY, today_page, "patient"), (PARTIAL, today_partial, "patient"),
    (ME, me, "patient"), (DOSE_CHAIN, dose_batch, "patient"),
    (CHECKIN, checkin_batch, "patient"),
    (TRENDS, trends_page, "patient"), (PATIENT_LIST, patient_list, "prescriber"),
    (TIMELINE, timeline, "prescriber"), (SUPPORTING, supporting, "caregiver"),
    (SUPPORTED_PAGE, supported_patient, "caregiver"), (SITTER_SESSION, sitter_session, "caregiver"),
]


# --- a run ---------------------------------------------------------------------------------


def seed(database_url: str, patients: int, prescribers: int, caregivers: int = 0,
         first_dosers: int = 0) -> dict:
    done = subprocess.run(  # noqa: S603 - our own module
        [str(BIN / "python"), "-m", "bench.load_seed", str(patients), str(prescribers),
         str(caregivers), str(first_dosers)],
        cwd=ROOT, env=server_env(database_url), check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


async def sign_in_all(accounts: dict, origin: str, patients: int, prescribers: int,
                      caregivers: int = 0) -> tuple[list[VirtualUser], ...]:
    """(patients, prescribers, caregivers), each signed in through the form."""
    people = [VirtualUser(e, "patient", origin, new_client())
              for e in accounts["patients"][:patients]]
    doctors = [VirtualUser(accounts["prescribers"][i % len(accounts["prescribers"])],
                           "prescriber", origin, new_client()) for i in range(prescribers)]
    sitters = [VirtualUser(accounts["caregivers"][i % len(accounts["caregivers"])],
                           "caregiver", origin, new_client()) for i in range(caregivers)]
    gate = asyncio.Semaphore(4)  # Argon2 at the production cost: a few at a time

    async def one(vu: VirtualUser) -> None:
        async with gate:
            await sign_in(vu, accounts["password"])

    await asyncio.gather(*(one(vu) for vu in people + doctors + sitters))
    return people, doctors, sitters


async def close_all(users: list[VirtualUser]) -> None:
    await asyncio.gather(*(vu.client.aclose() for vu in users))


async def measure(url: str, kind: str, accounts: dict) -> dict:
    """Every phase in one event loop, the same signed-in users throughout (each patient's
    chain of doses continues from phase to phase)."""
    result: dict = {}
    with AppServer(url) as server:
        patients, doctors, sitters = await sign_in_all(accounts, server.origin, USERS,
                                                       PRESCRIBERS, CAREGIVERS)
        roles = {"patient": patients, "prescriber": doctors, "caregiver": sitters}
        try:
            everyone = patients + doctors + sitters
            result["ceiling"] = await closed_loop(spread(everyone, livez, USERS), SECONDS)
            result["solo"] = {}
            for label, step, role in SOLO:
                if label == DOSE_CHAIN and accounts.get("first_dosers"):
                    # The goal's batch first: USERS connections, each sending for one first
                    # doser after another.
                    dosers = await ready_first_dosers(accounts, server.origin)
                    carriers = [VirtualUser("", "connection", server.origin,
                                            new_client(keep_cookies=False))
                                for _ in range(USERS)]
                    try:
                        result["solo"][DOSE] = await closed_loop(
                            spread(carriers, first_dose(dosers), USERS), SECONDS)
                    finally:
                        await close_all(carriers)
                pool = roles[role]
                result["solo"][label] = await closed_loop(spread(pool, step, USERS), SECONDS)
            loops = mix_loops(patients[:USERS - PRESCRIBERS - CAREGIVERS], doctors, sitters)
            result["mix"] = await closed_loop(loops, SECONDS)
            at_goal = WRITE_RATE / ITEMS_PER_BATCH
            # The goal's writes alone: what the write path does by itself.
            result["writes"] = await open_loop(patients, doctors, SECONDS, at_goal, read_rate=0)
            result["sweep"] = await read_sweep(patients, doctors, sitters, at_goal)
            result["open"] = result["sweep"][READ_RATE]
            # Past the goal, with the reads: where the write path stops keeping up.
            result["stress"] = await open_loop(patients, doctors, SECONDS, STRESS_BATCHES,
                                               caregivers=sitters)
            if kind == "postgresql":
                # The mix again on one process, then the same users with the same cookies
                # spread over two processes on one database.
                result["one"] = await closed_loop(loops, SECONDS)
                with AppServer(url) as second:
                    for i, vu in enumerate(everyone):
                        vu.origin = (server.origin, second.origin)[i % 2]
                    result["two"] = await closed_loop(loops, SECONDS)
                    keep_log(second, {"two": result["two"]})
        finally:
            await close_all(everyone)
            keep_log(server, result)
    return result


# --- report --------------------------------------------------------------------------------


def machine_line(kind: str) -> str:
    return (f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
            f"shared by the load client and the server(s); Python {platform.python_version()}; "
            f"database {kind}")


def command_line(kind: str) -> str:
    env = f"LOAD_SECONDS={SECONDS:g} LOAD_USERS={USERS} LOAD_PATIENTS={PATIENTS}"
    if kind == "postgresql":
        env = "BENCH_DATABASE_URL=postgresql+psycopg://… " + env
    return f"- Command: `{env} .venv/bin/python -m bench.load` (part of `make bench`)"


def server_lines(kind: str, result: dict) -> list[str]:
    ceiling = result["ceiling"].rate(LIVEZ)
    lines = [
        machine_line(kind), command_line(kind),
        f"- One app process started by the production command (docker/prestart.sh); "
        f"{PATIENTS} patients with six weeks of history, {USERS} concurrent users, "
        f"{SECONDS:g} s per phase",
        f"- Ceiling: GET /livez (constant, no database) **{ceiling:,.0f} req/s** "
        f"(p50 {ms(result['ceiling'].latencies[LIVEZ], 50)} ms, "
        f"p99 {ms(result['ceiling'].latencies[LIVEZ], 99)} ms)",
        "",
        f"Each endpoint alone, {USERS} closed loops (ratio = its req/s ÷ /livez req/s):",
        "",
        "| Endpoint | req/s | p50 ms | p95 ms | p99 ms | ratio | goal | size | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, stats in result["solo"].items():
        values = stats.latencies[label]
        goal = f"≥ {GOALS[label]}" if label in GOALS else ""
        size = stats.sizes[label]
        lines.append(
            f"| {label} | {stats.rate(label):,.0f} | {ms(values, 50)} | {ms(values, 95)} | "
            f"{ms(values, 99)} | **{stats.rate(label) / ceiling:.2f}** | {goal} | "
            f"{(sum(size) / len(size) / 1e3 if size else 0):,.1f} kB | "
            f"{error_text(stats, label)} |")
    if (first := result["solo"].get(DOSE)) is not None:
        done = len(first.latencies[DOSE])
        lines += ["", f"{DOSE} is the goal's batch: each time the day's first dose of a patient "
                  f"not yet seen in the run, so it is clean (on schedule, a day after the last) "
                  f"without a correction; {done:,} of {FIRST_DOSERS:,} such patients dosed"
                  + (f" and the phase ended early, at {first.elapsed:.1f} s, when none was "
                     f"left" if first.used_up else "")
                  + f". {DOSE_CHAIN} is a repeating patient's batch, which marks the previous "
                  f"dose entered in error so the new one is not refused as too soon; it is "
                  f"recorded flagged cleared_by_correction (the mix and the open loop send "
                  f"these)."]
    lines += budget_lines(result)
    mix = result["mix"]
    total = sum(len(mix.latencies[label]) for label in mix.labels()) / mix.elapsed
    lines += ["", f"The mix, {USERS - PRESCRIBERS - CAREGIVERS} patients, {PRESCRIBERS} "
              f"prescribers and {CAREGIVERS} caregivers in closed loops: "
              f"**{total:,.0f} req/s** in all", "",
              "| Endpoint | req/s | p50 ms | p95 ms | p99 ms | errors |",
              "|---|---:|---:|---:|---:|---|"]
    for label in mix.labels():
        values = mix.latencies[label]
        lines.append(f"| {label} | {mix.rate(label):,.1f} | {ms(values, 50)} | "
                     f"{ms(values, 95)} | {ms(values, 99)} | {error_text(mix, label)} |")
    lines += open_loop_lines(result)
    return lines


def open_loop_lines(result: dict) -> list[str]:
    """The open-loop phases. Rates of writes count items (what the goal counts); latency is a
    batch's, from when it was due to its answer, which answers all of its items at once."""

    def writes(stats: Stats) -> str:
        done = stats.latencies[DOSE_CHAIN]
        return (f"{stats.written / stats.elapsed:,.1f} writes/s done "
                f"({len(done) / stats.elapsed:,.1f} batches/s), p50 {ms(done, 50)} ms, "
                f"p95 {ms(done, 95)} ms, **p99 {ms(done, 99)} ms**, "
                f"errors {error_text(stats, DOSE_CHAIN)}, "
                f"missed {stats.missed[DOSE_CHAIN]} batches")

    def reads(stats: Stats) -> str:
        done = [v for label in stats.labels() if label != DOSE_CHAIN
                for v in stats.latencies[label]]
        failed = sum(sum(c.values()) for k, c in stats.errors.items() if k != DOSE_CHAIN)
        return (f"reads {len(done) / stats.elapsed:,.1f}/s, p50 {ms(done, 50)} ms, "
                f"p99 {ms(done, 99)} ms, errors {failed}, missed {stats.missed['reads']}")

    if "writes" not in result:
        return []
    lines = ["", f"Open loop (latency counted from when each batch was due; a request that "
             f"cannot start within {LATE:g} s of it is missed: past capacity). A write is one "
             f"item with its own client id; each batch holds {ITEMS_PER_BATCH} (a correction, "
             f"a safety check, a dose):", "",
             f"- **At the goal**, {WRITE_RATE:g} writes/s ({WRITE_RATE / ITEMS_PER_BATCH:.1f} "
             f"batches/s), nothing else: {writes(result['writes'])} (goal p99 < 250 ms)"]
    if (opened := result.get("open")) is not None:
        lines.append(f"- The same writes while pages are read at {READ_RATE:g}/s: "
                     f"{writes(opened)}; {reads(opened)}")
    if (sweep := result.get("sweep")) is not None:
        lines.append(f"- {headroom_text(result['writes'], sweep)}")
    if (stress := result.get("stress")) is not None:
        lines.append(f"- Past the goal, {STRESS_BATCHES:g} batches/s "
                     f"({STRESS_BATCHES * ITEMS_PER_BATCH:g} writes/s) with the reads: "
                     f"{writes(stress)}; {reads(stress)}")
    return lines


def headroom_text(alone: Stats, sweep: dict[float, Stats]) -> str:
    """The highest read rate tried at which the goal's writes kept p99 under the goal, and
    every rate's p99, so a slow hour shows as a lower rate instead of a number in seconds."""
    points = [(0.0, alone), *sorted(sweep.items())]
    # Headroom ends at the first rate that misses: a later lucky round does not extend it.
    kept = 0
    while kept < len(points) and meets_p99_goal(points[kept][1]):
        kept += 1
    each = ", ".join(f"{rate:g}/s: {ms(stats.latencies[DOSE_CHAIN], 99)} ms"
                     + ("" if meets_p99_goal(stats) else " (not held)")
                     for rate, stats in points)
    if kept == 0:
        verdict = "the writes alone miss the goal"
    elif kept == 1:
        verdict = (f"the writes keep p99 under {P99_GOAL * 1000:.0f} ms alone, not with "
                   f"{points[1][0]:g} page reads/s beside them")
    elif kept == len(points):
        verdict = (f"the writes keep p99 under {P99_GOAL * 1000:.0f} ms at every read rate "
                   f"tried, up to **{points[-1][0]:g} page reads/s**")
    else:
        verdict = (f"the writes keep p99 under {P99_GOAL * 1000:.0f} ms with up to "
                   f"**{points[kept - 1][0]:g} page reads/s** beside them")
    return (f"Headroom at the goal's writes: {verdict} (write p99 by read rate, {SECONDS:g} s "
            f"each: {each})")


def budget_lines(result: dict) -> list[str]:
    """What each ratio goal leaves for the endpoint's own work, in this run's milliseconds of
    the server's time per request (1 / req/s at saturation): the goal's time per request less
    that of a signed-in answer that does next to nothing (GET /api/v1/me: the session, the
    user, a small JSON). Any signed-in request pays that much before it starts its own work,
    so this is the most the work may cost for the goal to be met, against what it costs."""
    ceiling = result["ceiling"].rate(LIVEZ)
    me = result["solo"].get(ME)
    if not ceiling or me is None or not me.rate(ME):
        return []
    floor = 1000 / me.rate(ME)
    lines = ["", f"What the goals leave (this run: a signed-in answer doing next to nothing, "
             f"{ME}, takes {floor:.1f} ms of the server's time per request, "
             f"ratio {me.rate(ME) / ceiling:.2f}):", "",
             "| Endpoint | goal | time per request at the goal | its own work: allowed "
             "| its own work: measured | over by |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, goal in GOALS.items():
        stats = result["solo"].get(label)
        if stats is None or not stats.rate(label):
            continue
        at_goal = 1000 / (goal * ceiling)
        allowed = at_goal - floor
        measured = 1000 / stats.rate(label) - floor
        over = f"{measured / allowed:.1f}×" if allowed > 0 else "no time left"
        lines.append(f"| {label} | ≥ {goal} | {at_goal:.1f} ms | "
                     f"{allowed:.1f} ms | {measured:.1f} ms | {over} |")
    return lines


def scale_lines(one: Stats, two: Stats) -> list[str]:
    def total(stats: Stats) -> float:
        return sum(len(stats.latencies[label]) for label in stats.labels()) / stats.elapsed

    def every(stats: Stats) -> list[float]:
        return [v for label in stats.labels() for v in stats.latencies[label]]

    return [
        machine_line("postgresql"), command_line("postgresql"),
        f"- The mix ({USERS} users, {SECONDS:g} s) against one app process, then two on the "
        "same database (each started by the production command, users split between them, "
        "the same session cookies on both)",
        f"- One process: {total(one):,.0f} req/s, p50 {ms(every(one), 50)} ms, "
        f"p99 {ms(every(one), 99)} ms, errors {one.total_errors()}",
        f"- Two processes: {total(two):,.0f} req/s, p50 {ms(every(two), 50)} ms, "
        f"p99 {ms(every(two), 99)} ms, errors {two.total_errors()}",
        f"- **Scaling factor {total(two) / total(one):.2f}** (on {os.cpu_count()} cores shared "
        "by the client, both servers and PostgreSQL: an upper bound of about 2 is not "
        "reachable here; on separate machines it measures the app's own scaling)",
    ]


record = report.record


def phases(result: dict) -> list[Stats]:
    found = [stats for key, stats in result.items() if key not in ("solo", "sweep")] \
        + list(result.get("solo", {}).values()) + list(result.get("sweep", {}).values())
    return list({id(stats): stats for stats in found}.values())  # "open" is in the sweep too


def keep_log(server: AppServer, result: dict) -> None:
    """A failed request's traceback is in the server's log, which a clean exit removes."""
    if any(stats.total_errors() for stats in phases(result)):
        server.log.flush()
        kept = shutil.copy(server.log.name, f"{server.log.name}.kept")
        print(f"requests failed; the server's log: {kept}", file=sys.stderr)


def main() -> int:
    kind = database_kind()
    with fresh_database(kind) as url:
        migrate(url)
        began = time.perf_counter()
        accounts = seed(url, PATIENTS, max(1, min(3, PRESCRIBERS)), CAREGIVERS, FIRST_DOSERS)
        print(f"seeded {PATIENTS} patients ({accounts['rows']:,} history rows) "
              f"in {time.perf_counter() - began:.1f} s", flush=True)
        result = asyncio.run(measure(url, kind, accounts))
    lines = server_lines(kind, result)
    print(f"\n## Load on {kind}\n" + "\n".join(lines))
    record(f"load:{kind}", f"Server throughput and latency on {kind}", lines)
    if "two" in result:
        scale = scale_lines(result["one"], result["two"])
        print("\n## Scale-out on postgresql\n" + "\n".join(scale))
        record("scale-out:postgresql", "Scale-out: one vs two app processes on PostgreSQL",
               scale)
    errors = sum(stats.total_errors() for stats in phases(result))
    if errors:
        print(f"\n{errors} requests failed: these figures measured error pages too.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
