"""Settings refuse unsafe production values; bootstrap seeds the demo clinic once, never in prod."""

import pytest
from pydantic import ValidationError
from sqlmodel import func, select

from app import cli
from app.accounts.models import User
from app.accounts.service import password_hash
from app.careteam.models import CareLink
from app.config import DEFAULT_SECRET, Settings, settings
from app.seed import DEMO_ACCOUNTS, DEMO_PASSWORD


@pytest.fixture
def clean_env(monkeypatch):
    """Settings as a fresh process would read them: no .env file, no inherited variables."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)

    def make(**values) -> Settings:
        return Settings(_env_file=None, **values)

    return make


def test_production_refuses_the_default_secret(clean_env):
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        clean_env(app_env="production")
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        clean_env(app_env="production", secret_key=DEFAULT_SECRET)


def test_production_refuses_a_short_secret(clean_env):
    with pytest.raises(ValidationError, match="at least 32 characters"):
        clean_env(app_env="production", secret_key="x" * 31)


ORIGIN = "https://clinic.example"


def test_production_with_a_long_secret_works_and_seeds_nothing(clean_env):
    prod = clean_env(app_env="production", secret_key="k" * 32, public_origin=ORIGIN)
    assert prod.app_env == "production"
    assert prod.seeds_demo is False


@pytest.mark.parametrize("origin", ["", "clinic.example", "https://", "ftp://clinic.example",
                                    "https://clinic.example/app"])
def test_production_refuses_to_take_links_from_the_host_header(clean_env, origin):
    """Without PUBLIC_ORIGIN a reset link is built from the request's Host header: anyone could
    ask for a victim's reset email with a link to their own server (a security tester did)."""
    with pytest.raises(ValidationError, match="PUBLIC_ORIGIN must be set"):
        clean_env(app_env="production", secret_key="k" * 32, public_origin=origin)
    assert clean_env(public_origin=origin).app_env == "development"  # derived from the request
    assert clean_env(app_env="production", secret_key="k" * 32,
                     public_origin="http://127.0.0.1:8000/").public_origin


def test_production_from_the_environment(clean_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ValidationError):
        clean_env()
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    with pytest.raises(ValidationError, match="PUBLIC_ORIGIN"):
        clean_env()
    monkeypatch.setenv("PUBLIC_ORIGIN", ORIGIN)
    assert clean_env().seeds_demo is False


def test_development_defaults_are_usable(clean_env):
    dev = clean_env()
    assert dev.app_env == "development"
    assert dev.seeds_demo is True
    assert dev.is_sqlite is True
    assert clean_env(database_url="postgresql+psycopg://db/x").is_sqlite is False


def test_unknown_environment_is_refused(clean_env):
    with pytest.raises(ValidationError):
        clean_env(app_env="staging")


# --- bootstrap -------------------------------------------------------------------------------


def _counts(db) -> tuple[int, int]:
    db.expire_all()
    users = db.exec(select(func.count()).select_from(User)).one()
    links = db.exec(select(func.count()).select_from(CareLink)).one()
    return users, links


def test_bootstrap_seeds_an_empty_database_once(db, capsys):
    assert _counts(db) == (0, 0)
    cli.bootstrap()
    assert _counts(db) == (6, 5)
    first = capsys.readouterr().out
    assert "Seeded the demo clinic." in first
    assert "patient@demo.test" in first

    cli.bootstrap()
    assert _counts(db) == (6, 5)
    assert "Seeded the demo clinic." not in capsys.readouterr().out

    emails = set(db.exec(select(User.email)).all())
    assert emails == {email for email, *_ in DEMO_ACCOUNTS}
    for user in db.exec(select(User)).all():
        assert password_hash.verify(DEMO_PASSWORD, user.password_hash)


def test_bootstrap_leaves_a_database_with_people_alone(db):
    db.add(
        User(email="real@clinic.example", display_name="Real", role="prescriber", timezone="UTC")
    )
    db.commit()
    cli.bootstrap()
    assert _counts(db) == (1, 0)


def test_bootstrap_never_seeds_production(db, monkeypatch, capsys):
    monkeypatch.setattr(settings, "app_env", "production")
    cli.bootstrap()
    assert _counts(db) == (0, 0)
    assert DEMO_PASSWORD not in capsys.readouterr().out


def test_cli_runs_migrate_and_rejects_unknown_commands(db):
    assert cli.main(["migrate"]) == 0
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["drop-everything"])
    assert exit_info.value.code == 2
