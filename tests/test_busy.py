"""Overload answers 503 with Retry-After (the outbox keeps its entries and tries again), not a
500: a pool with no free connection, or SQLite's write lock held past busy_timeout."""

import sqlite3

import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import QueuePool

from app.main import BUSY_RETRY_SECONDS, create_app, db_busy


@pytest.fixture
def starved_pool(tmp_path):
    """A real pool of one connection, already taken: the next checkout times out."""
    engine = create_engine(f"sqlite:///{tmp_path / 'busy.db'}", poolclass=QueuePool,
                           pool_size=1, max_overflow=0, pool_timeout=0.05)
    held = engine.connect()
    yield engine
    held.close()
    engine.dispose()


def _locked_error(tmp_path) -> sqlalchemy.exc.OperationalError:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
    except sqlalchemy.exc.OperationalError as exc:
        return exc
    finally:
        holder.close()
        engine.dispose()
    raise AssertionError("the write went through a held lock")


def test_busy_is_told_apart_from_a_fault(starved_pool, tmp_path):
    with pytest.raises(sqlalchemy.exc.TimeoutError) as timeout:
        starved_pool.connect()
    assert db_busy(timeout.value)
    assert db_busy(_locked_error(tmp_path))
    assert not db_busy(sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("no such table")))
    assert not db_busy(ValueError("database is locked"))


@pytest.mark.parametrize("path", ["/api/v1/busy-probe", "/busy-probe"])
def test_a_request_that_finds_no_connection_gets_503(starved_pool, path):
    app = create_app()

    def probe():
        with starved_pool.connect():
            return {"ok": True}

    app.add_api_route(path, probe)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(path)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(BUSY_RETRY_SECONDS)
    assert "busy" in response.text
    assert "Nothing was saved" in response.text
    if path.startswith("/api/"):
        assert response.json()["detail"].startswith("TrocheLog is busy")
