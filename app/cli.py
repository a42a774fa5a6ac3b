"""Operational commands: `python -m app.cli migrate | bootstrap`."""

import argparse
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlmodel import Session

from app.config import ROOT, settings
from app.db import engine, utcnow


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate() -> None:
    command.upgrade(alembic_config(), "head")


def bootstrap() -> None:
    """Migrate, then seed the demo clinic on an empty database (never in production)."""
    from app.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, database_is_empty, seed_demo

    migrate()
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli")
    parser.add_argument("command", choices=["migrate", "bootstrap"])
    args = parser.parse_args(argv)
    Path(ROOT / "var").mkdir(exist_ok=True)
    {"migrate": migrate, "bootstrap": bootstrap}[args.command]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
