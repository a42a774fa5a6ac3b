"""`make bench`: every benchmark, on SQLite then PostgreSQL, each writing its own section of
docs/benchmarks.md. Numbers, never assertions.

    make bench                                  # all, both databases (about an hour, 2 cores)
    BENCH_DATABASES=sqlite make bench           # SQLite only
    BENCH_ONLY=load,growth make bench           # some of them
    BENCH_RECORD=0 make bench                   # print only, docs/benchmarks.md untouched
    BENCH_POSTGRES=postgresql+psycopg://…       # the PostgreSQL server to use (a database of
                                                # its own is made and dropped on it)

The page figures (Lighthouse, the service worker's repeat visit) do not depend on the database
and run once, on SQLite. Sizes and durations: each script's own variables (its docstring).
"""

import os
import subprocess
import sys
import time

from bench.server import LOCAL_POSTGRES

# (module, runs per database?) in the order they run: the server figures first.
BENCHMARKS = [
    ("load", True),
    ("wrk_ratio", True),
    ("growth", True),
    ("sync_bench", True),
    ("push_fanout", True),
    ("exports", True),
    ("lighthouse", False),
    ("repeat_visit", False),
]


def main() -> int:
    databases = [d.strip() for d in os.environ.get("BENCH_DATABASES", "sqlite,postgresql")
                 .split(",") if d.strip()]
    only = {n.strip() for n in os.environ.get("BENCH_ONLY", "").split(",") if n.strip()}
    postgres = os.environ.get("BENCH_POSTGRES") or LOCAL_POSTGRES
    failed = []
    for kind in databases:
        env = {**os.environ, "BENCH_DATABASES": kind}
        env.pop("BENCH_DATABASE_URL", None)
        if kind == "postgresql":
            env["BENCH_DATABASE_URL"] = postgres
        for name, per_database in BENCHMARKS:
            if (only and name not in only) or (not per_database and kind != databases[0]):
                continue
            started = time.monotonic()
            print(f"\n=== bench.{name} on {kind} ===", flush=True)
            done = subprocess.run([sys.executable, "-m", f"bench.{name}"], env=env)  # noqa: S603
            print(f"=== bench.{name} on {kind}: exit {done.returncode}, "
                  f"{time.monotonic() - started:.0f} s ===", flush=True)
            if done.returncode:
                failed.append(f"{name} on {kind}")
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
