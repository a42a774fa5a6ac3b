"""The patient's and the sitter's everyday requests cost the same whatever the record holds: the
number of SQL statements for Today, its API, Trends, History, a check-in form, a sync, the
sitter's pages and the prescriber's timeline is the same with one dose as with forty (no query
per dose or per check-in), and an ordinary signed-in request never runs the password hasher
(Argon2 is for signing in)."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import col, select

from app.accounts.models import AuthSession, Role, User
from app.accounts.service import password_hash
from app.careteam import access
from app.careteam.models import CareLink, Relation
from app.checkins.models import CheckIn, QuestionnaireResponse
from app.db import utcnow
from app.doses.models import Dose, GateCheck
from tests import factories
from tests.conftest import Auth
from tests.helpers import another_client, counted

HISTORIES = (1, 40)


def _patient_with_history(db, prescriber, caregiver, doses: int, every: timedelta):
    """A patient with a session every day at this hour and `doses` doses before now, `every`
    apart: each with its safety check, its check-ins and a daily mood, and a PHQ-9 every seventh;
    the caregiver sees doses and check-ins."""
    now = utcnow()
    patient = factories.user(db, role=Role.PATIENT)
    patient.created_at = now - timedelta(days=doses + 10)
    values = factories.session_now_protocol(
        patient, starts_on=(now - timedelta(days=doses + 5)).date().isoformat(),
        min_hours_between_doses="12", max_mg_per_24h="400", max_mg_per_7d="2000",
        sitter_required=False)
    version = factories.protocol(db, prescriber, patient, now=now - timedelta(days=doses + 6),
                                 **values)
    factories.link(db, patient, caregiver, scope=access.Scope.CHECKINS)
    for day in range(1, doses + 1):
        taken = now - every * day
        gate = GateCheck(id=uuid.uuid4(), patient_id=patient.id, protocol_version_id=version.id,
                         checked_at=taken - timedelta(minutes=5), received_at=taken,
                         systolic=122, diastolic=78, heart_rate=70,
                         checklist=dict(factories.CHECKLIST_ALL_YES), proposed_mg=Decimal(100),
                         verdict="go", reasons=[])
        dose = Dose(id=uuid.uuid4(), patient_id=patient.id, protocol_version_id=version.id,
                    gate_id=gate.id, taken_at=taken, recorded_at=taken, received_at=taken,
                    dose_mg=Decimal(100), troches=Decimal(1), route="sublingual",
                    hold_minutes=15, flags=[])
        db.add(gate)
        db.flush()
        db.add(dose)
        db.flush()
        for slot, minutes, answers in (
            ("pre", -5, {"mood": 6, "systolic": 122, "diastolic": 78, "heart_rate": 70}),
            ("plus40", 40, {"systolic": 128, "diastolic": 82, "heart_rate": 74,
                            "dissociation": 3, "sedation": 1}),
            ("daily", 300, {"mood": 6}),
        ):
            db.add(CheckIn(id=uuid.uuid4(), patient_id=patient.id, author_id=patient.id,
                           dose_id=dose.id if slot != "daily" else None, slot=slot,
                           values=answers, recorded_at=taken + timedelta(minutes=minutes),
                           received_at=taken + timedelta(minutes=minutes)))
        if day % 7 == 0:
            db.add(QuestionnaireResponse(
                id=uuid.uuid4(), patient_id=patient.id, instrument="phq9",
                answers={f"q{i}": 1 for i in range(1, 10)} | {"q9": 0}, score=8,
                band="mild", completed_at=taken, received_at=taken))
    db.flush()
    return patient


# Pages: every dose within the last day and a half (Today and the sitter's pages look at each
# session of that span). Syncs: a dose a day, so the new dose breaks no rule in either history.
RECENT = timedelta(hours=36) / (HISTORIES[-1] + 1)


@pytest.fixture(params=[RECENT, timedelta(days=1)], ids=["recent", "daily"])
def people(db, request):
    prescriber = factories.user(db, role=Role.PRESCRIBER)
    caregiver = factories.user(db, role=Role.CAREGIVER)
    patients = {n: _patient_with_history(db, prescriber, caregiver, n, request.param)
                for n in HISTORIES}
    db.commit()
    return caregiver, patients, request.param


def _requests(web, patient_id, every: timedelta):
    """The everyday requests, by name: each answers 200 (a sync also says what it did)."""
    csrf = web.get("/api/v1/me").json()["csrf_token"]

    def sync(*items):
        answer = web.post("/api/v1/sync", json={"items": list(items)},
                          headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 200, answer.text
        assert {r["status"] for r in answer.json()["results"]} == {"created"}, answer.text
        return answer

    def gate_and_dose():
        gate = factories.sync_item("gate", factories.gate_data())
        dose = factories.sync_item("dose", {"taken_at": utcnow().isoformat(), "dose_mg": "100",
                                            "route": "sublingual", "gate_id": gate["id"]})
        return sync(gate, dose)

    return {
        "patient": {
            "today": lambda: web.get("/today"),
            "today (htmx)": lambda: web.get("/today", headers={"HX-Request": "true"}),
            "api today": lambda: web.get("/api/v1/today"),
            "trends": lambda: web.get("/trends"),
            "history": lambda: web.get("/doses"),
            "check-in form": lambda: web.get("/checkins/daily"),
            "sync check-in": lambda: sync(factories.sync_item(
                "checkin", {"slot": "daily", "values": {"mood": 7}})),
            **({"sync gate and dose": gate_and_dose} if every >= timedelta(days=1) else {}),
        },
        "caregiver": {
            "supporting": lambda: web.get("/supporting"),
            "supporting patient": lambda: web.get(f"/supporting/{patient_id}"),
            "session": lambda: web.get(f"/supporting/{patient_id}/session"),
        },
        "prescriber": {
            # Its fortnight holds every dose of the recent history, or 14 of the daily one.
            "timeline": lambda: web.get(f"/patients/{patient_id}"),
        },
    }


def _counts(email: str, role: str, patient_id, every: timedelta) -> dict[str, int]:
    with another_client() as web:
        assert Auth(web).login(email).status_code == 303
        counts = {}
        for name, call in _requests(web, patient_id, every)[role].items():
            with counted() as seen:
                answer = call()
            assert answer.status_code == 200, (name, answer.text[:300])
            counts[name] = len(seen)
        return counts


def test_a_patients_everyday_requests_do_not_grow_with_their_history(people):
    _caregiver, patients, every = people
    small, large = (_counts(patients[n].email, "patient", patients[n].id, every)
                    for n in HISTORIES)
    assert large == small


def test_a_sitters_pages_do_not_grow_with_the_patients_history(people):
    caregiver, patients, every = people
    small, large = (_counts(caregiver.email, "caregiver", patients[n].id, every)
                    for n in HISTORIES)
    assert large == small


def test_a_prescribers_timeline_does_not_grow_with_the_patients_history(db, people):
    """Each dose on the timeline has its session card: read for all of them at once."""
    _caregiver, patients, every = people
    prescriber = db.exec(select(User).join(CareLink, col(CareLink.member_id) == col(User.id))
                         .where(CareLink.patient_id == patients[HISTORIES[0]].id,
                                CareLink.relation == Relation.PRESCRIBER)).one()
    small, large = (_counts(prescriber.email, "prescriber", patients[n].id, every)
                    for n in HISTORIES)
    # Not one more with forty doses. The page's list flags read a patient's latest two PHQ-9s
    # from the recent ones, and from all of theirs only when there are fewer than two (the
    # list's own bounded fallback, app/clinic/flags.py): one statement more for the short
    # history, which has none.
    assert large["timeline"] <= small["timeline"] <= large["timeline"] + 1, (small, large)


def test_ordinary_signed_in_requests_never_run_the_password_hasher(people, monkeypatch):
    """Argon2 is deliberately slow: it runs to sign in, never to recognise a session."""
    caregiver, patients, every = people
    calls: list[str] = []
    for method in ("hash", "verify", "verify_and_update"):
        real = getattr(password_hash, method)
        monkeypatch.setattr(password_hash, method,
                            lambda *a, _real=real, _name=method, **k:
                            calls.append(_name) or _real(*a, **k))
    patient = patients[HISTORIES[-1]]
    for email, role in ((patient.email, "patient"), (caregiver.email, "caregiver")):
        with another_client() as web:
            assert Auth(web).login(email).status_code == 303
            assert calls, "signing in verifies the password"
            calls.clear()
            for name, call in _requests(web, patient.id, every)[role].items():
                assert call().status_code == 200, name
            assert web.get("/api/v1/me").status_code == 200
            assert calls == [], role


def test_a_page_view_notes_the_session_as_seen_only_as_it_ends(db, people):
    """Noting the session as seen is a write: done first, it would hold SQLite's only write lock
    (every other writer waiting) while the page is read and rendered. It comes last, and sticks."""
    _caregiver, patients, _every = people
    patient = patients[HISTORIES[-1]]
    with another_client() as web:
        assert Auth(web).login(patient.email).status_code == 303
        auth = db.exec(select(AuthSession).where(AuthSession.user_id == patient.id)).one()
        auth.last_seen_at = utcnow() - timedelta(minutes=30)
        db.add(auth)
        db.commit()
        with counted() as seen:
            assert web.get("/today").status_code == 200
    words = [statement.split()[0].upper() for statement in seen]
    writes = [n for n, word in enumerate(words) if word in ("INSERT", "UPDATE", "DELETE")]
    assert [seen[n].split()[1] for n in writes] == ["auth_sessions"]
    assert writes[0] > max(n for n, word in enumerate(words) if word == "SELECT")
    db.expire_all()
    assert db.get(AuthSession, auth.id).last_seen_at > utcnow() - timedelta(minutes=1)


def _locks(seen: list[str]) -> list[str]:
    return [s for s in seen if "pg_advisory_xact_lock" in s or "SET id = id WHERE 0" in s]


def test_a_sync_batch_locks_the_patient_and_reads_the_protocol_once(people):
    """Each item runs in a savepoint of its own; the patient's write lock taken for the first
    item is held to the end of the transaction, and the protocol read for it serves the rest.
    The next request takes the lock again."""
    _caregiver, patients, _every = people
    patient = patients[HISTORIES[0]]
    with another_client() as web:
        assert Auth(web).login(patient.email).status_code == 303
        csrf = web.get("/api/v1/me").json()["csrf_token"]
        gate = factories.sync_item("gate", factories.gate_data())
        items = [gate, factories.sync_item("dose", {
            "taken_at": utcnow().isoformat(), "dose_mg": "100", "route": "sublingual",
            "gate_id": gate["id"], "override_reason": "as planned", "already_taken": True}),
            factories.sync_item("checkin", {"slot": "daily", "values": {"mood": 7}})]
        with counted() as seen:
            answer = web.post("/api/v1/sync", json={"items": items},
                              headers={"X-CSRF-Token": csrf})
        with counted() as next_request:
            assert factories.sync_post(web, factories.sync_item(
                "checkin", {"slot": "daily", "values": {"mood": 6}})).status_code == 200
    assert len(_locks(seen)) == 1 and len(_locks(next_request)) == 1, (seen, next_request)
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == ["created"] * 3, answer.text
    protocol_reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")
                      and "FROM protocol_versions" in s]
    assert len(protocol_reads) == 1, protocol_reads
