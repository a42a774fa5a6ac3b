"""Apply client writes idempotently: the one write path for the offline queue and the forms.

Each item carries the client's UUID. The first time, the write is applied and remembered with
a hash of its content; a replay with the same content is a `duplicate` and writes nothing; the
same id with other content is `rejected`. Each item runs in its own savepoint, so one bad item
never undoes the others, and a concurrent replay that loses the race reads the winner's result.
"""

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.accounts.models import User
from app.checkins import service as checkins
from app.doses import service as doses
from app.errors import AppError
from app.i18n import gettext as _
from app.sync.ids import parse_client_id
from app.sync.models import ClientWrite


class SyncItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    kind: str
    recorded_at: AwareDatetime
    data: dict[str, Any]


def content_hash(item: SyncItem) -> str:
    canonical = json.dumps(
        {"kind": item.kind, "recorded_at": item.recorded_at.astimezone(UTC).isoformat(),
         "data": item.data},
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- handlers: one per kind; each returns the result fields beyond id and status -------------

Handler = Callable[[Session, User, SyncItem, datetime], dict[str, Any]]


def _gate(session: Session, patient: User, item: SyncItem, now: datetime) -> dict[str, Any]:
    gate = doses.record_gate(session, patient=patient, gate_id=item.id,
                             checked_at=item.recorded_at.astimezone(UTC), data=item.data, now=now)
    return {"verdict": gate.verdict, "reasons": gate.reasons}


def _dose(session: Session, patient: User, item: SyncItem, now: datetime) -> dict[str, Any]:
    dose = doses.record_dose(session, patient=patient, dose_id=item.id,
                             recorded_at=item.recorded_at.astimezone(UTC), data=item.data,
                             now=now)
    return {"flags": dose.flags, "troches": str(dose.troches)}


def _fill(session: Session, patient: User, item: SyncItem, now: datetime) -> dict[str, Any]:
    entry = doses.record_fill(session, patient=patient, entry_id=item.id, data=item.data, now=now)
    return {"flags": entry.flags}


def _count(session: Session, patient: User, item: SyncItem, now: datetime) -> dict[str, Any]:
    entry = doses.record_count(session, patient=patient, entry_id=item.id, data=item.data,
                               now=now)
    return {"flags": entry.flags, "expected": str(entry.expected_balance),
            "difference": str(entry.count - (entry.expected_balance or 0))}


def _checkin(session: Session, patient: User, item: SyncItem, now: datetime) -> dict[str, Any]:
    checkin = checkins.record_checkin(session, patient=patient, author=patient,
                                      checkin_id=item.id,
                                      recorded_at=item.recorded_at.astimezone(UTC),
                                      data=item.data, now=now)
    return {"flags": checkin.flags}


def _questionnaire(session: Session, patient: User, item: SyncItem,
                   now: datetime) -> dict[str, Any]:
    response = checkins.record_questionnaire(session, patient=patient, response_id=item.id,
                                             completed_at=item.recorded_at.astimezone(UTC),
                                             data=item.data, now=now)
    result: dict[str, Any] = {"score": response.score, "band": response.band,
                              "follow_up": response.follow_up}
    if response.instrument == "cssrs":
        result["risk"] = response.risk
        result["crisis"] = response.risk == "high"
    return result


HANDLERS: dict[str, Handler] = {
    "gate": _gate,
    "dose": _dose,
    "ledger_fill": _fill,
    "ledger_count": _count,
    "checkin": _checkin,
    "questionnaire": _questionnaire,
}


def _replay(existing: ClientWrite, item: SyncItem, digest: str, patient: User) -> dict[str, Any]:
    if existing.content_hash == digest and existing.patient_id == patient.id:
        return {**existing.result, "id": str(item.id), "status": "duplicate"}
    return {"id": str(item.id), "status": "rejected", "code": "id_conflict",
            "detail": _("This id was already used for a different entry.")}


def _take_write_lock(session: Session) -> None:
    """SQLite: make a write the first statement of the transaction, before anything is read.

    pysqlite opens a transaction only at the first write (or, here, at the SAVEPOINT below),
    so the handler's reads would pin a snapshot and its first INSERT would then have to upgrade
    to the write lock; when another request wrote in between, SQLite refuses that upgrade at
    once with "database is locked" (no busy wait), a 500 for concurrent replays. A write first
    waits for the lock properly (busy_timeout) and reads the latest data. Once the transaction
    holds the lock this is a no-op. PostgreSQL needs none of this.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.execute(text("UPDATE client_writes SET id = id WHERE 0"))


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def apply_form(session: Session, *, user: User, client_id: str, kind: str, data: dict,
               now: datetime) -> dict[str, Any]:
    """A patient's HTML form, written through the same path as the offline queue.

    A form sent twice (double tap, Back and resubmit) carries the same client id but arrives
    at another time: the repeat keeps the first submission's time, so it is a `duplicate` that
    redirects like the first (to the crisis screen, say), not an id conflict shown as an error.
    """
    item_id = parse_client_id(client_id)
    earlier = session.get(ClientWrite, item_id)
    same_form = earlier is not None and earlier.patient_id == user.id and earlier.kind == kind
    item = SyncItem(id=item_id, kind=kind, recorded_at=earlier.recorded_at if same_form else now,
                    data=data)
    return apply(session, author=user, patient=user, item=item, now=now)


def apply(session: Session, *, author: User, patient: User, item: SyncItem,
          now: datetime) -> dict[str, Any]:
    """Apply one item and say what happened: created, duplicate or rejected."""
    digest = content_hash(item)
    _take_write_lock(session)
    existing = session.get(ClientWrite, item.id)
    if existing is not None:
        return _replay(existing, item, digest, patient)
    if _has_nul(item.data):
        # PostgreSQL cannot store NUL in text and no person types one (forms are refused the
        # same way in the CSRF check).
        return {"id": str(item.id), "status": "rejected", "code": "unsavable_text",
                "detail": _("The entry contains a character that cannot be saved.")}
    handler = HANDLERS.get(item.kind)
    if handler is None:
        return {"id": str(item.id), "status": "rejected", "code": "unknown_kind",
                "detail": _("Unknown kind: %(kind)s.", kind=item.kind)}
    try:
        with session.begin_nested():
            result = handler(session, patient, item, now)
            session.add(ClientWrite(id=item.id, patient_id=patient.id, author_id=author.id,
                                    kind=item.kind, content_hash=digest,
                                    recorded_at=item.recorded_at.astimezone(UTC),
                                    received_at=now, result=result))
            session.flush()
    except AppError as err:
        rejected: dict[str, Any] = {"id": str(item.id), "status": "rejected",
                                    "detail": err.message}
        if getattr(err, "errors", None):
            rejected["errors"] = err.errors
        if isinstance(err, doses.DoseRefused):
            rejected["reasons"] = err.reasons
        return rejected
    except IntegrityError:
        # Another request wrote this id first; what it wrote decides the answer.
        winner = session.get(ClientWrite, item.id)
        if winner is None:
            return {"id": str(item.id), "status": "rejected", "code": "id_conflict",
                    "detail": _("This id was already used for a different entry.")}
        return _replay(winner, item, digest, patient)
    return {**result, "id": str(item.id), "status": "created"}
