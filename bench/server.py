"""The app as production runs it, for the benchmarks: a database of its own, and
`docker/prestart.sh` (migrate, then the Dockerfile's exact uvicorn command) on a free port.

    with fresh_database("sqlite") as url:          # or "postgresql"
        seed_something(url)                         # bench code writes through its own engine
        with AppServer(url) as server:              # one production process
            httpx.get(server.origin + "/livez")

The PostgreSQL database is a new one on the server in BENCH_DATABASE_URL (default: the local
one the tests use), dropped afterwards, so a benchmark never touches the test database's data.
Which of the two a benchmark uses: `database_kind()` (PostgreSQL when BENCH_DATABASE_URL is a
PostgreSQL URL). Benchmarks that run the app in their own process call
`database_for_this_process()` before importing `app`.
"""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PRESTART = ROOT / "docker" / "prestart.sh"
BIN = Path(sys.executable).parent
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SECRET = "bench-secret-key-that-is-long-enough-0123456789abcdef"  # noqa: S105 - bench only


def database_kind() -> str:
    """"postgresql" when BENCH_DATABASE_URL names a PostgreSQL server, else "sqlite"."""
    return "postgresql" if os.environ.get("BENCH_DATABASE_URL", "").startswith("postgresql") \
        else "sqlite"


def postgres_server_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL", "")
    return url if url.startswith("postgresql") else LOCAL_POSTGRES


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """An empty database: a SQLite file in a temporary folder, or a new PostgreSQL database."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="trochelog-bench-")
        try:
            yield f"sqlite:///{folder}/bench.db"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    server = make_url(postgres_server_url())
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def database_for_this_process() -> ExitStack:
    """A fresh database of `database_kind()` as this process's DATABASE_URL, for benchmarks that
    run the app in process (its engine reads DATABASE_URL when `app.db` is imported, so call
    this first). Close the returned stack to drop it (after `engine.dispose()`); it is closed
    at exit otherwise, so importing the script leaves nothing behind."""
    stack = ExitStack()
    os.environ["DATABASE_URL"] = stack.enter_context(fresh_database(database_kind()))
    atexit.register(stack.close)
    return stack


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The production settings (APP_ENV=production: no demo seed, full Argon2 cost), reminders
    sent by a worker of their own (compose.yml), and the venv's tools on PATH."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "APP_ENV": "production",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        # Production requires it (app/config.py); AppServer sets its own port's.
        "PUBLIC_ORIGIN": "http://127.0.0.1",
        "REMINDERS_DISPATCHER": "worker",
        "VAPID_SUBJECT": "mailto:bench@trochelog.example",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def prestart_command(port: int) -> list[str]:
    """docker/prestart.sh as the image runs it (`CMD ["trochelog-prestart"]`), on another port:
    the script ends in `exec uvicorn ... "$@"`, and uvicorn takes the last --port given."""
    return ["sh", str(PRESTART), "--port", str(port)]


class AppServer:
    """One app process started by the production command, stopped on exit."""

    def __init__(self, database_url: str, *, port: int | None = None, **env: str):
        self.database_url = database_url
        self.port = port or free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.env = server_env(database_url, **{"PUBLIC_ORIGIN": self.origin, **env})
        self.process: subprocess.Popen | None = None
        # Kept after a failed run, for reading; removed after a clean one (__exit__).
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="trochelog-server-", suffix=".log", delete=False)

    def __enter__(self) -> "AppServer":
        self.process = subprocess.Popen(  # noqa: S603 - our own script
            prestart_command(self.port), cwd=ROOT, env=self.env,
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.close()
                raise RuntimeError(f"the server stopped at start; see {self.log.name}")
            try:
                if httpx.get(self.origin + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        self.log.close()
        raise RuntimeError(f"the server did not answer within 60 s; see {self.log.name}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            stop_process(self.process)

    def __exit__(self, *exc) -> None:
        self.stop()
        self.log.close()
        if exc[0] is None:
            os.unlink(self.log.name)


def stop_process(process: subprocess.Popen) -> None:
    """Ask a child process to end (SIGTERM), and kill it if it has not within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def migrate(database_url: str) -> None:
    """Bring a bench database to the schema head in a child process (the app's engine reads
    DATABASE_URL at import, so the bench's own process may point elsewhere)."""
    subprocess.run([str(BIN / "python"), "-m", "app.cli", "migrate"], cwd=ROOT, check=True,  # noqa: S603
                   env=server_env(database_url), stdout=subprocess.DEVNULL)


def analyze(engine) -> None:
    """Planner statistics after a bulk load, as autovacuum would gather them in production.
    A bulk insert leaves PostgreSQL planning for the empty tables of the migration until
    autovacuum comes by (a minute or more): a benchmark that starts at once measured sequential
    scans no production database makes (the load benchmark's dose sync at half its rate on
    2,600 patients). SQLite plans by its indexes without statistics, as the app leaves it."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
