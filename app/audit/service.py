"""Writing the audit trail: one `record` for everything, inside the caller's transaction.

An entry is written in the same transaction as what it records (no export without its entry),
and takes the next place in the chain under a lock that serialises writers until their commit:
PostgreSQL's transaction-level advisory lock; on SQLite, the database's single write lock, taken
by a statement that writes nothing. A denial is different: the request that was refused rolls
back, so `note_denial` keeps it aside and the session dependency writes it in a transaction of
its own after the rollback (app/db.py). Views are kept aside the same way, once per request and
patient and purpose, and written at the request's end.
"""

import uuid
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import insert, text
from sqlmodel import Session, col, select

from app.audit import chain
from app.audit.models import AuditEvent
from app.db import utcnow

# Any constant: the key of the advisory lock that orders audit writers on PostgreSQL.
_CHAIN_LOCK = 7_313_001

# Set per request by the middleware in app/main.py (also sent back as X-Request-ID).
request_id: ContextVar[str | None] = ContextVar("audit_request_id", default=None)
# Denials noted during the current request, written after its rollback.
_pending: ContextVar[list[dict[str, Any]] | None] = ContextVar("audit_pending", default=None)
# (patient, purpose) already noted as viewed in the current request: one entry each.
_views: ContextVar[set[tuple[uuid.UUID, str]] | None] = ContextVar("audit_views", default=None)
# The request is the service worker refreshing a page it keeps for use without signal (its
# warm-up, app/static/sw.js), not the person opening it: the view says so.
OFFLINE_COPY_HEADER = "x-trochelog-offline-copy"
_offline_copy: ContextVar[bool] = ContextVar("audit_offline_copy", default=False)


def _take_chain_lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.exec(text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_CHAIN_LOCK))
    else:
        # Begins the write transaction (or finds it begun), so no other writer can append
        # between the read of the chain's head below and this entry's insert.
        session.exec(text("UPDATE audit_events SET seq = seq WHERE 0 = 1"))


def record(
    session: Session,
    *,
    action: str,
    actor: Any | None = None,
    patient_id: uuid.UUID | None = None,
    on_behalf_of_id: uuid.UUID | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    actor_id: uuid.UUID | None = None,
    actor_role: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one entry. `actor` is a User (or None when nobody can be named); `details` holds
    the shape of what happened (format, row count, scope), never a health value or a name."""
    [row] = _chained(session, [dict(
        action=action, actor=actor, patient_id=patient_id, on_behalf_of_id=on_behalf_of_id,
        outcome=outcome, details=details, actor_id=actor_id, actor_role=actor_role, now=now,
    )])
    event = AuditEvent(**row)
    session.add(event)
    session.flush()
    return event


def record_many(session: Session, entries: list[dict[str, Any]]) -> None:
    """Append several entries (each as `record`'s keywords) under one lock, with one read of
    the chain's head and one INSERT: a patient list's views cost the same for 5 or 50. Plain
    rows, not ORM objects: building fifty of those cost more than the rest of the page."""
    rows = _chained(session, entries)
    if rows:
        session.execute(insert(AuditEvent), rows)


def _chained(session: Session, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries as audit rows that take the next places in the chain (under its lock)."""
    session.flush()
    _take_chain_lock(session)
    head = session.exec(
        select(AuditEvent.seq, AuditEvent.hash).order_by(col(AuditEvent.seq).desc()).limit(1)
    ).first()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, chain.GENESIS)
    rows = []
    for entry in entries:
        actor = entry.get("actor")
        actor_id, actor_role = entry.get("actor_id"), entry.get("actor_role")
        if actor is not None:
            actor_id, actor_role = actor.id, str(actor.role)
        row = {
            "id": uuid.uuid4(),
            "seq": seq,
            "at": entry.get("now") or utcnow(),
            "actor_id": actor_id,
            "actor_role": actor_role,
            "on_behalf_of_id": entry.get("on_behalf_of_id"),
            "patient_id": entry.get("patient_id"),
            "action": entry["action"],
            "outcome": entry.get("outcome") or "ok",
            "request_id": request_id.get(),
            "details": entry.get("details") or {},
            "prev_hash": prev_hash,
        }
        row["hash"] = chain.entry_hash(row)
        rows.append(row)
        seq, prev_hash = seq + 1, row["hash"]
    return rows


def _keep(entry: dict[str, Any]) -> None:
    pending = _pending.get()
    if pending is None:
        pending = []
        _pending.set(pending)
    actor = entry.pop("actor", None)
    if actor is not None:
        # Read now: after a rollback the row may be expired or detached.
        entry["actor_id"], entry["actor_role"] = actor.id, str(actor.role)
    pending.append({"now": utcnow(), **entry})


def note_denial(**entry: Any) -> None:
    """Keep a refused access aside: the refused request rolls back, this entry must not."""
    _keep({"outcome": "denied", **entry})


def note_failure(**entry: Any) -> None:
    """A failed attempt (a wrong current password) whose request rolls back its own work."""
    _keep({"outcome": "failed", **entry})


def note_view(
    session: Session,
    *,
    actor: Any,
    patient_id: uuid.UUID,
    purpose: str,
    listed: bool = False,
    now: datetime | None = None,
) -> None:
    """Someone other than the patient was let into the patient's data (app/careteam/access.py).

    In a request: once per (request, patient, purpose), and kept aside like a denial, so it is
    written at the request's end whatever happened in between (a form re-rendered after a
    rollback still showed the record). Outside a request (a worker, the seed): written now."""
    if actor is None or actor.id == patient_id:
        return
    details: dict[str, Any] = {"purpose": str(purpose)}
    if listed:
        details["list"] = True
    if _offline_copy.get():
        details["offline_copy"] = True
    seen = _views.get()
    if seen is None:
        record(session, action="view", actor=actor, patient_id=patient_id, details=details,
               now=now)
        return
    key = (patient_id, str(purpose))
    if key in seen:
        return
    seen.add(key)
    _keep({"action": "view", "actor": actor, "patient_id": patient_id, "outcome": "ok",
           "details": details})


def note_write(session: Session, **entry: Any) -> None:
    """Someone wrote into another person's record (a sitter's entry). In a request it joins the
    entries written at the request's end, so the chain's lock comes after every per-patient
    write lock the request takes (taken mid-request, two sitters' batches could wait on each
    other); it is dropped if the request rolls back. Outside a request: written now."""
    if _views.get() is None:
        record(session, **entry)
        return
    _keep({"outcome": "ok", **entry, "with_request": True})


def start_request(offline_copy: bool = False) -> None:
    _pending.set([])
    _views.set(set())
    _offline_copy.set(offline_copy)


def write_pending(session: Session) -> None:
    """Write the denials noted so far into `session` (the request's own, when it commits; a
    fresh one after a rollback)."""
    pending = _pending.get()
    if not pending:
        return
    # Emptied in place: the list is shared with the request's other threads (contextvars copy
    # the reference, not the list).
    entries = [{k: v for k, v in entry.items() if k != "with_request"} for entry in pending]
    pending.clear()
    record_many(session, entries)


def write_pending_apart(engine) -> None:
    """After a rollback: the noted denials and views in a transaction of their own (a write
    noted with `note_write` was rolled back with the request: dropped)."""
    pending = _pending.get()
    if pending:
        pending[:] = [entry for entry in pending if not entry.get("with_request")]
    if not pending:
        return
    with Session(engine) as session:
        write_pending(session)
        session.commit()
