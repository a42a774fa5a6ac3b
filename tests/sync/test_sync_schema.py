"""POST /api/v1/sync answers in the shape /openapi.json declares (app/sync/schemas.py): real
results of every kind and every outcome, held strictly to the model and to the published JSON
Schema. A field a handler adds, renames or retypes must be declared too, or this fails; a
declared field no result ever carries fails it as well."""

import uuid

import pytest

from app.db import utcnow
from app.seed import DEMO_PASSWORD
from app.sync.schemas import SyncResponse, SyncResult
from app.sync.service import MAX_DATA_DEPTH
from tests.doses.test_api_schemas import Declared
from tests.factories import gate_data, sync_item, sync_post


def test_the_schema_names_the_shape(client):
    paths = client.get("/openapi.json").json()["paths"]
    answer = paths["/api/v1/sync"]["post"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"] == {"$ref": "#/components/schemas/SyncResponse"}


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def _patients_batch(today: str) -> tuple[list[dict], list[str]]:
    gate = sync_item("gate", gate_data())
    dose = sync_item("dose", {"taken_at": utcnow().isoformat(), "dose_mg": "150",
                              "route": "sublingual", "gate_id": gate["id"]})
    phq9 = sync_item("questionnaire", {"instrument": "phq9", "answers": [1] * 9})
    items = [
        gate, dose,
        sync_item("gate", gate_data(systolic=172, diastolic=104)),
        sync_item("dose", {"taken_at": utcnow().isoformat(), "dose_mg": "150",
                           "route": "sublingual", "no_gate_reason": "Logged later."}),
        sync_item("checkin", {"slot": "daily", "values": {"mood": 7}}),
        sync_item("ledger_fill", {"filled_on": today, "count": 10, "strength_mg": "150"}),
        sync_item("ledger_count", {"counted_at": utcnow().isoformat(), "count": "3"}),
        sync_item("dose_revision", {"dose_id": dose["id"], "reason": "Half crumbled.",
                                    "changes": {"dose_mg": "100"}}),
        sync_item("dose_entered_in_error", {"dose_id": dose["id"],
                                            "reason": "Logged on the wrong day."}),
        phq9,
        sync_item("questionnaire", {"instrument": "cssrs", "follows_id": phq9["id"],
                                    "answers": [True, True, False, True, False, False, None]}),
        gate,  # sent again: a duplicate
        {**gate, "data": gate_data(systolic=130)},  # its id, other content
        sync_item("nonsense", {}),
        {"id": str(uuid.uuid4()), "kind": "checkin", "data": {}},  # no recorded_at
        sync_item("checkin", {"values": _nested(MAX_DATA_DEPTH + 1)}),
        sync_item("sitter_checkin", {"slot": "sitter_check", "values": {}}),
    ]
    expected = ["created", "created", "created", "rejected", "created", "created", "created",
                "created", "created", "created", "created", "duplicate", "rejected",
                "rejected", "rejected", "rejected", "rejected"]
    return items, expected


def test_every_kind_and_outcome_is_as_declared(demo, auth, client):
    declared = Declared(client)
    jordan = demo["patient@demo.test"]
    met: set[str] = set()

    def send(items, expected):
        response = sync_post(client, *items)
        assert response.status_code == 200, response.text
        body = response.json()
        answer = declared.check(SyncResponse, body)
        assert [r.status for r in answer.results] == expected, body
        for result in body["results"]:
            met.update(result)
        return answer.results

    assert auth.login("patient@demo.test", DEMO_PASSWORD).status_code == 303
    today = utcnow().date().isoformat()
    items, expected = _patients_batch(today)
    results = send(items, expected)
    assert results[2].verdict == "hold" and results[2].reasons
    assert results[3].overridable is not None and results[3].reasons
    assert results[10].crisis is True
    assert {r.code for r in results[12:]} == {"id_conflict", "unknown_kind", "invalid_item",
                                             "too_deep", "not_yours"}
    auth.logout()

    assert auth.login("caregiver@demo.test", DEMO_PASSWORD).status_code == 303
    results = send([
        sync_item("sitter_checkin", {
            "patient_id": str(jordan.id), "slot": "sitter_check",
            "values": {"sitter_present": True, "bp_taken": True, "safe_place": True,
                       "no_driving": True}}),
        sync_item("sitter_checkin", {"patient_id": str(uuid.uuid4()), "slot": "sitter_check",
                                     "values": {}}),
        sync_item("dose", {"patient_id": str(jordan.id), "taken_at": utcnow().isoformat(),
                           "dose_mg": "150", "route": "sublingual"}),
    ], ["created", "rejected", "rejected"])
    assert results[0].slot == "sitter_check"
    assert [r.code for r in results[1:]] == ["not_supporting", "not_yours"]

    # Every field the model declares is one some real result carries.
    assert met == set(SyncResult.model_fields)


@pytest.mark.parametrize("odd", [{"surprise": 1}, {"status": "maybe"},
                                 {"flags": "against_hold"}, {"verdict": "fine"}])
def test_the_result_model_refuses_what_it_does_not_declare(odd):
    """The model is strict, so the test above fails on drift rather than pass it by."""
    result = {"id": str(uuid.uuid4()), "status": "created", "flags": []}
    SyncResult.model_validate(result)
    with pytest.raises(ValueError):
        SyncResult.model_validate({**result, **odd})
