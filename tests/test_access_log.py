"""The access log names route templates, never a raw path or query: paths carry invite tokens
and patient ids, and a logged invite token once let someone take over an invite."""

import logging
import re
import uuid
from pathlib import Path

import pytest
from sqlmodel import select

from app.accounts.models import User
from tests.helpers import another_client, invite_token

ROOT = Path(__file__).resolve().parent.parent
# The test client's own logger (httpx2) reports the URLs it requested; that is not the server.
CLIENT_SIDE = ("httpx", "httpcore")


def _server_lines(caplog) -> list[str]:
    lines = []
    for record in caplog.records:
        if record.name.startswith(CLIENT_SIDE):
            continue
        lines.append(record.getMessage())
        lines.append(repr(record.args))
    return lines


@pytest.fixture
def captured(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_log_names_the_route_never_the_token_or_the_id(db, login_as, auth, client, captured):
    login_as("prescriber")
    created = auth.post(
        "/patients/new",
        {
            "client_id": str(uuid.uuid4()),
            "display_name": "Logged Patient",
            "email": "logged@example.test",
            "timezone": "UTC",
        },
    )
    token = invite_token(created.text)
    patient = db.exec(select(User).where(User.email == "logged@example.test")).one()

    captured.clear()
    assert client.get(f"/patients/{patient.id}").status_code == 200
    with another_client() as phone:
        assert phone.get(f"/invite/{token}").status_code == 200
        assert phone.get(f"/login?next=/invite/{token}").status_code == 200
        assert phone.get(f"/invite/{token}x").status_code == 404

    lines = _server_lines(captured)
    for secret in (token, str(patient.id), patient.id.hex):
        assert not any(secret in line for line in lines), secret
    access = [r.getMessage() for r in captured.records if r.name == "trochelog.access"]
    assert any(re.fullmatch(r"GET /patients/\{patient_id\} 200 \d+ms", m) for m in access), access
    assert any(re.fullmatch(r"GET /invite/\{token\} 200 \d+ms", m) for m in access), access
    assert any(re.fullmatch(r"GET /invite/\{token\} 404 \d+ms", m) for m in access), access
    assert any(re.fullmatch(r"GET /login 200 \d+ms", m) for m in access), access
    assert all(
        record.levelno == logging.INFO
        for record in captured.records
        if record.name == "trochelog.access"
    )


def test_unknown_path_is_logged_as_unmatched(client, captured):
    assert client.get("/no-such-page/secret-looking-part?key=value").status_code == 404
    lines = _server_lines(captured)
    assert not any("secret-looking-part" in line or "key=value" in line for line in lines)
    access = [r.getMessage() for r in captured.records if r.name == "trochelog.access"]
    assert any(re.fullmatch(r"GET unmatched 404 \d+ms", m) for m in access), access


def test_static_files_are_logged_by_their_mount(client, captured):
    assert client.get("/static/app.css").status_code == 200
    access = [r.getMessage() for r in captured.records if r.name == "trochelog.access"]
    assert any(m.startswith("GET /static/{path} ") for m in access), access


def test_uvicorn_runs_with_its_own_access_log_off():
    """uvicorn's access log prints the raw path; every way we start the server turns it off."""
    makefile = (ROOT / "Makefile").read_text()
    run_line = next(line for line in makefile.splitlines() if "uvicorn app.main:app" in line)
    assert "--no-access-log" in run_line
    assert "--no-access-log" in (ROOT / "docker" / "prestart.sh").read_text()
