"""POST /api/v1/sync against hostile input: text that is not Unicode, extreme dates, deep or
huge data, and a strict envelope. Each problem rejects its own item (or, for the envelope, the
request) with a readable answer; nothing is written and nothing is a 500."""

import json
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from app.checkins.models import CheckIn
from app.db import utcnow
from app.doses.models import Dose, GateCheck, LedgerEntry
from app.sync.models import ClientWrite
from tests import factories
from tests.factories import gate_data, sync_item

# Placeholders replaced in the JSON text, so the body carries a real JSON escape: Python's
# json.dumps would otherwise escape the backslash itself.
SURROGATE = "\\ud800"
NUL = "\\u0000"


def count(db, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def patient(db, auth):
    _, patient, _ = factories.patient_with_protocol(db)
    db.commit()
    auth.login(patient.email)
    return patient


def post_raw(client, text: str):
    """POST /api/v1/sync with `text` as the body, byte for byte."""
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.post("/api/v1/sync", content=text.encode(),
                       headers={"X-CSRF-Token": token, "Content-Type": "application/json"})


def post_items(client, *items, replace: dict[str, str] | None = None):
    """The items as JSON, with each key of `replace` (a marker) swapped for raw JSON text."""
    text = json.dumps({"items": list(items)})
    for marker, raw in (replace or {}).items():
        text = text.replace(marker, raw)
    return post_raw(client, text)


def results(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["results"]


def fill_data(**changes):
    today = utcnow().astimezone(ZoneInfo("America/New_York")).date()
    return {"filled_on": today.isoformat(), "count": 10, "strength_mg": "100", **changes}


def daily(note: str = "fine") -> dict:
    return {"slot": "daily", "values": {"mood": 5, "note": note}}


# --- text that is not valid Unicode -----------------------------------------------------------


def test_a_lone_surrogate_in_a_note_is_rejected_and_reads_keep_working(db, client, patient):
    item = sync_item("checkin", daily("a@@b"))
    (answer,) = results(post_items(client, item, replace={"@@": SURROGATE}))
    assert answer["status"] == "rejected"
    assert answer["code"] == "unsavable_text"
    assert "cannot be saved" in answer["detail"]
    assert answer["errors"] == {"data": answer["detail"]}
    assert count(db, CheckIn) == 0 and count(db, ClientWrite) == 0
    reads = client.get("/api/v1/checkins")
    assert reads.status_code == 200 and reads.json() == {"checkins": []}


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"kind": "checkin", "data": {"slot": "daily", "values": {"mood": 5, "@@": "x"}}}, "data"),
        ({"kind": "questionnaire", "data": {"instrument": "phq9", "answers": [0, "@@"]}}, "data"),
        ({"kind": "@@", "data": {}}, "kind"),
        ({"kind": "gate@@", "data": {}}, "kind"),
        ({"kind": "gate", "recorded_at": "2026-01-01T00:00:00+00:00@@", "data": {}},
         "recorded_at"),
        ({"kind": "gate", "data": {}, "@@": 1}, "@@"),
    ],
    ids=["data-key", "list-value", "kind", "kind-suffix", "recorded_at", "item-key"],
)
@pytest.mark.parametrize("bad", [SURROGATE, NUL], ids=["surrogate", "nul"])
def test_unsavable_text_anywhere_rejects_only_its_item(db, client, patient, item, field, bad):
    good = sync_item("gate", gate_data())
    hostile = {**sync_item("gate", {}), **item}
    response = post_items(client, good, hostile, replace={"@@": bad})
    first, second = results(response)
    assert first["status"] == "created"
    assert second["status"] == "rejected" and second["code"] == "unsavable_text"
    assert second["id"] == hostile["id"]
    assert list(second["errors"]) == [field if field != "@@" else "item"]
    # Nothing of the hostile text comes back.
    assert "\\ud800" not in response.text and "\\u0000" not in response.text
    assert count(db, GateCheck) == 1 and count(db, ClientWrite) == 1


def test_an_unknown_kind_is_echoed_only_when_it_is_a_plain_name(db, client, patient):
    plain, odd = results(factories.sync_post(
        client, sync_item("checkin_mood", {}), sync_item('<b onclick="x">gate</b>', {})))
    assert plain["status"] == "rejected" and plain["code"] == "unknown_kind"
    assert plain["detail"] == "Unknown kind: checkin_mood."
    assert odd["status"] == "rejected" and odd["code"] == "unknown_kind"
    assert "<b" not in json.dumps(odd) and "onclick" not in json.dumps(odd)
    assert odd["errors"] == {"kind": odd["detail"]}
    assert count(db, ClientWrite) == 0


# --- extreme dates --------------------------------------------------------------------------

EXTREMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
            "1999-12-31T23:59:59+00:00", "2101-01-01T00:00:00+00:00"]


def _item_with_time(kind: str, when: str) -> tuple[dict, str]:
    if kind == "gate":
        item = sync_item("gate", gate_data())
        item["recorded_at"] = when
        return item, "recorded_at"
    if kind == "checkin":
        item = sync_item("checkin", daily())
        item["recorded_at"] = when
        return item, "recorded_at"
    if kind == "dose":
        return sync_item("dose", {"taken_at": when, "dose_mg": "100",
                                  "route": "sublingual"}), "taken_at"
    if kind == "ledger_count":
        return sync_item("ledger_count", {"counted_at": when, "count": "3"}), "counted_at"
    assert kind == "ledger_fill"
    return sync_item("ledger_fill", fill_data(filled_on=when[:10])), "filled_on"


@pytest.mark.parametrize("when", EXTREMES)
@pytest.mark.parametrize("kind", ["gate", "checkin", "dose", "ledger_count", "ledger_fill"])
def test_an_extreme_time_rejects_only_its_item(db, client, patient, kind, when):
    good = sync_item("ledger_fill", fill_data())
    bad, field = _item_with_time(kind, when)
    first, second = results(factories.sync_post(client, good, bad))
    assert first["status"] == "created"
    assert second["status"] == "rejected", second
    assert "2000" in second["errors"][field] and "2100" in second["errors"][field]
    assert second["detail"]
    assert count(db, LedgerEntry) == 1
    assert count(db, Dose) == count(db, GateCheck) == count(db, CheckIn) == 0
    assert count(db, ClientWrite) == 1


def test_the_bad_item_first_still_lets_the_good_one_through(db, client, patient):
    bad = sync_item("gate", gate_data())
    bad["recorded_at"] = "9999-12-31T23:59:59-01:00"
    good = sync_item("gate", gate_data())
    first, second = results(factories.sync_post(client, bad, good))
    assert (first["status"], second["status"]) == ("rejected", "created")
    assert count(db, GateCheck) == 1


# --- the envelope is strict, an item's own fields are its own problem -----------------------

ITEM_ID = "6f1c2c1e-0d3a-4b8e-9c55-0b9a3c1d2e4f"


@pytest.mark.parametrize(
    ("item", "fields"),
    [
        ({"id": ITEM_ID, "kind": "gate", "recorded_at": "2026-01-01T00:00:00", "data": {}},
         {"recorded_at"}),
        ({"id": ITEM_ID, "kind": "gate", "recorded_at": "2026-01-01T00:00:00+00:00",
          "data": [], "extra": 1}, {"data", "extra"}),
        ({"id": ITEM_ID, "recorded_at": "2026-01-01T00:00:00+00:00", "data": {}}, {"kind"}),
        ({"id": ITEM_ID, "kind": 7, "recorded_at": "not a time", "data": "x"},
         {"kind", "recorded_at", "data"}),
    ],
    ids=["naive-time", "data-not-object-and-extra", "no-kind", "all-wrong"],
)
def test_a_malformed_item_with_a_valid_id_rejects_only_itself(db, client, patient, item, fields):
    good = sync_item("gate", gate_data())
    first, second = results(post_items(client, good, item))
    assert first["status"] == "created"
    assert second["id"] == ITEM_ID and second["status"] == "rejected"
    assert second["code"] == "invalid_item"
    assert set(second["errors"]) == fields
    assert all(isinstance(v, str) and v for v in second["errors"].values())
    assert second["detail"]
    assert count(db, ClientWrite) == 1


@pytest.mark.parametrize(
    "body",
    [
        '{"items": [], "x": 1}',
        '{"items": [], "@@": 1}',
        '{"items": [1]}',
        '{"items": ["@@"]}',
        '{"items": [{"id": "@@", "kind": "gate", "recorded_at": "2026-01-01T00:00:00+00:00",'
        ' "data": {}}]}',
        '{"items": [{"id": "a@@", "kind": "gate", "data": {}}]}',
        '[]',
        'null',
    ],
)
@pytest.mark.parametrize("bad", [SURROGATE, NUL], ids=["surrogate", "nul"])
def test_a_malformed_envelope_is_a_readable_422(db, client, patient, body, bad):
    response = post_raw(client, body.replace("@@", bad))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    assert "\ud800" not in detail and "\x00" not in detail
    assert count(db, ClientWrite) == 0


# --- deep and large data --------------------------------------------------------------------


def _nested(depth: int):
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [17, 900])
def test_deeply_nested_data_rejects_only_its_item(db, client, patient, depth):
    good = sync_item("gate", gate_data())
    deep = sync_item("checkin", {"slot": "daily", "values": _nested(depth - 1)})
    first, second = results(factories.sync_post(client, good, deep))
    assert first["status"] == "created"
    assert second["status"] == "rejected" and second["code"] == "too_deep"
    assert "16" in second["detail"]
    assert second["errors"] == {"data": second["detail"]}
    assert count(db, ClientWrite) == 1


def test_a_body_too_deep_to_parse_is_a_readable_400(db, client, patient):
    # Python's JSON parser gives up near 1000 levels: the request cannot be read at all.
    item = sync_item("checkin", {"slot": "daily", "values": "@@"})
    response = post_items(client, item, replace={'"@@"': '{"a":' * 5000 + "1" + "}" * 5000})
    assert response.status_code == 400
    assert response.json() == {"detail": "The request could not be read."}
    assert count(db, ClientWrite) == 0


def test_data_sixteen_levels_deep_is_judged_by_its_handler(db, client, patient):
    # data (1) > values (2) > mood (3 .. 16)
    (answer,) = results(factories.sync_post(
        client, sync_item("checkin", {"slot": "daily", "values": {"mood": _nested(14)}})))
    assert answer["status"] == "rejected"
    assert answer.get("code") != "too_deep"
    assert "mood" in answer["errors"]


def test_deep_nesting_in_other_item_fields_is_rejected_too(db, client, patient):
    item = {**sync_item("gate", gate_data()), "kind": [_nested(900)]}
    (answer,) = results(factories.sync_post(client, item))
    assert answer["status"] == "rejected" and answer["code"] == "too_deep"
    assert list(answer["errors"]) == ["kind"]


@pytest.mark.parametrize("shape", ["many-keys", "long-text", "long-list"])
def test_oversized_data_rejects_only_its_item(db, client, patient, shape):
    data = {
        "many-keys": {"slot": "daily", "values": {f"k{n}": n for n in range(5000)}},
        "long-text": daily("x" * 40_000),
        "long-list": {"instrument": "phq9", "answers": [0] * 20_000},
    }[shape]
    kind = "questionnaire" if shape == "long-list" else "checkin"
    good = sync_item("gate", gate_data())
    first, second = results(factories.sync_post(client, good, sync_item(kind, data)))
    assert first["status"] == "created"
    assert second["status"] == "rejected" and second["code"] == "too_large"
    assert second["errors"] == {"data": second["detail"]}
    assert count(db, ClientWrite) == 1


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_a_number_json_cannot_carry_rejects_its_item(db, client, patient, number):
    item = sync_item("questionnaire", {"instrument": "phq9", "answers": [0] * 8 + ["@@"]})
    (answer,) = results(post_items(client, item, replace={'"@@"': number}))
    assert answer["status"] == "rejected" and answer["code"] == "not_finite"
    assert answer["errors"] == {"data": answer["detail"]}
    assert count(db, ClientWrite) == 0


def test_a_replay_of_a_good_item_is_still_a_duplicate(db, client, patient):
    # The new checks run before the replay lookup; a good item must still replay as before.
    item = sync_item("checkin", daily("ça va \N{GRINNING FACE}"))
    assert results(factories.sync_post(client, item))[0]["status"] == "created"
    assert results(factories.sync_post(client, item))[0]["status"] == "duplicate"
    (stored,) = client.get("/api/v1/checkins").json()["checkins"]
    assert stored["values"]["note"] == "ça va \N{GRINNING FACE}"
    assert uuid.UUID(stored["id"]) == uuid.UUID(item["id"])
    assert count(db, CheckIn) == 1


def test_recorded_at_inside_the_range_but_too_old_keeps_the_services_message(db, client,
                                                                           patient):
    item = sync_item("gate", gate_data(), recorded_at=utcnow() - timedelta(days=45))
    (answer,) = results(factories.sync_post(client, item))
    assert answer["status"] == "rejected"
    assert "30 days" in answer["errors"]["recorded_at"]


@pytest.mark.parametrize("when", EXTREMES[:2])
def test_an_extreme_time_in_a_correction_is_rejected_not_a_crash(db, client, patient, when):
    item = sync_item("dose_revision", {"dose_id": str(uuid.uuid4()), "reason": "Typo.",
                                       "changes": {"taken_at": when}})
    (answer,) = results(factories.sync_post(client, item))
    assert answer["status"] == "rejected"
    assert count(db, ClientWrite) == 0


@pytest.mark.parametrize("mg", ["1e-999999999", "100." + "0" * 120 + "1"])
def test_an_amount_too_fine_for_exact_arithmetic_rejects_only_its_item(db, client, patient, mg):
    """An amount whose remainder the rules' exact arithmetic cannot hold was a 500: the whole
    batch lost, and the phone's outbox stuck behind it on every retry."""
    now = utcnow().isoformat()
    good = sync_item("checkin", daily())
    bad = sync_item("dose", {"taken_at": now, "dose_mg": mg, "route": "sublingual",
                             "no_gate_reason": "Forgot."})
    first, second = results(factories.sync_post(client, good, bad))
    assert first["status"] == "created"
    assert second["status"] == "rejected", second
    assert "dose_mg" in second["errors"] and second["detail"]
    assert count(db, CheckIn) == 1 and count(db, Dose) == 0


@pytest.mark.parametrize(("recorded", "words"), [
    (timedelta(days=1), "in the future"),
    (-timedelta(days=45), "more than 30 days ago"),
    (-timedelta(hours=3), "written down before the dose was taken"),
])
def test_a_doses_recorded_time_is_checked_like_its_taken_time(db, client, patient, recorded,
                                                               words):
    """The time a phone says it wrote a dose down is the record's, and "logged late" is judged
    from it: one a day ahead, or from before the dose itself, was stored as sent, flagging a
    dose late that was not, or hiding one that was."""
    taken = utcnow() - timedelta(hours=1)
    item = sync_item("dose", {"taken_at": taken.isoformat(), "dose_mg": "100",
                              "route": "sublingual", "no_gate_reason": "Forgot."},
                     recorded_at=utcnow() + recorded if recorded > timedelta(0)
                     or recorded < -timedelta(days=1) else taken + recorded)
    (answer,) = results(factories.sync_post(client, item))
    assert answer["status"] == "rejected", answer
    assert words in answer["errors"]["recorded_at"]
    assert count(db, Dose) == 0


def test_a_dose_written_down_later_than_taken_is_kept_and_marked_late(db, client, patient):
    taken = utcnow() - timedelta(hours=3)
    item = sync_item("dose", {"taken_at": taken.isoformat(), "dose_mg": "100",
                              "route": "sublingual", "no_gate_reason": "Forgot."},
                     recorded_at=taken + timedelta(hours=2))
    (answer,) = results(factories.sync_post(client, item))
    assert answer["status"] == "created", answer
    assert "late_entry" in answer["flags"]


@pytest.mark.parametrize(("body", "spanish"), [
    ('{"items": [{"id": "a' + SURROGATE + '", "kind": "gate", "recorded_at": '
     '"2026-01-01T00:00:00+00:00", "data": {}}]}', "Este valor no es válido."),
    (json.dumps({"items": [{}] * 501}), "Envíe como máximo 500 elementos."),
    ('{"items": [', "Esto no es un JSON válido."),
])
def test_an_envelope_refused_by_the_library_reads_in_the_persons_language(db, client, auth,
                                                                          body, spanish):
    """Three envelope errors came back in the validation library's English ("List should have
    at most 500 items after validation", "JSON decode error"), to a Spanish reader too."""
    _, person, _ = factories.patient_with_protocol(db)
    person.language = "es"
    db.add(person)
    db.commit()
    auth.login(person.email)
    response = post_raw(client, body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert spanish in detail, detail
    assert "should" not in detail and "decode" not in detail
