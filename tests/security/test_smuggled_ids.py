"""A foreign patient id smuggled into a write: the write lands on the signed-in person's own record
(the server resolves the patient from the session) or is refused, never on the other patient's.

Asserted on the database rows: each created item's row belongs to the sender's patient, and no
row of (or pointing at) the other patient was written, changed or removed.
"""

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import SQLModel

from app.db import utcnow
from tests import factories
from tests.security import world as worlds


def _row_of(db, item_id: str):
    """The row an applied sync item made (its id is the item's), and its table."""
    for table in SQLModel.metadata.sorted_tables:
        if "id" in table.columns and "patient_id" in table.columns:
            row = db.connection().execute(
                select(table).where(table.c.id == uuid.UUID(item_id))).first()
            if row is not None:
                return table.name, row
    return None, None


def _sync(client, subject, *items):
    worlds.use(client, subject)
    response = client.post("/api/v1/sync", json={"items": list(items)},
                           headers={"X-CSRF-Token": subject.csrf})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def _landed_on(db, results, patient_id) -> list[str]:
    """Problems: an item that was created anywhere but on `patient_id`'s record."""
    problems = []
    db.expire_all()
    for result in results:
        assert result["status"] in ("created", "rejected", "duplicate"), result
        if result["status"] != "created":
            continue
        table, row = _row_of(db, result["id"])
        if row is None:
            continue  # e.g. a revision, whose row is keyed otherwise: the watch covers it
        if row.patient_id != patient_id:
            problems.append(f"{table} row {result['id']} landed on {row.patient_id}")
    return problems


def test_a_foreign_patient_id_in_sync_items_never_reaches_the_other_patient(db, client):
    world = worlds.build(db, client)
    before = worlds.watched_rows(db, world.other.row_ids)
    foreign = str(world.other_patient.id)
    other_dose = world.other.ids["dose_id"]
    now = utcnow()
    item = factories.sync_item

    patient = world.subjects["patient"]
    results = _sync(client, patient,
                    item("checkin", {"slot": "daily", "values": {"mood": 5, "note": "ok"},
                                     "patient_id": foreign}),
                    item("checkin", {"slot": "plus40", "dose_id": other_dose,
                                     "values": {"systolic": 120, "diastolic": 80,
                                                "heart_rate": 70}}),
                    item("questionnaire", {"instrument": "gad7", "answers": [0] * 7,
                                           "patient_id": foreign}),
                    item("questionnaire", {"instrument": "gad7", "answers": [0] * 7,
                                           "follows_id": world.other.ids["response_id"]}),
                    item("gate", factories.gate_data(patient_id=foreign)),
                    item("dose", {"taken_at": (now - timedelta(hours=1)).isoformat(),
                                  "dose_mg": "100", "route": "sublingual",
                                  "no_gate_reason": "Logged later.", "patient_id": foreign}),
                    item("dose_revision", {"dose_id": other_dose, "reason": "Typo.",
                                           "changes": {"dose_mg": "50"}}),
                    item("dose_entered_in_error", {"dose_id": other_dose, "reason": "Twice."}),
                    item("ledger_fill", {"filled_on": now.date().isoformat(), "count": 4,
                                         "strength_mg": "100", "patient_id": foreign}),
                    item("ledger_count", {"counted_at": now.isoformat(), "count": "3",
                                          "patient_id": foreign}),
                    item("sitter_checkin", {"patient_id": foreign, "slot": "observe",
                                            "values": {"sedation": 1}}),
                    # the control: the same kind, without the smuggled id, is written (to P)
                    item("checkin", {"slot": "daily", "values": {"mood": 5, "note": "ok"}}))
    assert results[-1]["status"] == "created", results[-1]
    problems = _landed_on(db, results, world.patient.id)
    # The ones that name the other patient's objects are refused outright.
    for index in (1, 3, 6, 7, 10):
        assert results[index]["status"] == "rejected", results[index]

    # A sitter may write only for a patient they supervise, named in the item.
    for name, target in (("cg_checkins", foreign), ("cg_elsewhere", str(world.patient.id)),
                         ("cg_revoked", str(world.patient.id)),
                         ("cg_pending", str(world.patient.id))):
        [result] = _sync(client, world.subjects[name],
                         item("sitter_checkin", {"patient_id": target, "slot": "observe",
                                                 "values": {"sedation": 1}}))
        assert result["status"] == "rejected", (name, result)
    cg = world.subjects["cg_supervision"]
    results = _sync(client, cg,
                    item("sitter_checkin", {"patient_id": str(world.patient.id),
                                            "slot": "observe", "dose_id": other_dose,
                                            "values": {"sedation": 1}}),
                    item("dose", {"taken_at": now.isoformat(), "dose_mg": "100",
                                  "route": "sublingual", "no_gate_reason": "x",
                                  "patient_id": str(world.patient.id)}))
    assert [r["status"] for r in results] == ["rejected", "rejected"], results

    assert worlds.watched_rows(db, world.other.row_ids) == before
    assert not problems, problems


def test_a_foreign_patient_id_in_a_form_post_lands_on_the_own_record(db, client):
    world = worlds.build(db, client)
    before = worlds.watched_rows(db, world.other.row_ids)
    patient = world.subjects["patient"]
    worlds.use(client, patient)
    response = client.post("/supply/fill", data={
        "csrf_token": patient.csrf, "patient_id": str(world.other_patient.id),
        "fill_client_id": str(uuid.uuid4()), "fill_filled_on": utcnow().date().isoformat(),
        "fill_count": "6", "fill_strength_mg": "100"})
    assert response.status_code == 303, response.text

    from app.doses.models import LedgerEntry

    db.expire_all()
    fills = db.exec(select(LedgerEntry).where(LedgerEntry.count == 6)).scalars().all()
    assert [fill.patient_id for fill in fills] == [world.patient.id]
    assert worlds.watched_rows(db, world.other.row_ids) == before
