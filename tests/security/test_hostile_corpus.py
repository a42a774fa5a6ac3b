"""A hostile-input corpus against every JSON write endpoint and the main form posts.

Each field of a known-good payload (every sync kind, push subscription, push test, snooze) is
replaced in turn by each hostile value (NaN, ±Infinity, 1e308, -0, a 400-digit integer, NUL,
a lone surrogate, a megabyte string, 10,000 levels of nesting, wrong types, an array for an
object, another patient's ids), and whole bodies are replaced too. Every answer is a clear 4xx
(or the sync protocol's per-item rejection) with a readable `detail`, and a refusal writes
nothing. A value that happens to be valid (-0 as a count) may be accepted: then it must read
back. Afterwards the patient's pages and every /api/v1 read still work: one bad record can
never break a later read.
"""

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from app.db import utcnow
from app.doses.models import Dose
from tests import factories, figures
from tests.factories import gate_data, sync_item

# Raw JSON text, so the body carries exactly these tokens (json.dumps would escape some).
HOSTILE = {
    "nan": "NaN",
    "infinity": "Infinity",
    "-infinity": "-Infinity",
    "1e308": "1e308",
    "-0": "-0",
    "huge-int": "1" + "0" * 400,
    "nul": '"a\\u0000b"',
    "surrogate": '"a\\ud800b"',
    "megabyte": '"' + "x" * 1_000_000 + '"',
    "nested": "[" * 10_000 + "]" * 10_000,
    "true": "true",
    "null": "null",
    "array": "[]",
    "object": "{}",
    "string": '"not what was asked"',
    "number": "7",
}
# Rows a refusal may add: who was refused (audit trail), and the session's own bookkeeping.
BOOKKEEPING = {"audit_events", "auth_sessions", "login_failures", "server_keys"}
NOT_READ_BACK = ("nul", "surrogate", "nested", "megabyte")


def row_counts(db) -> dict[str, int]:
    db.expire_all()
    return {
        table.name: db.execute(select(func.count()).select_from(table)).scalar_one()
        for table in SQLModel.metadata.sorted_tables
        if table.name not in BOOKKEEPING
    }


@pytest.fixture
def world(db, auth, client):
    """Patient A (signed in) with a dose; patient B, another prescriber's, with a dose."""
    _, patient, _ = factories.patient_with_protocol(db)
    _, other, _ = factories.patient_with_protocol(db)
    db.commit()
    other_dose = _log_dose(db, auth, client, other)
    client.cookies.clear()
    own_dose = _log_dose(db, auth, client, patient)
    return {"patient": patient, "other": other, "own_dose": own_dose, "other_dose": other_dose}


def _log_dose(db, auth, client, user) -> str:
    assert auth.login(user.email).status_code == 303
    item = sync_item("dose", {"taken_at": (utcnow() - timedelta(hours=3)).isoformat(),
                              "dose_mg": "100", "route": "sublingual",
                              "no_gate_reason": "Cuff broken."})
    assert factories.sync_post(client, item).json()["results"][0]["status"] == "created"
    return item["id"]


def sync_payloads(world) -> dict[str, dict]:
    now = utcnow()
    today = now.date().isoformat()
    return {
        "gate": gate_data(),
        "dose": {"taken_at": (now - timedelta(minutes=5)).isoformat(), "dose_mg": "100",
                 "route": "sublingual", "no_gate_reason": "Cuff broken."},
        "dose_revision": {"dose_id": world["own_dose"], "reason": "Took a half more.",
                          "changes": {"dose_mg": "150"}},
        "dose_entered_in_error": {"dose_id": world["own_dose"], "reason": "Logged twice."},
        "ledger_fill": {"filled_on": today, "count": 10, "strength_mg": "100"},
        "ledger_count": {"counted_at": now.isoformat(), "count": "3"},
        "checkin": {"slot": "daily", "values": {"mood": 5, "note": "fine"}},
        "questionnaire": {"instrument": "phq9", "answers": [0] * 9},
    }


def post_text(client, path: str, text: str, method: str = "POST"):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.request(method, path, content=text.encode(),
                          headers={"X-CSRF-Token": token, "Content-Type": "application/json"})


def with_raw(payload: dict, key: str, raw: str) -> str:
    marker = "@@HOSTILE@@"
    return json.dumps({**payload, key: marker}).replace(f'"{marker}"', raw)


def judge(db, response, before: dict[str, int], label: str) -> str:
    """'refused' or 'accepted'; fails the test on a 5xx, an unreadable refusal, or a refusal
    that wrote something."""
    assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:300]}"
    body = response.json() if response.headers.get("content-type", "").startswith(
        "application/json") else None
    if response.status_code >= 400:
        assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"]
        verdict = "refused"
    elif body and body.get("results"):
        (result,) = body["results"]
        assert result["status"] in ("created", "rejected", "duplicate"), (label, result)
        if result["status"] == "rejected":
            assert isinstance(result["detail"], str) and result["detail"], (label, result)
        verdict = "refused" if result["status"] == "rejected" else "accepted"
    else:
        verdict = "accepted"
    if verdict == "refused":
        assert row_counts(db) == before, f"{label}: a refusal wrote rows"
    return verdict


def reads_still_work(client) -> None:
    for path in ("/api/v1/me", "/api/v1/today", "/api/v1/doses", "/api/v1/checkins",
                 "/api/v1/questionnaires", "/today", "/doses", "/checkins", "/supply",
                 "/trends"):
        response = client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"


def test_every_sync_kind_field_by_hostile_value(db, client, world):
    tried = verdicts = 0
    for kind, payload in sync_payloads(world).items():
        for key in payload:
            for name, raw in HOSTILE.items():
                data = with_raw(payload, key, raw)
                item = sync_item(kind, {})
                text = json.dumps({"items": [item]}).replace('"data": {}', f'"data": {data}')
                before = row_counts(db)
                response = post_text(client, "/api/v1/sync", text)
                verdict = judge(db, response, before, f"{kind}.{key}={name}")
                if verdict == "accepted":
                    assert name not in NOT_READ_BACK, f"{kind}.{key}={name} was accepted"
                    reads_still_work(client)
                tried += 1
                verdicts += verdict == "refused"
    figures.add("hostile inputs tried", tried)
    assert verdicts > tried * 0.8  # nearly all of them are refused
    reads_still_work(client)


@pytest.mark.parametrize("kind", ["dose_revision", "dose_entered_in_error"])
def test_another_patients_dose_id_is_refused_and_left_alone(db, client, world, kind):
    payload = {**sync_payloads(world)[kind], "dose_id": world["other_dose"]}
    before = row_counts(db)
    response = factories.sync_post(client, sync_item(kind, payload))
    assert judge(db, response, before, kind) == "refused"
    other = db.get(Dose, uuid.UUID(world["other_dose"]))
    db.refresh(other)
    assert other.status != "entered_in_error" and str(other.dose_mg) == "100.00"
    figures.add("hostile inputs tried", 1)


def test_a_patient_id_smuggled_into_a_write_is_ignored(db, client, world):
    payload = {**sync_payloads(world)["dose"], "patient_id": str(world["other"].id)}
    item = sync_item("dose", payload)
    response = factories.sync_post(client, item)
    assert response.status_code == 200
    stored = db.get(Dose, uuid.UUID(item["id"]))
    if stored is not None:  # accepted: it is the signed-in patient's, whatever the body said
        assert stored.patient_id == world["patient"].id
    figures.add("hostile inputs tried", 1)


WHOLE_BODIES = {**HOSTILE, "items-nan": '{"items": NaN}', "items-object": '{"items": {}}',
                "nul-key": '{"items": [], "a\\u0000": 1}', "empty": "", "not-json": "{{{",
                "truncated": '{"items": [', "deep-object": '{"a":' * 10_000 + "1" + "}" * 10_000}

JSON_WRITES = [
    ("POST", "/api/v1/sync", {"items": []}),
    ("POST", "/api/v1/push/subscriptions",
     {"endpoint": "https://push.example/abc", "name": "Phone",
      "keys": {"p256dh": "B" * 87, "auth": "A" * 22}}),
    ("DELETE", "/api/v1/push/subscriptions", {"endpoint": "https://push.example/abc"}),
    ("POST", "/api/v1/push/test", {"endpoint": "https://push.example/abc"}),
    ("POST", "/api/v1/push/snooze", {"id": str(uuid.uuid4())}),
]


@pytest.mark.parametrize(("method", "path", "payload"), JSON_WRITES,
                         ids=[f"{m} {p}" for m, p, _ in JSON_WRITES])
def test_json_writes_refuse_hostile_bodies_and_fields(db, client, world, method, path, payload):
    tried = 0
    cases = [(f"body={name}", raw) for name, raw in WHOLE_BODIES.items()]
    cases += [(f"{key}={name}", with_raw(payload, key, raw))
              for key in payload for name, raw in HOSTILE.items()]
    for label, text in cases:
        before = row_counts(db)
        response = post_text(client, path, text, method)
        verdict = judge(db, response, before, f"{method} {path} {label}")
        if verdict == "accepted":
            assert not any(bad in label for bad in NOT_READ_BACK), label
        tried += 1
    figures.add("hostile inputs tried", tried)
    reads_still_work(client)


FORM_VALUES = {
    "nul": "a\x00b",
    "megabyte": "x" * 300_000,  # over the 256 KiB form limit
    "nan": "NaN",
    "infinity": "Infinity",
    "-infinity": "-Infinity",
    "1e308": "1e308",
    "-0": "-0",
    "huge-int": "1" + "0" * 400,
    "text-for-a-number": "seven",
    "empty": "",
}
NUMBERS = {"dose_mg", "count_count", "fill_count", "fill_strength_mg", "mood"}
FORMS = [
    ("/today/dose", {"dose_client_id": "uuid", "dose_mg": "100", "route": "sublingual",
                     "taken_at": "now", "no_gate_reason": "Cuff broken."}),
    ("/supply/count", {"count_client_id": "uuid", "count_count": "3",
                       "count_counted_at": "now"}),
    ("/supply/fill", {"fill_client_id": "uuid", "fill_filled_on": "today", "fill_count": "10",
                      "fill_strength_mg": "100"}),
    ("/checkins/daily", {"client_id": "uuid", "mood": "5", "note": "fine"}),
    ("/account/timezone", {"timezone": "Europe/Berlin"}),
]


def _form(values: dict) -> dict:
    now = utcnow().astimezone()
    fill = {"uuid": lambda: str(uuid.uuid4()), "now": lambda: now.strftime("%Y-%m-%dT%H:%M"),
            "today": lambda: now.date().isoformat()}
    return {k: fill[v]() if v in fill else v for k, v in values.items()}


@pytest.mark.parametrize(("path", "fields"), FORMS, ids=[p for p, _ in FORMS])
def test_form_posts_refuse_hostile_values(db, auth, client, world, path, fields):
    tried = 0
    for key in fields:
        if fields[key] == "uuid":
            continue
        for name, value in FORM_VALUES.items():
            before = row_counts(db)
            response = auth.post(path, {**_form(fields), key: value})
            label = f"{path} {key}={name}"
            assert response.status_code < 500, f"{label}: {response.status_code}"
            if response.status_code >= 400:
                assert response.headers["content-type"].startswith("text/html")
                assert row_counts(db) == before, f"{label}: a refusal wrote rows"
            else:
                assert name not in ("nul", "megabyte"), f"{label} was accepted"
                if key in NUMBERS:
                    assert name not in ("nan", "infinity", "-infinity", "huge-int", "1e308",
                                        "text-for-a-number"), f"{label} was accepted"
                reads_still_work(client)
            tried += 1
    figures.add("hostile inputs tried", tried)
    reads_still_work(client)
