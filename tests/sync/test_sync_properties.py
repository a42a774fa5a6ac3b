"""Property tests of POST /api/v1/sync: whatever mix of new items, replays, reorderings, batches
and reused ids a phone sends, every answer is a 200, each id is created once with the content
it was first sent with, and the database holds exactly the accepted writes.

The items are kinds that are always accepted when valid and are never judged against one
another in a way that would make an item's status depend on order: daily mood check-ins,
pill counts and pharmacy fills (their flags may depend on order; their status does not).
Each hypothesis example works for a patient of its own with ids of its own, because the
database is only emptied after each test, not after each example.
"""

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from app.checkins.models import CheckIn
from app.db import engine, utcnow
from app.doses.models import LedgerEntry, LedgerKind
from app.sync.models import ClientWrite
from tests import factories
from tests.factories import sync_item, sync_post
from tests.helpers import signed_in_clients

PROPERTY_SETTINGS = settings(
    deadline=None,
    database=None,  # write nothing into the work tree; a failure prints its reproduction blob
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Each kind's value: the mood (0-10), a count in half troches (0-30), a fill's troches (1-120).
VALUE_RANGE = {"checkin": (0, 10), "ledger_count": (0, 60), "ledger_fill": (1, 120)}
MAX_SECONDS_AGO = 3 * 24 * 3600  # well inside the 30 days an entry may be late


@dataclass(frozen=True)
class Content:
    """What an item says, apart from its id. Two items with the same id are the same write when
    their Content is equal (however the replay spells it), and an id conflict when not."""

    kind: str
    seconds_ago: int  # recorded_at = the example's `now` minus this (a count's counted_at too)
    value: int
    days_ago: int = 0  # a fill's filled_on, days before the patient's today

    def recorded_at(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.seconds_ago)


# How a replay may spell the same content: recorded_at in another offset (the hash compares
# instants) and the data's keys in another order (the hash sorts them).
ZONES = (UTC, ZoneInfo("America/New_York"), timezone(timedelta(hours=5, minutes=30)))


@dataclass(frozen=True)
class Send:
    slot: int  # which pool entry (one client id)
    variant: int  # 0: its original content; 1, 2: conflicting contents under the same id
    zone: int
    reversed_keys: bool


def contents_of(kind: str) -> st.SearchStrategy[Content]:
    low, high = VALUE_RANGE[kind]
    return st.builds(Content, kind=st.just(kind), seconds_ago=st.integers(0, MAX_SECONDS_AGO),
                     value=st.integers(low, high),
                     days_ago=st.integers(0, 3) if kind == "ledger_fill" else st.just(0))


any_content = st.one_of(*(contents_of(kind) for kind in VALUE_RANGE))


@st.composite
def variants(draw) -> tuple[Content, ...]:
    """An original content and one or two others a phone might later send under its id: an
    edited value, another time (as little as a second apart) or another kind altogether."""
    original = draw(any_content)
    found = [original]
    for _ in range(draw(st.integers(1, 2))):
        how = draw(st.sampled_from(["value", "time", "kind"]))
        if how == "value":
            low, high = VALUE_RANGE[original.kind]
            step = draw(st.integers(1, high - low))
            value = low + (original.value - low + step) % (high - low + 1)
            other = Content(original.kind, original.seconds_ago, value, original.days_ago)
        elif how == "time":
            later = original.seconds_ago - draw(st.integers(1, 3600))
            other = Content(original.kind, later if later >= 0 else original.seconds_ago + 1,
                            original.value, original.days_ago)
        else:
            kind = draw(st.sampled_from([k for k in VALUE_RANGE if k != original.kind]))
            other = draw(contents_of(kind))
        if other not in found:
            found.append(other)
    return tuple(found)


def sends(pool_size: int) -> st.SearchStrategy[Send]:
    return st.builds(Send, slot=st.integers(0, pool_size - 1), variant=st.integers(0, 2),
                     zone=st.integers(0, len(ZONES) - 1), reversed_keys=st.booleans())


@st.composite
def scenarios(draw) -> tuple[list[tuple[Content, ...]], list[list[Send]]]:
    """A pool of ids, each with its contents, and batches drawn from it. A batch is either new
    (any items, replays and conflicts, in any order) or an earlier batch sent again in another
    order, perhaps with more behind it: a phone that never saw the answer resends its outbox."""
    pool = draw(st.lists(variants(), min_size=1, max_size=6))
    batches: list[list[Send]] = []
    for n in range(draw(st.integers(1, 6))):
        if n == 0:  # something to start from; later batches may be empty
            batch = draw(st.lists(sends(len(pool)), min_size=1, max_size=8))
        elif draw(st.booleans()):
            earlier = draw(st.sampled_from(batches))
            extra = draw(st.lists(sends(len(pool)), max_size=8 - len(earlier)))
            batch = draw(st.permutations(earlier)) + extra
        else:
            batch = draw(st.lists(sends(len(pool)), max_size=8))
        batches.append(batch)
    return pool, batches


# --- running a scenario ------------------------------------------------------------------------


@dataclass
class Example:
    """One hypothesis example: its own patient, clock and client ids."""

    patient_id: uuid.UUID
    email: str
    now: datetime
    today: date  # the patient's local date
    pool: list[tuple[Content, ...]]
    ids: list[uuid.UUID]

    def content(self, send: Send) -> Content:
        options = self.pool[send.slot]
        return options[send.variant % len(options)]

    def item(self, send: Send) -> dict[str, Any]:
        content = self.content(send)
        at = content.recorded_at(self.now)
        if content.kind == "checkin":
            data: dict[str, Any] = {"slot": "daily", "values": {"mood": content.value}}
        elif content.kind == "ledger_count":
            data = {"counted_at": at.isoformat(), "count": str(Decimal(content.value) / 2)}
        else:
            data = {"filled_on": (self.today - timedelta(days=content.days_ago)).isoformat(),
                    "count": content.value, "strength_mg": "100"}
        if send.reversed_keys:
            data = dict(reversed(data.items()))
        return sync_item(content.kind, data, item_id=self.ids[send.slot],
                         recorded_at=at.astimezone(ZONES[send.zone]))


def new_example(db: Session, pool: list[tuple[Content, ...]]) -> Example:
    _, patient, _ = factories.patient_with_protocol(db)
    db.commit()
    now = utcnow().replace(microsecond=0)
    return Example(patient_id=patient.id, email=patient.email, now=now,
                   today=now.astimezone(ZoneInfo(patient.timezone)).date(), pool=pool,
                   ids=[uuid.uuid4() for _ in pool])


def results_of(response, items: list[dict]) -> list[dict]:
    assert response.status_code == 200, (response.status_code, response.text)
    results = response.json()["results"]
    assert [r["id"] for r in results] == [i["id"] for i in items]
    return results


def without_status(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "status"}


def assert_conflict(result: dict) -> None:
    assert result["status"] == "rejected", result
    assert result["code"] == "id_conflict", result


def assert_stored(example: Example, first: dict[uuid.UUID, Content]) -> None:
    """The patient's rows are exactly one per accepted id, each holding the first content."""
    with Session(engine) as session:
        writes = session.exec(
            select(ClientWrite).where(ClientWrite.patient_id == example.patient_id)).all()
        checkins = session.exec(
            select(CheckIn).where(CheckIn.patient_id == example.patient_id)).all()
        entries = session.exec(
            select(LedgerEntry).where(LedgerEntry.patient_id == example.patient_id)).all()

    assert sorted(w.id for w in writes) == sorted(first)
    assert sorted(c.id for c in checkins) == sorted(
        i for i, c in first.items() if c.kind == "checkin")
    assert sorted(e.id for e in entries) == sorted(
        i for i, c in first.items() if c.kind != "checkin")

    for write in writes:
        content = first[write.id]
        assert write.kind == content.kind
        assert write.recorded_at == content.recorded_at(example.now)
    for checkin in checkins:
        content = first[checkin.id]
        assert checkin.slot == "daily"
        assert checkin.values == {"mood": content.value}
        assert checkin.recorded_at == content.recorded_at(example.now)
    for entry in entries:
        content = first[entry.id]
        if content.kind == "ledger_count":
            assert entry.kind == LedgerKind.COUNT
            assert entry.count == Decimal(content.value) / 2
            assert entry.occurred_at == content.recorded_at(example.now)
        else:
            assert entry.kind == LedgerKind.FILL
            assert entry.count == content.value
            assert entry.filled_on == example.today - timedelta(days=content.days_ago)
            assert entry.strength_mg == Decimal("100")


def close(clients) -> None:
    for web in clients:
        web.__exit__(None, None, None)


# --- the properties ----------------------------------------------------------------------------


@settings(PROPERTY_SETTINGS, max_examples=30)
@given(scenario=scenarios())
def test_any_sequence_of_batches_writes_each_id_once_with_its_first_content(db, scenario):
    pool, batches = scenario
    example = new_example(db, pool)
    (web,) = signed_in_clients(example.email, 1, factories.PASSWORD)
    first: dict[uuid.UUID, Content] = {}  # the model: the content each id was first sent with
    created: dict[uuid.UUID, dict] = {}  # what the server answered when it created each id
    seen: set[str] = set()  # for the statistics (--hypothesis-show-statistics)
    conflict_won = False
    try:
        for batch in batches:
            items = [example.item(send) for send in batch]
            results = results_of(sync_post(web, *items), items)
            for send, result in zip(batch, results, strict=True):
                item_id, content = example.ids[send.slot], example.content(send)
                if item_id not in first:
                    assert result["status"] == "created", result
                    first[item_id] = content
                    created[item_id] = result
                    conflict_won = conflict_won or content != pool[send.slot][0]
                elif first[item_id] == content:
                    assert result["status"] == "duplicate", result
                    # A replay answers what the first write answered.
                    assert without_status(result) == without_status(created[item_id])
                else:
                    assert_conflict(result)
                seen.add(result["status"])
            assert_stored(example, first)
    finally:
        close([web])
    event(f"statuses seen: {', '.join(sorted(seen)) or 'none'}")
    event(f"an id kept a conflicting variant: {conflict_won}")


@settings(PROPERTY_SETTINGS, max_examples=25)
@given(data=st.data())
def test_a_batch_sent_twice_at_once_writes_what_sending_it_once_writes(db, data):
    """Two phones (or a tab and its service worker) push the same outbox at the same moment."""
    pool = data.draw(st.lists(variants(), min_size=1, max_size=5), label="pool")
    batch = data.draw(st.lists(sends(len(pool)), min_size=1, max_size=8), label="batch")
    example = new_example(db, pool)
    items = [example.item(send) for send in batch]
    # Sent once, each id keeps the content it first has in the batch.
    first: dict[uuid.UUID, Content] = {}
    for send in batch:
        first.setdefault(example.ids[send.slot], example.content(send))

    clients = signed_in_clients(example.email, 2, factories.PASSWORD)
    barrier = threading.Barrier(len(clients), timeout=60)
    answers: list = [None] * len(clients)
    failures: list[BaseException] = []

    def push(n: int, web) -> None:
        try:
            csrf = web.get("/api/v1/me").json()["csrf_token"]
            barrier.wait()
            answers[n] = web.post("/api/v1/sync", json={"items": items},
                                  headers={"X-CSRF-Token": csrf})
        except BaseException as exc:  # reported by the test thread below
            failures.append(exc)

    threads = [threading.Thread(target=push, args=(n, web)) for n, web in enumerate(clients)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "a sync request hung"
    finally:
        close(clients)
    assert not failures, failures

    created: dict[uuid.UUID, list[dict]] = {item_id: [] for item_id in first}
    answered = [results_of(answer, items) for answer in answers]
    for results in answered:
        for send, result in zip(batch, results, strict=True):
            item_id = example.ids[send.slot]
            if example.content(send) == first[item_id]:
                assert result["status"] in ("created", "duplicate"), result
                if result["status"] == "created":
                    created[item_id].append(result)
            else:
                assert_conflict(result)
    assert {i: len(found) for i, found in created.items()} == {i: 1 for i in first}
    creators = sum(any(r["status"] == "created" for r in results) for results in answered)
    event(f"requests that created something: {creators}")
    for results in answered:
        for send, result in zip(batch, results, strict=True):
            if result["status"] == "duplicate":
                item_id = example.ids[send.slot]
                assert without_status(result) == without_status(created[item_id][0])
    assert_stored(example, first)
