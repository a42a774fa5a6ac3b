"""No health value ever reaches a log line or a push payload.

Canary values are planted in every health field through the normal writes (names, dose amount,
lot, prescription number and reason, blood pressure and pulse, check-in notes, side effects,
questionnaire answers), then the error paths run: validation errors (API and forms), CSRF
refusals, 404s, a real database error carrying the canaries as parameters, a database error
raised from inside a write, and a crash whose message holds a canary. Everything logged (the
app's, uvicorn's and SQLAlchemy's loggers, the access log, stderr) and every push payload the
fake push service decrypted is searched for the canaries.
"""

import io
import logging
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.alerts.models import Alert
from app.db import utcnow
from app.push import service as subscriptions
from app.reminders import dispatcher
from app.reminders.models import ReminderOccurrence
from tests import factories, figures
from tests.factories import gate_data, sync_item

TAG = uuid.uuid4().hex[:6]
TEXT_CANARIES = {
    "patient name": f"Canarypatient{TAG}",
    "caregiver name": f"Canarycaregiver{TAG}",
    "no-gate reason": f"canary-reason-{TAG}",
    "lot": f"CLOT{TAG}",
    "rx number": f"CRX{TAG}",
    "check-in note": f"canary-note-{TAG}",
    "side-effect note": f"canary-effect-{TAG}",
    "correction reason": f"canary-correction-{TAG}",
    "error message": f"canary-crash-{TAG}",
}
# Numbers, searched as whole tokens (not inside ids or timings).
NUMBER_CANARIES = {"dose mg": "150", "systolic": "187", "diastolic": "119",
                   "heart rate": "143"}
LOGGERS = ("trochelog", "trochelog.access", "uvicorn", "uvicorn.error", "uvicorn.access",
           "app", "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "")


def hits(output: str) -> list[str]:
    found = [name for name, value in TEXT_CANARIES.items() if value.lower() in output.lower()]
    for name, value in NUMBER_CANARIES.items():
        if re.search(rf"(?<![\w.:-]){re.escape(value)}(?![\w.:-]|ms)", output):
            found.append(name)
    return found


@pytest.fixture
def captured():
    """Every record of every logger that matters, at DEBUG (SQLAlchemy at INFO: that is
    `echo=True`, statements and their parameters; its DEBUG adds result rows by design, and
    must never be switched on with real data)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    # The test's own HTTP client logs the URLs it requests (one holds a canary on purpose).
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "urllib3")))
    saved = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        level = logging.INFO if name.startswith("sqlalchemy") else logging.DEBUG
        logger.setLevel(level)
        if name in ("", "trochelog", "uvicorn", "sqlalchemy"):
            logger.addHandler(handler)
    yield stream
    for logger, level in saved:
        logger.setLevel(level)
        if handler in logger.handlers:
            logger.removeHandler(handler)


def plant(db, auth, client, push_service):
    """The clinic, its canaries, and a device for each person."""
    prescriber = factories.user(db, role="prescriber")
    patient = factories.user(db, display_name=TEXT_CANARIES["patient name"])
    caregiver = factories.user(db, role="caregiver",
                               display_name=TEXT_CANARIES["caregiver name"])
    factories.protocol(db, prescriber, patient)
    factories.link(db, patient, caregiver)
    for person in (prescriber, patient, caregiver):
        info = push_service.subscription(uuid.uuid4().hex)
        subscriptions.subscribe(db, user=person, endpoint=info["endpoint"],
                                p256dh=info["keys"]["p256dh"], auth=info["keys"]["auth"],
                                name="Phone", auth_session_id=None, now=utcnow())
    db.commit()
    assert auth.login(patient.email).status_code == 303
    now = utcnow()
    dose = sync_item("dose", {
        "taken_at": (now - timedelta(minutes=50)).isoformat(), "dose_mg": "150",
        "route": "sublingual", "no_gate_reason": TEXT_CANARIES["no-gate reason"],
        "lot": TEXT_CANARIES["lot"], "rx_number": TEXT_CANARIES["rx number"]})
    items = [
        sync_item("gate", gate_data(systolic=187, diastolic=119, heart_rate=143)),
        dose,
        sync_item("checkin", {"slot": "daily", "values": {
            "mood": 2, "note": TEXT_CANARIES["check-in note"]}}),
        sync_item("checkin", {"slot": "plus40", "dose_id": dose["id"], "values": {
            "systolic": 187, "diastolic": 119, "heart_rate": 143, "nausea": "severe",
            "note": TEXT_CANARIES["side-effect note"]}}),
        sync_item("questionnaire", {"instrument": "phq9", "answers": [3, 3, 3, 3, 3, 3, 3, 3, 2]}),
    ]
    results = factories.sync_post(client, *items).json()["results"]
    revision = sync_item("dose_revision", {
        "dose_id": dose["id"], "reason": TEXT_CANARIES["correction reason"],
        "changes": {"lot": TEXT_CANARIES["lot"] + "b"}})
    results += factories.sync_post(client, revision).json()["results"]
    created = [r for r in results if r["status"] == "created"]
    assert len(created) >= 5, [(r["status"], r.get("detail"), r.get("errors")) for r in results]
    return prescriber, patient, caregiver, uuid.UUID(dose["id"])


def error_paths(db, auth, client, monkeypatch, patient, dose_id) -> None:
    note = TEXT_CANARIES["check-in note"]
    token = client.get("/api/v1/me").json()["csrf_token"]
    # Validation errors: an item, an envelope, a form.
    factories.sync_post(client, sync_item("dose", {"dose_mg": "abc", "taken_at": "x",
                                                   "no_gate_reason": note}))
    client.post("/api/v1/sync", json={"items": [], note: 1}, headers={"X-CSRF-Token": token})
    client.post("/api/v1/sync", content=f'{{"items": [{note}'.encode(),
                headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    auth.post("/checkins/daily", {"client_id": str(uuid.uuid4()), "mood": "zz", "note": note})
    auth.post("/today/dose", {"dose_client_id": str(uuid.uuid4()), "dose_mg": "-1",
                              "route": "sublingual", "taken_at": "2026-13-45T99:99",
                              "no_gate_reason": note})
    # CSRF refusals: no token, a wrong one, another site.
    client.post("/checkins/daily", data={"mood": "5", "note": note})
    client.post("/api/v1/sync", json={"items": [sync_item("checkin", {
        "slot": "daily", "values": {"note": note}})]}, headers={"X-CSRF-Token": "wrong"})
    client.post("/checkins/daily", data={"mood": "5", "note": note, "csrf_token": token},
                headers={"Sec-Fetch-Site": "cross-site"})
    # 404s, with a canary where a careless handler might echo it.
    client.get(f"/api/v1/patients/{uuid.uuid4()}/export")
    client.get(f"/no/such/page/{note}")
    auth.post(f"/doses/{uuid.uuid4()}/correct", {"reason": note})
    # A real database error whose parameters are the canaries (the text column is too small
    # on PostgreSQL, and the id is not a UUID for either database).
    from app.doses import service as doses

    real = doses.record_dose

    def database_error(session, **kwargs):
        session.execute(text("INSERT INTO doses (id, patient_id, dose_mg) VALUES (:a, :b, :c)"),
                        {"a": note, "b": TEXT_CANARIES["lot"], "c": "150"})
        return real(session, **kwargs)

    monkeypatch.setattr(doses, "record_dose", database_error)
    factories.sync_post(client, sync_item("dose", {
        "taken_at": utcnow().isoformat(), "dose_mg": "150", "route": "sublingual",
        "no_gate_reason": TEXT_CANARIES["no-gate reason"]}))
    auth.post("/today/dose", {"dose_client_id": str(uuid.uuid4()), "dose_mg": "150",
                              "route": "sublingual", "taken_at": "",
                              "no_gate_reason": TEXT_CANARIES["no-gate reason"]})

    # An IntegrityError raised from inside a write, carrying the canaries.
    def integrity_error(*_args, **_kwargs):
        raise IntegrityError("INSERT INTO checkins (note) VALUES (?)", {"note": note},
                             Exception(f"UNIQUE constraint failed: {note}"))

    from app.checkins import service as checkins

    monkeypatch.setattr(checkins, "record", integrity_error, raising=False)
    monkeypatch.setattr(doses, "record_dose", integrity_error)
    factories.sync_post(client, sync_item("dose", {
        "taken_at": utcnow().isoformat(), "dose_mg": "150", "route": "sublingual"}))
    # A crash whose message holds a canary, on a page and in the API.
    from app.careteam import access

    def crash(*_args, **_kwargs):
        raise RuntimeError(TEXT_CANARIES["error message"] + " " + note)

    monkeypatch.setattr(access, "require_patient_access", crash)
    monkeypatch.setattr(access, "readable_patients", crash)
    client.get("/today")
    client.get("/api/v1/doses")
    client.get("/api/v1/patients")

    # A real database error nobody catches (a 500), its parameters the canaries.
    def database_crash(session, *_args, **_kwargs):
        session.execute(text("INSERT INTO doses (id, lot) VALUES (:a, :b)"),
                        {"a": note, "b": TEXT_CANARIES["lot"]})

    monkeypatch.setattr(access, "require_patient_access", database_crash)
    assert client.get("/api/v1/doses").status_code == 500
    monkeypatch.undo()


def test_no_canary_in_logs_or_push_payloads(db, auth, client, monkeypatch, push_service,
                                           captured, capfd):
    prescriber, patient, caregiver, dose_id = plant(db, auth, client, push_service)
    error_paths(db, auth, client, monkeypatch, patient, dose_id)

    # Push: a reminder, an alert about this patient, and a test, to every device.
    now = utcnow()
    alert = Alert(patient_id=patient.id, kind="bp_emergency", source_id=uuid.uuid4(),
                  raised_at=now)
    db.add(alert)
    db.flush()
    for person, kind, subject in ((patient, "mood", None), (prescriber, "alert", alert.id),
                                  (caregiver, "alert", alert.id), (patient, "test", None)):
        db.add(ReminderOccurrence(
            user_id=person.id, patient_id=patient.id, kind=kind,
            rule=f"{kind}:{uuid.uuid4()}", local_time="2026-12-01T09:00", due_at=now,
            send_at=now, url="/today", subject_id=subject, created_at=now))
    db.commit()
    dispatcher.run_once()
    received = push_service.received
    assert len(received) >= 4 and push_service.errors == []

    logs = captured.getvalue()
    out, err = capfd.readouterr()
    everything = "\n".join([logs, out, err])
    # The capture really saw the requests, the database errors and the crashes.
    assert "POST /api/v1/sync" in everything
    assert "unhandled RuntimeError" in everything
    assert re.search(r"unhandled (IntegrityError|DataError) on GET", everything)
    payloads = "\n".join(repr(r.payload) + repr(getattr(r, "body", "")) for r in received)
    found = hits(everything) + hits(payloads)
    figures.add("log canary hits", len(found))
    figures.add("log canary paths run", 1)
    lines = [line for line in everything.splitlines() + payloads.splitlines() if hits(line)]
    assert not found, f"canaries found: {found}\n" + "\n".join(lines[:10])
