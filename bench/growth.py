"""Data growth: do the busiest pages stay quick when the clinic has a year of data?

    make bench                                        # both databases
    BENCH_PATIENTS=100 BENCH_REQUESTS=20 .venv/bin/python -m bench.growth   # a quick run
    BENCH_DATABASES=sqlite .venv/bin/python -m bench.growth

Sequential latency (p50/p95 over BENCH_REQUESTS requests each, after a few to warm up) of the
patient's Today page, the prescriber's patient list (its first page), one patient's page (the
timeline's default two weeks) and the list searched by a name that finds a few, on (a) the
demo clinic (`app/seed.py`: 2 patients, six weeks) and (b) the clinic of bench/dataset.py:
BENCH_PATIENTS patients × 1 year, with the director, who is on every patient's team, signed in.
Each database is fresh; the app runs as production runs it (bench/server.py). The figure is
the ratio (b)/(a) of the p50s: goal ≤ 2×. Writes its sections of docs/benchmarks.md
(BENCH_RECORD=0: print only, bench/report.py). Numbers, never assertions.
"""

import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

_tmp = tempfile.mkdtemp(prefix="trochelog-growth-")
# The bench process only writes through engines of its own; the app's default engine (imported
# by app.seed) points at an unused file.
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp}/unused.db")
os.environ.setdefault("APP_ENV", "test")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")

import httpx2 as httpx  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench import dataset, report  # noqa: E402
from bench.server import AppServer, fresh_database, migrate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "1000"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "50"))
WARMUP = 3
DATABASES = [d.strip() for d in os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
             if d.strip()]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ("Today (patient)", "Patient list (prescriber)", "One patient's timeline",
         "Patient list searched by name (a few found)")


def _seed_demo(url: str) -> dict:
    from app.seed import DEMO_PASSWORD, seed_demo

    engine = create_engine(url)
    try:
        with Session(engine) as session:
            users = seed_demo(session, datetime.now(UTC))
            session.commit()
            patient_id = users["patient@demo.test"].id
    finally:
        engine.dispose()
    return {"patient": "patient@demo.test", "prescriber": "prescriber@demo.test",
            "password": DEMO_PASSWORD, "timeline_of": patient_id, "label": "demo clinic",
            "search": "reyes"}  # Jordan Reyes


def _seed_big(url: str) -> dict:
    started = time.perf_counter()
    clinic = dataset.seed(url, PATIENTS)
    seconds = time.perf_counter() - started
    total = sum(clinic.rows.values())
    return {"patient": clinic.patient_emails[0], "prescriber": clinic.director_email,
            "password": clinic.password, "timeline_of": clinic.patient_ids[0],
            "label": f"{PATIENTS:,} patients × 1 year ({total:,} rows, seeded in {seconds:.0f} s)",
            "search": "patient 004"}  # Patient 0040 to 0049


def _signed_in(origin: str, email: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=origin, follow_redirects=False, timeout=60)
    token = _CSRF.search(client.get("/login").text).group(1)
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": token})
    if response.status_code != 303:
        raise RuntimeError(f"sign-in as {email} answered {response.status_code}")
    return client


def _latency(client: httpx.Client, path: str) -> tuple[float, float, int]:
    """p50 and p95 in ms of REQUESTS sequential GETs, and the page's size in bytes."""
    size = 0
    for _ in range(WARMUP):
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        size = len(response.content)
    times = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, size


def _measure(kind: str, seed) -> tuple[dict, list[tuple[float, float, int]]]:
    with fresh_database(kind) as url:
        migrate(url)
        world = seed(url)
        with AppServer(url) as server:
            patient = _signed_in(server.origin, world["patient"], world["password"])
            prescriber = _signed_in(server.origin, world["prescriber"], world["password"])
            try:
                figures = [_latency(patient, "/today"),
                           _latency(prescriber, "/patients"),
                           _latency(prescriber, f"/patients/{world['timeline_of']}"),
                           _latency(prescriber, "/patients?q=" + world["search"])]
            finally:
                patient.close()
                prescriber.close()
    return world, figures


def _machine() -> str:
    import platform

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")


def main() -> int:
    for kind in DATABASES:
        small_world, small = _measure(kind, _seed_demo)
        big_world, big = _measure(kind, _seed_big)
        lines = [
            f"- Machine: {_machine()}; one app process started as production starts it "
            f"(bench/server.py), the client on the same machine, one request at a time",
            f"- Command: `BENCH_PATIENTS={PATIENTS} BENCH_REQUESTS={REQUESTS} "
            f"BENCH_DATABASES={kind} python -m bench.growth`",
            f"- (a) {small_world['label']}; (b) {big_world['label']}",
            "",
            "| Page | (a) p50 / p95 ms | (b) p50 / p95 ms | (b)/(a) p50 | (a) → (b) kB |",
            "|---|---|---|---|---|",
        ]
        for name, (a50, a95, asize), (b50, b95, bsize) in zip(PAGES, small, big, strict=True):
            lines.append(f"| {name} | {a50:.0f} / {a95:.0f} | {b50:.0f} / {b95:.0f} | "
                         f"**{b50 / a50:.2f}×** | {asize / 1e3:.0f} → {bsize / 1e3:.0f} |")
        lines.append("")
        lines.append("Goal: each ratio ≤ 2×.")
        print(f"\n{kind}\n" + "\n".join(lines))
        _record(kind, lines)
    return 0


def _record(database: str, lines: list[str]) -> None:
    report.record(f"growth:{database}", f"Data growth on {database}", lines)


if __name__ == "__main__":
    sys.exit(main())
