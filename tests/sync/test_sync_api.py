"""POST /api/v1/sync: order, idempotent replays, conflicts, partial batches, concurrency, access."""

import threading
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlmodel import func, select

from app.db import engine, utcnow
from app.doses.models import Dose, GateCheck, LedgerEntry
from app.sync.api import MAX_ITEMS
from app.sync.models import ClientWrite
from tests import factories
from tests.factories import gate_data, sync_item, sync_post
from tests.helpers import signed_in_clients


def count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def fill_data(**changes):
    today = utcnow().astimezone(ZoneInfo("America/New_York")).date()  # the patient's day
    return {"filled_on": today.isoformat(), "count": 10, "strength_mg": "100", **changes}


def results(response):
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_results_come_back_in_request_order(db, client, patient):
    # Filled yesterday: a fill dated today before local noon counts from the server's "now",
    # which comes after this count's time, and the count would be judged against no fill.
    yesterday = utcnow().astimezone(ZoneInfo("America/New_York")).date() - timedelta(days=1)
    items = [
        sync_item("ledger_fill", fill_data(filled_on=yesterday.isoformat())),
        sync_item("gate", gate_data()),
        sync_item("nonsense", {}),
        sync_item("ledger_count", {"counted_at": utcnow().isoformat(), "count": "10"}),
        sync_item("gate", gate_data(systolic=20)),
    ]
    answer = results(sync_post(client, *items))
    assert [r["id"] for r in answer] == [i["id"] for i in items]
    assert [r["status"] for r in answer] == ["created", "created", "rejected", "created",
                                             "rejected"]
    assert answer[1]["verdict"] == "ok"
    assert answer[3]["flags"] == []


def test_a_dose_can_follow_its_gate_in_the_same_batch(db, client, patient):
    gate_item = sync_item("gate", gate_data())
    dose_item = sync_item("dose", {"taken_at": utcnow().isoformat(), "dose_mg": "100",
                                   "route": "sublingual",
                                   "no_gate_reason": "Logged later.",
                                   "gate_id": gate_item["id"]})
    gate_result, dose_result = results(sync_post(client, gate_item, dose_item))
    assert gate_result["status"] == dose_result["status"] == "created"
    assert dose_result["flags"] == []


def test_the_answer_says_when_the_server_had_the_items_after_its_commit(db, client, patient):
    """The phone keeps a sent dose in its offline gate until a Today snapshot made after
    `answered_at`: a time before the commit would let it go for a snapshot without it."""
    commits = []  # when a connection came back to the pool, its commit done, in the request

    def committed(_dbapi_connection, _record):
        commits.append(utcnow())

    event.listen(engine, "checkin", committed)
    try:
        before = utcnow()
        response = sync_post(client, sync_item("gate", gate_data()))
        after = utcnow()
    finally:
        event.remove(engine, "checkin", committed)
    assert results(response)[0]["status"] == "created"
    answered = datetime.fromisoformat(response.json()["answered_at"])
    assert commits and before <= max(commits) <= answered <= after


@pytest.mark.parametrize("kind", ["gate", "dose", "ledger_fill", "ledger_count"])
def test_replaying_the_same_item_is_a_duplicate_and_writes_nothing(db, client, patient, kind):
    data = {
        "gate": gate_data(),
        "dose": {"taken_at": utcnow().isoformat(), "dose_mg": "100", "route": "sublingual",
            "no_gate_reason": "Logged later."},
        "ledger_fill": fill_data(),
        "ledger_count": {"counted_at": utcnow().isoformat(), "count": "3"},
    }[kind]
    item = sync_item(kind, data)
    first = results(sync_post(client, item))[0]
    assert first["status"] == "created"
    rows = {m: count(db, m) for m in (GateCheck, Dose, LedgerEntry, ClientWrite)}
    assert sum(rows.values()) == 2

    for _ in range(2):
        again = results(sync_post(client, item))[0]
        assert again["status"] == "duplicate"
        # The replay answers what the first write answered.
        assert {k: v for k, v in again.items() if k != "status"} == \
            {k: v for k, v in first.items() if k != "status"}
    assert {m: count(db, m) for m in rows} == rows

    # Twice in one batch: the second is the duplicate.
    fresh = sync_item(kind, data) if kind != "dose" else None
    if fresh:
        statuses = [r["status"] for r in results(sync_post(client, fresh, fresh))]
        assert statuses == ["created", "duplicate"]


def test_same_id_with_other_content_is_rejected(db, client, patient):
    item = sync_item("gate", gate_data())
    assert results(sync_post(client, item))[0]["status"] == "created"
    changed = {**item, "data": gate_data(systolic=170)}
    answer = results(sync_post(client, changed))[0]
    assert answer["status"] == "rejected" and answer["code"] == "id_conflict"
    assert answer["detail"] == "This id was already used for a different entry."
    other_kind = {**item, "kind": "ledger_fill", "data": fill_data()}
    assert results(sync_post(client, other_kind))[0]["status"] == "rejected"
    later_clock = {**item, "recorded_at": (utcnow() + timedelta(minutes=1)).isoformat()}
    assert results(sync_post(client, later_clock))[0]["status"] == "rejected"
    assert count(db, GateCheck) == 1 and count(db, LedgerEntry) == 0
    assert db.get(GateCheck, uuid.UUID(item["id"])).systolic == 124


def test_the_same_id_from_another_patient_is_rejected(db, client, patient, auth):
    item = sync_item("ledger_fill", fill_data())
    assert results(sync_post(client, item))[0]["status"] == "created"
    other = factories.user(db, role="patient")
    factories.protocol(db, factories.user(db, role="prescriber"), other)
    db.commit()
    auth.logout()
    auth.login(other.email)
    answer = results(sync_post(client, item))[0]
    assert answer["status"] == "rejected"
    assert count(db, LedgerEntry) == 1


def test_unknown_kind_is_rejected(db, client, patient):
    answer = results(sync_post(client, sync_item("checkin_mood", {"score": 5})))[0]
    assert answer["status"] == "rejected" and answer["code"] == "unknown_kind"
    assert answer["detail"] == "Unknown kind: checkin_mood."
    assert count(db, ClientWrite) == 0


def test_a_rejected_item_is_not_remembered_so_a_fixed_replay_can_succeed(db, client, patient):
    bad = sync_item("gate", gate_data(systolic=20))
    assert results(sync_post(client, bad))[0]["status"] == "rejected"
    assert results(sync_post(client, {**bad, "data": gate_data()}))[0]["status"] == "created"


def test_mixed_batch_commits_the_good_items_and_nothing_of_the_bad(db, client, patient):
    good_fill = sync_item("ledger_fill", fill_data(count=30))
    bad_dose = sync_item("dose", {"taken_at": utcnow().isoformat(), "dose_mg": "75",
                                  "route": "sublingual", "no_gate_reason": "Logged later."})
    good_gate = sync_item("gate", gate_data())
    bad_fill = sync_item("ledger_fill", fill_data(count=0))
    answer = results(sync_post(client, good_fill, bad_dose, good_gate, bad_fill))
    assert [r["status"] for r in answer] == ["created", "rejected", "created", "rejected"]
    assert answer[1]["errors"] == {"dose_mg": "Use whole or half troches of 100 mg."}
    assert answer[3]["errors"]["count"] == "Enter 1 or more."
    assert count(db, Dose) == 0
    assert count(db, GateCheck) == 1
    assert [e.count for e in db.exec(select(LedgerEntry)).all()] == [30]
    assert count(db, ClientWrite) == 2
    assert db.get(ClientWrite, uuid.UUID(bad_dose["id"])) is None


def test_concurrent_replays_of_one_item_write_once(db, patient):
    """Five phones (or a tab and its service worker) push the same outbox item at once."""
    item = sync_item("gate", gate_data())
    clients = signed_in_clients(patient.email, 5, factories.PASSWORD)
    try:
        barrier = threading.Barrier(len(clients))
        answers: list = [None] * len(clients)

        def push(n: int, web) -> None:
            csrf = web.get("/api/v1/me").json()["csrf_token"]
            barrier.wait()
            answers[n] = web.post("/api/v1/sync", json={"items": [item]},
                                  headers={"X-CSRF-Token": csrf})

        threads = [threading.Thread(target=push, args=(n, c)) for n, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for other in clients:
            other.__exit__(None, None, None)

    assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
    statuses = sorted(a.json()["results"][0]["status"] for a in answers)
    assert statuses == ["created"] + ["duplicate"] * 4
    assert count(db, GateCheck) == 1
    assert count(db, ClientWrite) == 1


def test_a_prescriber_may_not_sync(db, client, login_as):
    login_as("prescriber")
    response = sync_post(client, sync_item("ledger_fill", fill_data()))
    assert response.status_code == 403
    assert response.json()["detail"] == "Only patients and their sitters record entries."
    assert count(db, ClientWrite) == 0


def test_a_caregiver_may_not_write_the_patients_own_kinds(db, client, login_as):
    caregiver = login_as("caregiver")
    patient = factories.user(db, role="patient")
    factories.link(db, patient, caregiver)
    db.commit()
    response = sync_post(client, sync_item("ledger_fill", {**fill_data(),
                                                           "patient_id": str(patient.id)}))
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["status"] == "rejected" and result["code"] == "not_yours"
    assert count(db, ClientWrite) == 0


def test_signed_out_is_401(client):
    response = client.post("/api/v1/sync", json={"items": []})
    # Without a session the CSRF check refuses first; either way nothing is written.
    assert response.status_code in (401, 403)
    assert response.json()["detail"]


def test_missing_or_wrong_csrf_header_is_403(db, client, patient):
    body = {"items": [sync_item("ledger_fill", fill_data())]}
    response = client.post("/api/v1/sync", json=body)
    assert response.status_code == 403
    assert "expired" in response.json()["detail"]
    response = client.post("/api/v1/sync", json=body, headers={"X-CSRF-Token": "guess"})
    assert response.status_code == 403
    token = client.get("/api/v1/me").json()["csrf_token"]
    cross_site = client.post("/api/v1/sync", json=body,
                             headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    assert count(db, ClientWrite) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"items": {}}',
        b'{"items": [{"kind": "gate", "recorded_at": "2026-01-01T00:00:00+00:00", "data": {}}]}',
        b'{"items": [{"id": "nope", "kind": "gate", "recorded_at": "2026-01-01T00:00:00+00:00",'
        b' "data": {}}]}',
        b'{"items": ["gate"]}',
        b'{"items": [], "extra": 1}',
    ],
)
def test_malformed_body_is_a_readable_422(db, client, patient, body):
    """The envelope: an object with only `items`, each an object with a valid UUID `id`."""
    token = client.get("/api/v1/me").json()["csrf_token"]
    response = client.post("/api/v1/sync", content=body,
                           headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    assert count(db, ClientWrite) == 0


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (b'{"items": [{"id": "6f1c2c1e-0d3a-4b8e-9c55-0b9a3c1d2e4f", "kind": "gate",'
         b' "recorded_at": "2026-01-01T00:00:00", "data": {}}]}',
         {"recorded_at": "Enter a date and time."}),
        (b'{"items": [{"id": "6f1c2c1e-0d3a-4b8e-9c55-0b9a3c1d2e4f", "kind": "gate",'
         b' "recorded_at": "2026-01-01T00:00:00+00:00", "data": [], "extra": 1}]}',
         {"data": "This value is not valid.",
          "extra": "This field is not recognised."}),
    ],
)
def test_a_malformed_item_with_a_valid_id_is_rejected_alone(db, client, patient, body, errors):
    """Past the envelope, an item's own fields reject that item only, with a message each."""
    token = client.get("/api/v1/me").json()["csrf_token"]
    response = client.post("/api/v1/sync", content=body,
                           headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    (answer,) = results(response)
    assert answer["id"] == "6f1c2c1e-0d3a-4b8e-9c55-0b9a3c1d2e4f"
    assert answer["status"] == "rejected" and answer["code"] == "invalid_item"
    assert answer["errors"] == errors
    assert answer["detail"]
    assert count(db, ClientWrite) == 0


def test_a_batch_is_limited_in_size(db, client, patient):
    items = [sync_item("nonsense", {}) for _ in range(MAX_ITEMS + 1)]
    response = sync_post(client, *items)
    assert response.status_code == 422
    assert str(MAX_ITEMS) in response.json()["detail"]


def test_a_whole_outbox_of_the_largest_batch_fits_in_one_request(db, client, patient):
    """500 entries in one request (a month offline): each is answered, none refused for size."""
    items = [sync_item("checkin", {"slot": "daily", "values": {"mood": 5, "note": "x" * 200}})
             for _ in range(MAX_ITEMS)]
    answered = results(sync_post(client, *items))
    assert [a["status"] for a in answered] == ["created"] * MAX_ITEMS
    assert count(db, ClientWrite) == MAX_ITEMS


def test_an_empty_batch_is_fine(client, patient):
    assert results(sync_post(client)) == []


def test_a_nul_character_is_rejected_not_a_crash(db, auth, client):
    # PostgreSQL cannot store NUL in text: without this the lot below was a 500 there.
    _, patient, _ = factories.patient_with_protocol(db)
    db.commit()
    auth.login(patient.email)
    item = factories.sync_item("dose", {
        "taken_at": (utcnow() - timedelta(hours=1)).isoformat(), "dose_mg": "100",
        "route": "sublingual", "no_gate_reason": "Logged later.", "lot": "K\x00"})
    response = factories.sync_post(client, item)
    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["status"] == "rejected"
    assert "cannot be saved" in result["detail"]
    assert db.exec(select(Dose)).all() == []


# --- a form whose answer was lost, replayed by the outbox ------------------------------------

def _form_dose(auth, client, written_at: str, client_id: str):
    gate = results(sync_post(client, sync_item("gate", gate_data())))[0]
    assert gate["status"] == "created"
    taken = utcnow().astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%dT%H:%M")
    response = auth.post("/today/dose", {
        "dose_client_id": client_id, "gate_id": gate["id"], "taken_at": taken,
        "dose_mg": "100", "route": "sublingual", "hold_minutes": "15", "lot": "",
        "written_at": written_at})
    assert response.status_code == 303, response.text
    return gate, taken


def _outbox_copy(gate, taken: str, dose_id: str, stamp: datetime) -> dict:
    """The dose form's entry as the outbox keeps it: 15 for "15", the time in UTC, the stamp."""
    taken_utc = datetime.fromisoformat(taken).replace(tzinfo=ZoneInfo("America/New_York"))
    return sync_item("dose", {"taken_at": taken_utc.astimezone(ZoneInfo("UTC")).isoformat(),
                              "dose_mg": "100.0", "route": "sublingual", "gate_id": gate["id"],
                              "hold_minutes": 15}, item_id=dose_id, recorded_at=stamp)


def test_the_outbox_replay_of_a_form_the_server_got_is_a_duplicate(db, auth, client, patient):
    """The form posts "15" and no already_taken, a time in the patient's offset and the
    phone's stamp; the outbox's copy of the same entry sends 15, false left out, the time in
    UTC and the same stamp. It is the same dose: a duplicate, not an id conflict."""
    patient.timezone = "America/New_York"
    db.add(patient)
    db.commit()
    stamp = (utcnow() - timedelta(seconds=20)).replace(microsecond=0)
    dose_id = str(uuid.uuid4())
    gate, taken = _form_dose(auth, client, stamp.astimezone(ZoneInfo("Asia/Tokyo")).isoformat(),
                             dose_id)
    stored = db.get(ClientWrite, uuid.UUID(dose_id))
    assert stored.recorded_at == stamp  # the phone's stamp, not the server's clock
    replay = _outbox_copy(gate, taken, dose_id, stamp)
    (answer,) = results(sync_post(client, replay))
    assert answer["status"] == "duplicate", answer
    # Another amount under that id is still another entry.
    changed = {**replay, "data": {**replay["data"], "dose_mg": "50"}}
    assert results(sync_post(client, changed))[0]["code"] == "id_conflict"
    assert count(db, Dose) == 1


@pytest.mark.parametrize("offset, kept", [
    (timedelta(seconds=-30), True),  # in flight
    (timedelta(minutes=-11), False),  # the phone's clock is wrong: the server's time
    (timedelta(minutes=11), False),
    (timedelta(hours=-2), False),
])
def test_a_forms_stamp_is_kept_within_ten_minutes_of_the_server(db, auth, client, patient,
                                                                 offset, kept):
    patient.timezone = "America/New_York"
    db.add(patient)
    db.commit()
    before = utcnow()
    stamp = (before + offset).replace(microsecond=0)
    dose_id = str(uuid.uuid4())
    gate, taken = _form_dose(auth, client, stamp.isoformat(), dose_id)
    recorded = db.get(ClientWrite, uuid.UUID(dose_id)).recorded_at
    if kept:
        assert recorded == stamp
    else:
        assert before <= recorded <= utcnow()
    # Either way, the outbox's copy (with the phone's stamp) is the same entry: a phone two
    # hours slow had "This id was already used for a different entry" on a dose recorded once.
    (answer,) = results(sync_post(client, _outbox_copy(gate, taken, dose_id, stamp)))
    assert answer["status"] == "duplicate", answer
    # And a double tap, which sends the form's first stamp again.
    again = auth.post("/today/dose", {
        "dose_client_id": dose_id, "gate_id": gate["id"], "taken_at": taken, "dose_mg": "100",
        "route": "sublingual", "hold_minutes": "15", "lot": "", "written_at": stamp.isoformat()})
    assert again.status_code == 303, again.text
    assert count(db, Dose) == 1


def test_a_write_hashed_before_entries_were_read_is_still_recognised(db, client, patient):
    """Writes stored before the hash read the entry were hashed on the data as sent: an outbox
    replaying one after the upgrade is a duplicate, not an id conflict."""
    from app.sync.service import SyncItem, _digest
    item = sync_item("ledger_fill", fill_data())
    assert results(sync_post(client, item))[0]["status"] == "created"
    stored = db.get(ClientWrite, uuid.UUID(item["id"]))
    parsed = SyncItem.model_validate(item)
    stored.content_hash = _digest(parsed.kind, parsed.recorded_at, parsed.data)
    db.add(stored)
    db.commit()
    assert results(sync_post(client, item))[0]["status"] == "duplicate"
    assert count(db, LedgerEntry) == 1
