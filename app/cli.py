"""Operational commands: `python -m app.cli migrate | bootstrap | audit-verify`."""

import argparse
import fcntl
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlmodel import Session

from app.config import ROOT, settings
from app.db import engine, utcnow


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# Any fixed number: instances starting together take turns at the schema.
MIGRATION_LOCK = 7_451_019


def migrate() -> None:
    """Bring the schema to head. On PostgreSQL an advisory lock makes instances that start
    together take turns, so two app containers never run the same migration at once."""
    config = alembic_config()
    if engine.dialect.name == "sqlite":
        # SQLite: processes on one machine take turns through a lock file beside the database.
        database = engine.url.database
        if not database or database == ":memory:":
            command.upgrade(config, "head")
            return
        with Path(f"{database}.migrate-lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            command.upgrade(config, "head")
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()


def bootstrap() -> None:
    """Migrate, then seed the demo clinic on an empty database (never in production)."""
    from app.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, database_is_empty, seed_demo

    migrate()
    from app.push import vapid

    with Session(engine) as session:
        vapid.keys(session)  # made and stored on first start, shared by every instance
        session.commit()
    if not settings.seeds_demo:
        return
    with Session(engine) as session:
        if database_is_empty(session):
            seed_demo(session, utcnow())
            session.commit()
            print("Seeded the demo clinic.")
    print(f"\nDemo accounts (password: {DEMO_PASSWORD}):")
    for email, _name, role, _tz in DEMO_ACCOUNTS:
        print(f"  {role.value:<11} {email}")
    print()


def audit_verify() -> int:
    """Check the audit trail's hash chain; exit 1 at the first entry that does not fit."""
    from app.audit.verify import message, verify

    report = verify(engine)
    print(message(report))
    return 0 if report.broken is None else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli")
    parser.add_argument("command", choices=["migrate", "bootstrap", "audit-verify"])
    args = parser.parse_args(argv)
    Path(ROOT / "var").mkdir(exist_ok=True)
    if args.command == "audit-verify":
        return audit_verify()
    {"migrate": migrate, "bootstrap": bootstrap}[args.command]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
