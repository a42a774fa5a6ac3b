import os
import subprocess
import sys
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import ROOT
from tests.conftest import IS_POSTGRES


def test_healthz_answers_with_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_instances_starting_together_migrate_an_empty_database(tmp_path):
    # Each app instance runs `migrate` as it starts. Two at once on an empty database (separate
    # processes, as in production): on PostgreSQL an advisory lock makes them take turns; on
    # SQLite the second waits for the first's write lock. Both must succeed.
    # The server of this run (without its per-run search_path: the new database has no such schema).
    test_url = make_url(os.environ["DATABASE_URL"]).difference_update_query(["options"])
    if IS_POSTGRES:
        name = f"trochelog_migrate_{uuid.uuid4().hex[:8]}"
        admin = create_engine(test_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = test_url.set(database=name)
    else:
        url = make_url(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False)}
        command = [sys.executable, "-m", "app.cli", "migrate"]
        runs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT) for _ in range(2)]
        outputs = [run.communicate(timeout=120)[0].decode() for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        engine.dispose()
        # `make run` seeds the demo through the CLI alone (no web app imported first): every
        # module must load in that order too (a listener first imported during a flush once
        # broke it).
        seeded = subprocess.run([sys.executable, "-m", "app.cli", "bootstrap"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=180)
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        assert "patient@demo.test" in seeded.stdout
    finally:
        if IS_POSTGRES:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def test_livez_answers_without_the_database(client):
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
