"""`python -m app.cli audit-verify`: says the trail is intact, or names the first broken entry
and exits 1."""

import os
import subprocess
import sys

from sqlmodel import Session

from app import cli
from app.audit import guard
from app.audit import service as audit
from app.audit.verify import verify
from app.config import ROOT
from app.db import engine


def _write(n: int) -> None:
    with Session(engine) as session:
        for _ in range(n):
            audit.record(session, action="sign_in", details={"method": "password"})
        session.commit()


def test_an_empty_trail_is_intact(capsys):
    assert cli.main(["audit-verify"]) == 0
    assert capsys.readouterr().out.strip() == "audit trail intact: 0 entries"


def test_it_counts_every_entry_across_batches(capsys):
    _write(12)
    assert verify(engine, batch=5).entries == 12  # three batches, one partial
    assert cli.main(["audit-verify"]) == 0
    assert capsys.readouterr().out.strip() == "audit trail intact: 12 entries"


def test_a_changed_entry_is_named_and_the_exit_code_is_1(capsys):
    _write(6)
    with engine.begin() as conn:
        guard.drop(conn)
        conn.exec_driver_sql("UPDATE audit_events SET action = 'view' WHERE seq = 4")
        guard.create(conn)
    assert cli.main(["audit-verify"]) == 1
    assert capsys.readouterr().out.strip() == (
        "audit trail broken at entry 4 (the entry was changed)")


def test_the_command_runs_as_a_program():
    """The real command line, against the test database (DATABASE_URL is the run's)."""
    _write(3)
    done = subprocess.run([sys.executable, "-m", "app.cli", "audit-verify"], cwd=ROOT,
                          env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "audit trail intact: 3 entries")
