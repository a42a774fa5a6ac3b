"""Every query the busiest requests make is served by an index on the tables that grow with time.

The SQL statements of the patient's Today, History, Trends and syncs (a safety check, a dose, a
check-in; a correction, a count, a PHQ-9 and a high-risk C-SSRS), of the prescriber's patient
list and one patient's timeline, and of the caregiver's pages and checklist, are captured as the app
sends them, then explained on the same database with the same parameters. SQLite: EXPLAIN
QUERY PLAN must not `SCAN` a big table without an index. PostgreSQL: with sequential scans
discouraged (`SET LOCAL enable_seqscan = off`, so the planner picks any index it can use
whatever the table's size today), EXPLAIN must not show a `Seq Scan` on a big table. A failure
names the request, the table and the statement. Plans, never timings.
"""

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event

from app.db import engine, utcnow
from app.seed import DEMO_PASSWORD
from tests import factories
from tests.conftest import IS_POSTGRES

# Tables that grow with time (every dose, check-in, request, reminder …), not with the number
# of people alone.
BIG = frozenset({
    "doses", "gate_checks", "dose_revisions", "checkins", "questionnaire_responses",
    "safety_events", "ledger_entries", "audit_events", "client_writes", "alerts",
    "reminder_occurrences", "push_deliveries", "push_attempts", "auth_sessions",
    "auth_challenges", "login_failures", "flag_reviews", "protocol_versions",
})
_SQLITE_SCAN = re.compile(r"^SCAN (\w+)(?: AS \w+)?$")
_PG_SEQ = re.compile(r"Seq Scan on (\w+)")


@contextmanager
def captured() -> Iterator[list[tuple[str, object]]]:
    """(statement, parameters) of every single statement sent while the block runs."""
    seen: list[tuple[str, object]] = []
    lock = threading.Lock()

    def _keep(_conn, _cursor, statement, parameters, _context, executemany) -> None:
        if not executemany:
            with lock:
                seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", _keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _keep)


_NO_ROW = re.compile(r"WHERE 0(\s*=\s*1)?\s*$")


def _explainable(statement: str) -> bool:
    head = statement.lstrip().split(None, 1)[0].upper()
    # INSERTs go by primary key or append. SQLite's write-lock statements touch no row
    # (`UPDATE audit_events SET seq = seq WHERE 0 = 1`).
    return head in {"SELECT", "UPDATE", "DELETE", "WITH"} and not _NO_ROW.search(statement)


def full_scans(statement: str, parameters) -> set[str]:
    """The big tables the database would read in full to answer the statement."""
    with engine.connect() as conn:
        if IS_POSTGRES:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = "\n".join(r[0] for r in conn.exec_driver_sql(
                "EXPLAIN " + statement, parameters))
            found = set(_PG_SEQ.findall(plan))
        else:
            found = set()
            for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters):
                match = _SQLITE_SCAN.match(row[-1])
                if match:
                    found.add(match.group(1))
        conn.rollback()
    return found & BIG


def _check(requests: dict[str, Callable[[], object]]) -> list[str]:
    problems = []
    for name, send in requests.items():
        with captured() as seen:
            response = send()
        assert response.status_code == 200, (name, response.status_code)
        done: set[str] = set()
        for statement, parameters in seen:
            if statement in done or not _explainable(statement):
                continue
            done.add(statement)
            for table in sorted(full_scans(statement, parameters)):
                problems.append(f"{name}: reads all of {table}: {' '.join(statement.split())}")
    return problems


def test_the_patients_pages_and_sync_use_indexes(demo, client, auth):
    assert auth.login("patient@demo.test", DEMO_PASSWORD).status_code == 303
    csrf = client.get("/api/v1/me").json()["csrf_token"]

    def sync():
        # The demo's session is due: a safety check, the dose it clears, a mood check-in.
        gate = factories.sync_item("gate", factories.gate_data())
        dose = factories.sync_item("dose", {"taken_at": utcnow().isoformat(), "dose_mg": "150",
                                            "route": "sublingual", "gate_id": gate["id"]})
        checkin = factories.sync_item("checkin", {"slot": "daily", "values": {"mood": 7}})
        answer = client.post("/api/v1/sync", json={"items": [gate, dose, checkin]},
                             headers={"X-CSRF-Token": csrf})
        assert [r["status"] for r in answer.json()["results"]] == ["created"] * 3, answer.text
        made["dose"] = dose["id"]
        return answer

    def sync_more():
        # The record's other writes: a correction, a count, a PHQ-9 whose item 9 leads to a
        # C-SSRS that screens high (a safety event, its alerts and the dosing hold).
        revision = factories.sync_item("dose_revision", {
            "dose_id": made["dose"], "reason": "Half crumbled.", "changes": {"dose_mg": "100"}})
        error = factories.sync_item("dose_entered_in_error", {
            "dose_id": made["dose"], "reason": "Logged on the wrong day."})
        count = factories.sync_item("ledger_count", {"counted_at": utcnow().isoformat(),
                                                     "count": "3"})
        phq9 = factories.sync_item("questionnaire", {"instrument": "phq9",
                                                     "answers": [1, 1, 1, 1, 1, 1, 1, 1, 1]})
        cssrs = factories.sync_item("questionnaire", {
            "instrument": "cssrs", "follows_id": phq9["id"],
            "answers": [True, True, False, True, False, False, None]})
        answer = client.post("/api/v1/sync", json={"items": [revision, error, count, phq9,
                                                             cssrs]},
                             headers={"X-CSRF-Token": csrf})
        results = answer.json()["results"]
        assert [r["status"] for r in results] == ["created"] * 5, answer.text
        assert results[-1]["crisis"] is True
        return answer

    made: dict[str, str] = {}

    problems = _check({
        "Today": lambda: client.get("/today"),
        "Today (htmx)": lambda: client.get("/today", headers={"HX-Request": "true"}),
        "API today": lambda: client.get("/api/v1/today"),
        "History": lambda: client.get("/doses"),
        "Trends": lambda: client.get("/trends"),
        "Sync": sync,
        "Sync, the record's other writes": sync_more,
    })
    assert not problems, "\n".join(problems)


def test_the_prescribers_pages_use_indexes(demo, client, auth):
    patient = demo["patient@demo.test"]
    assert auth.login("prescriber@demo.test", DEMO_PASSWORD).status_code == 303
    problems = _check({
        "Patient list": lambda: client.get("/patients"),
        "Patient list (API)": lambda: client.get("/api/v1/patients"),
        "Timeline": lambda: client.get(f"/patients/{patient.id}"),
        "Timeline, older": lambda: client.get(f"/patients/{patient.id}?days=42&until="
                                              f"{(utcnow().date()).replace(day=1)}"),
        "Alerts": lambda: client.get("/alerts"),
    })
    assert not problems, "\n".join(problems)


def test_the_caregivers_pages_use_indexes(demo, client, auth):
    patient = demo["patient@demo.test"]
    assert auth.login("caregiver@demo.test", DEMO_PASSWORD).status_code == 303
    csrf = client.get("/api/v1/me").json()["csrf_token"]

    def co_sign():
        item = factories.sync_item("sitter_checkin", {
            "patient_id": str(patient.id), "slot": "sitter_check",
            "values": {"sitter_present": True, "bp_taken": True, "safe_place": True,
                       "no_driving": True}})
        answer = client.post("/api/v1/sync", json={"items": [item]},
                             headers={"X-CSRF-Token": csrf})
        assert answer.json()["results"][0]["status"] == "created", answer.text
        return answer

    problems = _check({
        "Supporting": lambda: client.get("/supporting"),
        "Supporting a patient": lambda: client.get(f"/supporting/{patient.id}"),
        "Session checklist": lambda: client.get(f"/supporting/{patient.id}/session"),
        "Alerts": lambda: client.get("/alerts"),
        "The sitter's checklist (sync)": co_sign,
    })
    assert not problems, "\n".join(problems)


def test_the_check_sees_a_full_scan(db):
    """The check itself: a filter on a column no index leads with is a full read."""
    assert full_scans("SELECT id FROM checkins WHERE slot = 'daily'", {}) == {"checkins"}
    assert full_scans("SELECT id FROM users WHERE display_name = 'x'", {}) == set()  # not big
