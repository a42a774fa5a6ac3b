"""The load benchmark measures real pages, not error pages: its whole mix, run once per kind of
user against a production process on a database of its own (SQLite, or a fresh database on
TEST_DATABASE_URL's PostgreSQL server), succeeds request by request.

Twice for the patient: the second dose batch starts by marking the first dose entered in
error (bench/load.py explains why), and every item of every batch must be "created".
"""

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench import load
from bench.server import AppServer, fresh_database, migrate


def _kind() -> str:
    return "postgresql" if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql") \
        else "sqlite"


@pytest.fixture
def bench_server(monkeypatch):
    # Production refuses the tests' cheap Argon2 cost; the bench's processes inherit this env.
    monkeypatch.setenv("ARGON2_TIME_COST", "3")
    monkeypatch.setenv("ARGON2_MEMORY_KIB", "65536")
    if _kind() == "postgresql":
        # fresh_database makes its database on this server (and drops it afterwards).
        monkeypatch.setenv("BENCH_DATABASE_URL", os.environ["TEST_DATABASE_URL"])
    with fresh_database(_kind()) as url:
        migrate(url)
        accounts = load.seed(url, patients=2, prescribers=1)
        with AppServer(url) as server:
            yield server, accounts


async def _run_the_mix_once(origin: str, accounts: dict) -> load.Stats:
    patients, prescribers = await load.sign_in_all(accounts, origin, 1, 1)
    stats = load.Stats()
    try:
        for _ in range(2):
            await load.patient_iteration(stats, patients[0])
        await load.prescriber_iteration(stats, prescribers[0])
        await load.livez(stats, patients[0])
    finally:
        await load.close_all(patients + prescribers)
    return stats


def test_every_request_of_the_mix_succeeds(bench_server):
    server, accounts = bench_server
    # In a thread of its own: the browser tests' sync Playwright may leave an event loop
    # running in this one, and asyncio.run refuses to nest.
    with ThreadPoolExecutor(1) as pool:
        stats = pool.submit(asyncio.run, _run_the_mix_once(server.origin, accounts)).result()

    assert {label: dict(found) for label, found in stats.errors.items()} == {}
    counts = {label: len(values) for label, values in stats.latencies.items()}
    assert counts == {load.TODAY: 2, load.PARTIAL: 2, load.ME: 2, load.DOSE: 2,
                      load.CHECKIN: 2, load.TRENDS: 2, load.PATIENT_LIST: 1, load.TIMELINE: 1,
                      load.LIVEZ: 1}
    # Writes are counted as items: the first batch is a safety check and a dose, the second
    # also corrects the first dose.
    assert stats.written == 2 + 3
    # The pages found by following links are the ones the mix means to measure.
    assert all(size > 1000 for label, sizes in stats.sizes.items()
               if label in (load.TODAY, load.TRENDS, load.PATIENT_LIST, load.TIMELINE)
               for size in sizes)


async def _open_loop_briefly(origin: str, accounts: dict) -> dict:
    patients, prescribers = await load.sign_in_all(accounts, origin, 2, 1)
    try:
        return {"writes": await load.open_loop(patients, prescribers, 1.5, 2, read_rate=0),
                "open": await load.open_loop(patients, prescribers, 1.5, 2, read_rate=4)}
    finally:
        await load.close_all(patients + prescribers)


def test_the_open_loop_counts_writes_as_the_goal_does(bench_server):
    server, accounts = bench_server
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(asyncio.run, _open_loop_briefly(server.origin, accounts)).result()

    for stats in result.values():
        assert stats.total_errors() == 0 and not stats.missed
    alone, beside = result["writes"], result["open"]
    assert len(alone.latencies[load.DOSE]) == 3  # due at 0, 0.5 and 1 s
    # Two patients: each one's first batch holds 2 writes, every later one 3.
    assert alone.written == 2 + 2 + 3
    assert beside.written == 3 * 3 and len(beside.latencies) > 1  # pages were read too
    report = load.open_loop_lines(result)
    assert "**At the goal**" in report[3]
    assert f"{alone.written / alone.elapsed:,.1f} writes/s done (" in report[3]  # items
    assert report[4].startswith("- The same writes while pages are read at")
