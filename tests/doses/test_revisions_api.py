"""Corrections and "entered in error" as sync kinds (so they work offline), and every dose's
revisions in GET /api/v1/doses: when, by whom, why, and each field before and after."""

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from app.db import utcnow
from app.doses.models import Dose, DoseRevision
from tests import factories
from tests.factories import sync_item, sync_post


@pytest.fixture
def logged(db, auth, client):
    """A signed-in patient with one dose logged two hours ago through the sync API."""
    _, patient, _ = factories.patient_with_protocol(db)
    db.commit()
    auth.login(patient.email)
    taken = utcnow() - timedelta(hours=2)
    item = sync_item("dose", {"taken_at": taken.isoformat(), "dose_mg": "100",
                              "route": "sublingual", "no_gate_reason": "Cuff broken."})
    assert sync_post(client, item).json()["results"][0]["status"] == "created"
    return patient, uuid.UUID(item["id"]), taken


def result(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["results"][0]


def doses_json(client) -> list[dict]:
    return client.get("/api/v1/doses").json()["doses"]


def test_a_correction_of_amount_time_lot_and_rx_is_kept_with_before_and_after(db, client,
                                                                              logged):
    patient, dose_id, taken = logged
    new_time = taken - timedelta(minutes=30)
    item = sync_item("dose_revision", {
        "dose_id": str(dose_id), "reason": "Took it earlier, and a half more.",
        "changes": {"dose_mg": "150", "taken_at": new_time.isoformat(), "lot": "K-7",
                    "rx_number": "RX-1"}})
    answer = result(sync_post(client, item))
    assert answer["status"] == "created" and answer["revision"] == 2
    assert "off_protocol_amount" in answer["flags"]
    # Replayed from the outbox: nothing more is written.
    assert result(sync_post(client, item))["status"] == "duplicate"

    (dose,) = doses_json(client)
    assert dose["dose_mg"] == "150.00" and dose["taken_at"] == new_time.isoformat()
    assert dose["lot"] == "K-7" and dose["rx_number"] == "RX-1"
    assert dose["no_gate_reason"] == "Cuff broken."
    (revision,) = dose["revisions"]
    assert revision["revision"] == 2
    assert revision["reason"] == "Took it earlier, and a half more."
    assert revision["by"] == {"id": str(patient.id), "name": patient.display_name}
    assert revision["changes"] == {
        "dose_mg": {"before": "100.00", "after": "150"},
        "taken_at": {"before": taken.isoformat(), "after": new_time.isoformat()},
        "lot": {"before": None, "after": "K-7"},
        "rx_number": {"before": None, "after": "RX-1"},
    }


def test_a_correction_that_breaks_a_rule_is_kept_and_flagged(db, client, logged):
    _, dose_id, _ = logged
    answer = result(sync_post(client, sync_item("dose_revision", {
        "dose_id": str(dose_id), "reason": "It was three troches.",
        "changes": {"dose_mg": "300"}})))
    assert answer["status"] == "created"
    assert {"corrected_over_limit", "over_24h_max"} <= set(answer["flags"])


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": "", "changes": {"dose_mg": "50"}}, "reason"),
        ({"reason": "same", "changes": {}}, "changes"),
        ({"reason": "typo", "changes": {"dose_mg": "lots"}}, "changes_dose_mg"),
        ({"reason": "typo", "changes": {"dose_mg": "30"}}, "dose_mg"),
        ({"reason": "typo", "changes": {"colour": "red"}}, "changes_colour"),
        ({"reason": "later", "changes": {"taken_at": "2099-01-01T00:00:00+00:00"}},
         "taken_at"),
    ],
)
def test_a_bad_correction_is_rejected_and_writes_nothing(db, client, logged, data, field):
    _, dose_id, _ = logged
    answer = result(sync_post(client, sync_item("dose_revision",
                                                {"dose_id": str(dose_id), **data})))
    assert answer["status"] == "rejected"
    assert field in answer["errors"], answer
    db.expire_all()
    assert db.exec(select(DoseRevision)).all() == []
    assert db.get(Dose, dose_id).revision == 1


def test_entered_in_error_is_a_sync_kind_and_keeps_the_dose(db, client, logged):
    _, dose_id, _ = logged
    refused = result(sync_post(client, sync_item("dose_entered_in_error",
                                                 {"dose_id": str(dose_id), "reason": " "})))
    assert refused["status"] == "rejected" and "reason" in refused["errors"]
    answer = result(sync_post(client, sync_item("dose_entered_in_error", {
        "dose_id": str(dose_id), "reason": "Logged twice."})))
    assert answer["status"] == "created" and answer["dose_status"] == "entered_in_error"
    (dose,) = doses_json(client)
    assert dose["status"] == "entered_in_error" and dose["status_reason"] == "Logged twice."
    assert dose["revisions"][0]["changes"] == {
        "status": {"before": "recorded", "after": "entered_in_error"}}
    # A correction after that is refused: the entry is closed.
    closed = result(sync_post(client, sync_item("dose_revision", {
        "dose_id": str(dose_id), "reason": "oops", "changes": {"dose_mg": "50"}})))
    assert closed["status"] == "rejected"


def test_another_patients_dose_cannot_be_corrected_through_sync(db, auth, client, logged):
    _, dose_id, _ = logged
    _, other, _ = factories.patient_with_protocol(db)
    db.commit()
    auth.logout()
    auth.login(other.email)
    for kind, data in (("dose_revision", {"reason": "mine", "changes": {"dose_mg": "50"}}),
                       ("dose_entered_in_error", {"reason": "mine"})):
        answer = result(sync_post(client, sync_item(kind, {"dose_id": str(dose_id), **data})))
        assert answer["status"] == "rejected"
    db.expire_all()
    assert db.get(Dose, dose_id).revision == 1


def test_the_history_form_corrects_the_time_through_the_same_path(db, auth, client, logged):
    patient, dose_id, taken = logged
    local = (taken - timedelta(hours=1)).astimezone(ZoneInfo(patient.timezone)).strftime(
        "%Y-%m-%dT%H:%M")
    response = auth.post(f"/doses/{dose_id}/correct", {
        "client_id": str(uuid.uuid4()), "dose_mg": "100", "taken_at": local, "lot": "",
        "rx_number": "", "reason": "Wrong hour."})
    assert response.status_code == 303, response.text
    (dose,) = doses_json(client)
    assert set(dose["revisions"][0]["changes"]) == {"taken_at"}
    page = client.get("/doses").text
    assert "Changes to this entry (1)" in page and "Wrong hour." in page
