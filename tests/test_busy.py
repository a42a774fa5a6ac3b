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


def test_requests_past_the_in_flight_limit_wait_then_get_503(monkeypatch):
    """One slot: a second request waits while the first holds it, and gets a 503 with
    Retry-After once it has waited too long; a third, after the first is done, gets in."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import httpx2

    from app.config import settings

    monkeypatch.setattr(settings, "max_requests_in_flight", 1)
    monkeypatch.setattr(settings, "admission_wait_seconds", 0.2)
    app = create_app()
    release = None

    async def hold():
        await release.wait()
        return {"held": True}

    app.add_api_route("/api/v1/hold-probe", hold)

    async def scenario():
        nonlocal release
        release = asyncio.Event()
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as c:
            first = asyncio.create_task(c.get("/api/v1/hold-probe"))
            await asyncio.sleep(0.05)
            second = await c.get("/livez")
            release.set()
            third = await c.get("/livez")
            return await first, second, third

    with ThreadPoolExecutor(1) as pool:  # a loop of its own (the browser tests may hold one)
        first, second, third = pool.submit(asyncio.run, scenario()).result()
    assert first.status_code == 200
    assert second.status_code == 503
    assert second.headers["Retry-After"] == str(BUSY_RETRY_SECONDS)
    assert "TrocheLog is busy" in second.text
    assert third.status_code == 200
