"""Each kind the phone writes, sent with one field at a time missing or set to a value of the
wrong sort (nothing, a number past any limit, a list where a number goes, a time without its
zone, text far too long): the batch is answered item by item, never with a 5xx, and what the
item's rejection says is our own plain wording, since the outbox shows it to the person
("systolic: Input should be a valid integer" was the validation library's English).
"""

import copy
from collections.abc import Iterator

import pytest

from app.db import utcnow
from app.seed import DEMO_PASSWORD
from tests import factories
from tests.helpers import LIBRARY_WORDING

ODD = (None, "", "1e308", 10**30, -1, "x" * 3000, [], {}, True, "2026-12-04T10:00:00", "sNaN")


def _variants(data: dict) -> Iterator[tuple[str, dict]]:
    """`data` with one field (or one entry of a nested object or list) odd or missing."""
    for key, value in data.items():
        without = copy.deepcopy(data)
        del without[key]
        yield f"{key} missing", without
        for odd in ODD:
            yield f"{key}={odd!r:.20}", {**copy.deepcopy(data), key: odd}
        inner = value.items() if isinstance(value, dict) else enumerate(value) \
            if isinstance(value, list) else ()
        for name, _ in inner:
            for odd in ODD:
                changed = copy.deepcopy(data)
                changed[key][name] = odd
                yield f"{key}.{name}={odd!r:.20}", changed


@pytest.fixture
def patient_client(demo, auth, client):
    assert auth.login("patient@demo.test", DEMO_PASSWORD).status_code == 303
    return client


def _sender(client):
    """POST /api/v1/sync with the session's token: the batch's results, never a 5xx."""
    csrf = client.get("/api/v1/me").json()["csrf_token"]

    def sync(*items):
        response = client.post("/api/v1/sync", json={"items": list(items)},
                               headers={"X-CSRF-Token": csrf})
        assert response.status_code == 200, response.text
        return response.json()["results"]

    return sync


def _checked_and_dosed(sync) -> tuple[dict, dict]:
    """The demo's session is due: a safety check and its dose, for the kinds that refer to
    them."""
    gate = factories.sync_item("gate", factories.gate_data())
    dose = factories.sync_item("dose", {"taken_at": utcnow().isoformat(), "dose_mg": "150",
                                        "route": "sublingual", "gate_id": gate["id"]})
    assert [r["status"] for r in sync(gate, dose)] == ["created", "created"]
    return gate, dose


def test_every_kind_answers_odd_fields_item_by_item_in_plain_words(patient_client):
    sync = _sender(patient_client)
    gate, dose = _checked_and_dosed(sync)
    now = utcnow()
    examples = {
        "gate": factories.gate_data(),
        "dose": {"taken_at": now.isoformat(), "dose_mg": "150", "route": "sublingual",
                 "gate_id": gate["id"], "override_reason": "Felt fine.", "already_taken": True,
                 "lot": "K1", "hold_minutes": 15, "swallowed": False},
        "dose_revision": {"dose_id": dose["id"], "reason": "Half crumbled.",
                          "changes": {"dose_mg": "100", "taken_at": now.isoformat()}},
        "dose_entered_in_error": {"dose_id": dose["id"], "reason": "Wrong day."},
        "ledger_fill": {"filled_on": now.date().isoformat(), "count": 12, "strength_mg": "100",
                        "pharmacy": "Eastside"},
        "ledger_count": {"counted_at": now.isoformat(), "count": "3"},
        "checkin": {"slot": "daily", "values": {"mood": 7, "note": "ok"}},
        "questionnaire": {"instrument": "gad7", "answers": [1, 1, 1, 1, 1, 1, 0]},
    }
    problems = []
    for kind, data in examples.items():
        for where, changed in _variants(data):
            (answer,) = sync(factories.sync_item(kind, changed))
            if answer["status"] not in ("created", "rejected"):
                problems.append((kind, where, answer["status"]))
            elif answer["status"] == "rejected" and not answer.get("detail"):
                problems.append((kind, where, "rejected without a word"))
            elif wording := LIBRARY_WORDING.search(str(answer)):
                problems.append((kind, where, wording.group(0), answer.get("errors")))
    assert problems == [], "\n".join(map(str, problems))


# What the validation library reads as a number and nobody types as one: Python's literal
# underscores ("1_00" was saved as 100 mg), an exponent ("1e3" was a count of 1000 troches),
# true (a fill of `true` troches was one troche) and a
# signalling NaN (a correction to "sNaN" was a 500 that failed its whole batch, again on every
# retry of the outbox).
UNMEANT = ("1_00", " 1_5 ", True, "sNaN", "-sNaN", "1e3", "5E0")


def test_numbers_nobody_types_are_refused_beside_their_field(patient_client):
    sync = _sender(patient_client)
    gate, dose = _checked_and_dosed(sync)
    now = utcnow()
    cases = [
        ("gate", {**factories.gate_data(), "systolic": "odd"}, "systolic"),
        ("dose", {"taken_at": now.isoformat(), "dose_mg": "odd", "route": "sublingual",
                  "gate_id": gate["id"]}, "dose_mg"),
        ("dose", {"taken_at": now.isoformat(), "dose_mg": "150", "route": "sublingual",
                  "gate_id": gate["id"], "hold_minutes": "odd"}, "hold_minutes"),
        ("dose_revision", {"dose_id": dose["id"], "reason": "Typo.",
                           "changes": {"dose_mg": "odd"}}, "dose_mg"),
        ("ledger_fill", {"filled_on": now.date().isoformat(), "count": "odd",
                         "strength_mg": "100"}, "count"),
        ("ledger_fill", {"filled_on": now.date().isoformat(), "count": 12,
                         "strength_mg": "odd"}, "strength_mg"),
        ("ledger_count", {"counted_at": now.isoformat(), "count": "odd"}, "count"),
    ]
    problems = []
    for kind, data, field in cases:
        for unmeant in UNMEANT:
            changed = copy.deepcopy(data)
            holder = changed["changes"] if kind == "dose_revision" else changed
            holder[field] = unmeant
            # Beside a good item: the batch is answered item by item, the good one saved.
            good = factories.sync_item("checkin", {"slot": "daily", "values": {"mood": 6}})
            answer, other = sync(factories.sync_item(kind, changed), good)
            if answer["status"] != "rejected" or field not in str(answer.get("errors")):
                problems.append((kind, field, unmeant, answer))
            if other["status"] != "created":
                problems.append(("the good item beside it", other))
    assert problems == [], "\n".join(map(str, problems))
