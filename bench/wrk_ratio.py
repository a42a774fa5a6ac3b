"""The throughput ratios with a compiled load client on a core of its own.

bench/load.py's client is Python (asyncio) on the same two cores as the server, so its own CPU
is part of every figure, the ceiling's most of all. Here Debian's `wrk` (C) sends the requests
pinned to the last core while the app (one process, the production command) is pinned to the
first: the server has one whole core, and the client barely uses its own.

    apt-get install wrk                       # not needed by anything else; skipped without it
    .venv/bin/python -m bench.wrk_ratio
    BENCH_DATABASE_URL=postgresql+psycopg://… .venv/bin/python -m bench.wrk_ratio

GET requests only (wrk repeats one request; a sync needs a new id each time): the ceiling
`/livez` (a constant answer through the same middleware), `/api/v1/me`, Today (the page and
its htmx request) and Trends, signed in as the demo patient (the session cookie on every
request), WRK_CONNECTIONS connections for WRK_SECONDS each. Every answer must be 200 (wrk
counts the others; any makes the run fail). Writes its section of docs/benchmarks.md
(BENCH_RECORD=0: print only). Numbers, never assertions.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_tmp = tempfile.mkdtemp(prefix="trochelog-wrk-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp}/unused.db")
os.environ.setdefault("APP_ENV", "test")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")

from bench import report  # noqa: E402
from bench.growth import _machine, _seed_demo, _signed_in  # noqa: E402
from bench.server import AppServer, database_kind, fresh_database, migrate  # noqa: E402

SECONDS = int(os.environ.get("WRK_SECONDS", "15"))
CONNECTIONS = int(os.environ.get("WRK_CONNECTIONS", "50"))
PATHS = (
    ("GET /livez (the ceiling)", "/livez", {}),
    ("GET /api/v1/me", "/api/v1/me", {}),
    ("Today page", "/today", {}),
    ("Today (htmx)", "/today", {"HX-Request": "true"}),
    ("Trends page", "/trends", {}),
)
_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_LATENCY = re.compile(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _pin(pid: int, cores: set[int]) -> None:
    """Every thread of the process (sched_setaffinity on a pid moves only its main thread)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cores)


def _wrk(origin: str, path: str, headers: dict[str, str], core: int) -> dict:
    command = ["taskset", "-c", str(core), "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s",
               "--latency", "--timeout", "30s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, origin + path], capture_output=True, text=True,  # noqa: S603
                         check=True).stdout
    latency = {int(p): float(v) * _UNIT_MS[u] for p, v, u in _LATENCY.findall(out)}
    errors = [m.group(0) for m in _ERRORS.finditer(out)]
    return {"rate": float(_RATE.search(out).group(1)), "latency": latency, "errors": errors}


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk): skipped")
        return 0
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        print("one core: nothing to pin apart; skipped")
        return 0
    server_core, client_core = cores[0], cores[-1]
    kind = database_kind()
    with fresh_database(kind) as url:
        migrate(url)
        seed = _seed_demo(url)
        with AppServer(url) as server:
            client = _signed_in(server.origin, seed["patient"], seed["password"])
            cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
            client.close()
            assert server.process is not None
            results = []
            for name, path, extra in PATHS:
                _pin(server.process.pid, {server_core})  # threads started since included
                found = _wrk(server.origin, path, {"Cookie": cookie, **extra}, client_core)
                results.append((name, found))
    ceiling = results[0][1]["rate"]
    lines = [
        f"- Machine: {_machine()}; database {kind}; the app (one process, the production "
        f"command) pinned to core {server_core}, wrk 4.1 (one thread) to core {client_core}",
        f"- Command: `WRK_SECONDS={SECONDS} WRK_CONNECTIONS={CONNECTIONS} "
        f".venv/bin/python -m bench.wrk_ratio`; the demo patient's session on every request",
        "",
        "| Endpoint | req/s | p50 ms | p90 ms | p99 ms | ratio | goal | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    goals = {"Today page": "≥ 0.4"}
    failed = False
    for name, found in results:
        lat = found["latency"]
        failed |= bool(found["errors"])
        lines.append(
            f"| {name} | {found['rate']:.0f} | {lat.get(50, 0):.0f} | {lat.get(90, 0):.0f} | "
            f"{lat.get(99, 0):.0f} | **{found['rate'] / ceiling:.2f}** | {goals.get(name, '')} | "
            f"{'; '.join(found['errors']) or 0} |")
    print("\n".join(lines))
    report.record(f"wrk:{kind}", f"Throughput ratios with a compiled client on {kind}", lines)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
