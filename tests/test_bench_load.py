"""The load benchmark measures real pages, not error pages: its whole mix, run once per kind of
user against a production process on a database of its own (SQLite, or a fresh database on
TEST_DATABASE_URL's PostgreSQL server), succeeds request by request.

Once for the prescriber and once for the caregiver (whose home, patient page and session
checklist are found by following links); twice for the patient: the second dose batch starts
by marking the first dose entered in error (bench/load.py explains why), and every item of
every batch must be "created". The goal's own batch (a safety check and a dose) comes from
patients the seed signed in, each logging the day's first dose once: clean, without a
correction, until they run out.
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
        accounts = load.seed(url, patients=2, prescribers=1, caregivers=1, first_dosers=3)
        with AppServer(url) as server:
            yield server, accounts


async def _run_the_mix_once(origin: str, accounts: dict) -> load.Stats:
    patients, prescribers, caregivers = await load.sign_in_all(accounts, origin, 1, 1, 1)
    stats = load.Stats()
    try:
        for _ in range(2):
            await load.patient_iteration(stats, patients[0])
        await load.prescriber_iteration(stats, prescribers[0])
        await load.caregiver_iteration(stats, caregivers[0])
        await load.livez(stats, patients[0])
    finally:
        await load.close_all(patients + prescribers + caregivers)
    return stats


def test_every_request_of_the_mix_succeeds(bench_server):
    server, accounts = bench_server
    # In a thread of its own: the browser tests' sync Playwright may leave an event loop
    # running in this one, and asyncio.run refuses to nest.
    with ThreadPoolExecutor(1) as pool:
        stats = pool.submit(asyncio.run, _run_the_mix_once(server.origin, accounts)).result()

    assert {label: dict(found) for label, found in stats.errors.items()} == {}
    counts = {label: len(values) for label, values in stats.latencies.items()}
    assert counts == {load.TODAY: 2, load.PARTIAL: 2, load.ME: 2, load.DOSE_CHAIN: 2,
                      load.CHECKIN: 2, load.TRENDS: 2, load.PATIENT_LIST: 1, load.TIMELINE: 1,
                      load.SUPPORTING: 1, load.SUPPORTED_PAGE: 1, load.SITTER_SESSION: 1,
                      load.LIVEZ: 1}
    # Writes are counted as items: the first batch is a safety check and a dose, the second
    # also corrects the first dose.
    assert stats.written == 2 + 3
    # The pages found by following links are the ones the mix means to measure.
    assert all(size > 1000 for label, sizes in stats.sizes.items()
               if label in (load.TODAY, load.TRENDS, load.PATIENT_LIST, load.TIMELINE,
                            load.SUPPORTING, load.SUPPORTED_PAGE, load.SITTER_SESSION)
               for size in sizes)


async def _first_doses(origin: str, accounts: dict) -> load.Stats:
    dosers = await load.ready_first_dosers(accounts, origin)
    carriers = [load.VirtualUser("", "connection", origin, load.new_client(keep_cookies=False))
                for _ in range(2)]
    try:
        return await load.closed_loop(load.spread(carriers, load.first_dose(dosers), 2), 60)
    finally:
        await load.close_all(carriers)


def test_the_goals_batch_is_each_first_dosers_clean_first_dose_until_none_is_left(
        bench_server):
    server, accounts = bench_server
    with ThreadPoolExecutor(1) as pool:
        stats = pool.submit(asyncio.run, _first_doses(server.origin, accounts)).result()

    # all_clean counts a refused, held or flagged dose as an error: there is none.
    assert {label: dict(found) for label, found in stats.errors.items()} == {}
    assert len(stats.latencies[load.DOSE]) == 3 and stats.written == 3 * 2
    # Three patients, three doses, and the phase ended when none was left, not at 60 s.
    assert stats.used_up
    assert set(stats.latencies) == {load.DOSE}


async def _open_loop_briefly(origin: str, accounts: dict) -> dict:
    patients, prescribers, caregivers = await load.sign_in_all(accounts, origin, 2, 1, 1)
    try:
        writes = await load.open_loop(patients, prescribers, 1.5, 2, read_rate=0)
        sweep = await load.read_sweep(patients, prescribers, caregivers, 2, rates=(2, 4),
                                      seconds=1.5)
        return {"writes": writes, "sweep": sweep, "open": sweep[4]}
    finally:
        await load.close_all(patients + prescribers + caregivers)


def test_the_open_loop_counts_writes_as_the_goal_does(bench_server):
    server, accounts = bench_server
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(asyncio.run, _open_loop_briefly(server.origin, accounts)).result()

    assert sorted(result["sweep"]) == [2, 4]  # both below READ_RATE: both measured
    for stats in load.phases(result):
        assert stats.total_errors() == 0 and not stats.missed
    alone, beside = result["writes"], result["open"]
    assert len(alone.latencies[load.DOSE_CHAIN]) == 3  # due at 0, 0.5 and 1 s
    # Two patients: each one's first batch holds 2 writes, every later one 3.
    assert alone.written == 2 + 2 + 3
    assert beside.written == 3 * 3 and len(beside.latencies) > 1  # pages were read too
    report = load.open_loop_lines(result)
    assert "**At the goal**" in report[3]
    assert f"{alone.written / alone.elapsed:,.1f} writes/s done (" in report[3]  # items
    assert report[4].startswith("- The same writes while pages are read at")
    assert report[5].startswith("- Headroom at the goal's writes: ")
    assert f"(write p99 by read rate, {load.SECONDS:g} s each: 0/s: " in report[5]
    assert ", 2/s: " in report[5] and ", 4/s: " in report[5]


def _writes(*p99_ms: float, missed_reads: int = 0) -> load.Stats:
    stats = load.Stats()
    stats.latencies[load.DOSE_CHAIN] = [ms / 1000 for ms in p99_ms]
    stats.missed["reads"] = missed_reads
    return stats


def test_the_headroom_is_the_read_rate_before_the_first_that_misses_the_goal():
    sweep = {2.5: _writes(90), 5: _writes(400), 10: _writes(120)}
    text = load.headroom_text(_writes(60), sweep)
    # A lucky round at 10/s after 5/s missed does not extend the headroom.
    assert "with up to **2.5 page reads/s** beside them" in text
    assert "0/s: 60 ms, 2.5/s: 90 ms, 5/s: 400 ms (not held), 10/s: 120 ms)" in text

    held = load.headroom_text(_writes(60), {2.5: _writes(90), 5: _writes(249)})
    assert "at every read rate tried, up to **5 page reads/s**" in held
    # Reads the server could not start in time were not served: that rate is not held.
    unserved = load.headroom_text(_writes(60), {2.5: _writes(90, missed_reads=3)})
    assert "under 250 ms alone, not with 2.5 page reads/s beside them" in unserved
    assert "the writes alone miss the goal" in load.headroom_text(_writes(300), {})


def test_the_sweep_stops_at_the_first_rate_past_the_fixed_point_that_misses(monkeypatch):
    tried = []

    async def open_loop(*_args, read_rate, **_kwargs):
        tried.append(read_rate)
        return _writes(400 if read_rate >= 10 else 50)

    monkeypatch.setattr(load, "open_loop", open_loop)
    monkeypatch.setattr(load, "READ_RATE", 10.0)
    # In a thread of its own, like the tests above: the browser tests may leave a loop running.
    with ThreadPoolExecutor(1) as pool:
        found = pool.submit(asyncio.run, load.read_sweep(
            [], [], [], 16.7, rates=(2.5, 5, 10, 20, 30))).result()
    # 10/s is the report's fixed point (READ_RATE), measured even though it misses; 20 and 30
    # would only miss more.
    assert tried == [2.5, 5, 10] and sorted(found) == tried
