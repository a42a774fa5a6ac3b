"""Apply client writes idempotently: the one write path for the offline queue and the forms.

Each item carries the client's UUID. The first time, the write is applied and remembered with
a hash of its content; a replay with the same content is a `duplicate` and writes nothing; the
same id with other content is `rejected`. Each item runs in its own savepoint, so one bad item
never undoes the others, and a concurrent replay that loses the race reads the winner's result.
"""

import hashlib
import json
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.accounts.models import User
from app.audit import service as audit
from app.careteam import access
from app.checkins.sync import AFTER_WRITE, SITTER_HANDLERS
from app.checkins.sync import HANDLERS as checkin_handlers
from app.checkins.sync import INPUTS as checkin_inputs
from app.db import transaction_memo
from app.doses.service import DoseRefused
from app.doses.sync import HANDLERS as dose_handlers
from app.doses.sync import INPUTS as dose_inputs
from app.errors import AppError
from app.i18n import gettext as _
from app.sync.context import Handler, Write
from app.sync.ids import WRITTEN_AT_SLACK, parse_client_id, parse_stamp
from app.sync.models import ClientWrite
from app.validation import SaneDatetime, field_errors, json_problem

# A kind is a plain name; anything else is refused without being echoed back.
KIND_PATTERN = r"[a-z][a-z0-9_]{0,39}"
MAX_DATA_DEPTH = 16  # objects and arrays nested in an item's data, the data object included
MAX_ITEM_SIZE = 16 * 1024  # about this many characters of JSON per item (a check-in is < 2 KiB)


class SyncItem(BaseModel):
    """One entry from a client's outbox: its UUID, its kind, when it was recorded (with an
    offset, between 2000 and 2100) and its data, an object at most 16 levels deep and 16 KiB."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    kind: Annotated[str, Field(pattern=f"^{KIND_PATTERN}$")]
    recorded_at: SaneDatetime
    data: dict[str, Any]


class IncomingItem(BaseModel):
    """An item as the request envelope checks it: an object with a valid id (or the whole
    request is a 422). Its other fields are the item's own business, kept as they came in
    `rest`: a problem there rejects this item only (apply_incoming), so one bad item never
    sinks its batch. Documented in the OpenAPI schema as the SyncItem it must be."""

    model_config = ConfigDict(
        extra="forbid",
        title="SyncItem",
        json_schema_extra=lambda schema, _model: schema.update(
            {k: v for k, v in SyncItem.model_json_schema().items() if k != "title"}
        ),
    )

    id: uuid.UUID
    rest: Annotated[Any, Field(exclude=True)] = None

    @model_validator(mode="before")
    @classmethod
    def _keep_the_rest(cls, value: Any) -> Any:
        # Not validated here: even a key that is not valid text must reject its item only.
        if isinstance(value, dict):
            split = {"rest": {k: v for k, v in value.items() if k != "id"}}
            if "id" in value:
                split["id"] = value["id"]
            return split
        return value


INPUTS: dict[str, type[BaseModel]] = {**dose_inputs, **checkin_inputs}
# The phone's own verdict of its check travels with it; it is its opinion, not the entry (a
# form whose answer was lost is kept with one, its first send had none).
NOT_THE_ENTRY = frozenset({"offline_verdict"})


def _plain(value: Any) -> Any:
    """A read model's dump as JSON values that compare as the entry does: instants in UTC,
    amounts without trailing zeros."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in NOT_THE_ENTRY}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date | uuid.UUID):
        return str(value)
    return value


def entry_of(kind: str, data: dict[str, Any]) -> Any:
    """What an item's data says, as its kind's input model reads it: the web form's "15" and
    the outbox's 15, a time in another offset and a false left out all say the same. The
    outbox's replay of a form whose answer was lost is then the duplicate the README promises,
    not "This id was already used for a different entry" (a phone tester's dose, recorded
    once, was shown as refused). Data its model refuses is taken as sent."""
    model = INPUTS.get(kind)
    if model is None:
        return data
    try:
        return _plain(model.model_validate(data).model_dump())
    except (ValidationError, ValueError, ArithmeticError):
        return data


def _digest(kind: str, recorded_at: datetime, data: Any) -> str:
    canonical = json.dumps(
        {"kind": kind, "recorded_at": recorded_at.astimezone(UTC).isoformat(), "data": data},
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def content_hash(item: SyncItem, sent_at: datetime | None = None) -> str:
    """The item's hash. `sent_at`: the time the sender will replay it with, when that is not
    the entry's own (a form's stamp from a phone whose clock is far off: the entry keeps the
    server's time, its outbox copy the phone's)."""
    return _digest(item.kind, sent_at or item.recorded_at, entry_of(item.kind, item.data))


def same_entry(existing: ClientWrite, item: SyncItem, sent_at: datetime | None = None) -> bool:
    """Whether a stored write and an item with its id are the same entry. Writes stored before
    the hash read the entry were hashed on the data as sent: an outbox replaying one of those
    is still recognised."""
    return existing.content_hash in (content_hash(item, sent_at),
                                     _digest(item.kind, item.recorded_at, item.data))


# Each domain owns its kinds; a kind is applied by exactly one handler. The patient writes
# HANDLERS' kinds for themself; a caregiver writes only SITTER_HANDLERS' kinds, for a patient
# they support, named in the item's data as `patient_id`.
HANDLERS: dict[str, Handler] = {**dose_handlers, **checkin_handlers}
SITTER_KINDS: dict[str, Handler] = {**SITTER_HANDLERS}


def _replay(existing: ClientWrite, item: SyncItem, patient: User,
            sent_at: datetime | None = None) -> dict[str, Any]:
    if existing.patient_id == patient.id and same_entry(existing, item, sent_at):
        return {**existing.result, "id": str(item.id), "status": "duplicate"}
    return {"id": str(item.id), "status": "rejected", "code": "id_conflict",
            "detail": _("This id was already used for a different entry.")}


_LOCKED = "sync.locked_patients"  # transaction memo: the patients this transaction holds locked


def patient_lock_key(patient_id: uuid.UUID) -> int:
    """The advisory lock key of one patient's writes (PostgreSQL)."""
    return int.from_bytes(patient_id.bytes[:8], "big", signed=True)


def lock_patient(session: Session, patient_id: uuid.UUID) -> None:
    """Serialise every write for one patient until the transaction ends.

    Guard rules judge history (the interval, the rolling maxima, a pending review), so two
    doses written at once must not both read a history without the other. PostgreSQL: a
    transaction-level advisory lock keyed on the patient (other patients' writes go on in
    parallel; the lock ends with the request's commit or rollback, savepoints included).
    SQLite has one writer at a time: a write as the transaction's first statement takes the
    database write lock before anything is read (pysqlite would otherwise read first and then
    fail at once with "database is locked" when upgrading to write, a 500 under contention).
    """
    # Taken once: held to the end of the transaction (again after a savepoint rolled back,
    # which releases it on PostgreSQL).
    held = transaction_memo(session, _LOCKED, set)
    if patient_id in held:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": patient_lock_key(patient_id)})
    elif connection.dialect.name == "sqlite":
        connection.execute(text("UPDATE client_writes SET id = id WHERE 0"))
    held.add(patient_id)


def lock_sitters_patients(session: Session, author: User, items: list[IncomingItem],
                          now: datetime) -> None:
    """Before a sitter's batch: lock every patient it names that they may supervise, in one
    order (the lock's key). Taken item by item, two batches naming the same two patients in
    opposite orders would each hold one lock and wait for the other: PostgreSQL ends one of
    them as a deadlock, a 500. In one order, the second waits for the first."""
    # An item naming nobody valid is rejected on its own (sitter_patient).
    named = {patient_id for incoming in items
             if isinstance(incoming.rest, dict)
             and (patient_id := _named_patient(incoming.rest.get("data"))) is not None}
    if len(named) < 2:
        return  # one patient: apply() takes its lock
    for patient_id in sorted(named, key=patient_lock_key):
        # Only people this sitter may supervise: naming a stranger must not stall their writes.
        if access.can_access_patient(session, author, patient_id, access.Purpose.SUPERVISE, now):
            lock_patient(session, patient_id)


def _rejected(item_id: uuid.UUID, code: str, detail: str, field: str) -> dict[str, Any]:
    return {"id": str(item_id), "status": "rejected", "code": code, "detail": detail,
            "errors": {field: detail}}


def _refusal(item_id: uuid.UUID, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Refuse an item whose fields cannot be stored or are beyond reason, before anything else
    reads them (the hash, a handler, the database): text that is not valid Unicode or holds
    NUL (a lone surrogate was stored and then broke every read; PostgreSQL cannot store NUL,
    and no person types either), numbers JSON cannot carry, data nested or sized beyond reason.
    The answer names the field, never what was in it."""
    found = json_problem(fields, max_depth=MAX_DATA_DEPTH, max_size=MAX_ITEM_SIZE, depth=0)
    if found is None:
        kind = fields.get("kind")
        if isinstance(kind, str) and not re.fullmatch(KIND_PATTERN, kind):
            return _rejected(item_id, "unknown_kind", _("Unknown kind."), "kind")
        return None
    code, key = found
    detail = {
        "unsavable_text": _("The entry contains a character that cannot be saved."),
        "not_finite": _("The entry contains a number that cannot be saved."),
        "too_deep": _("The entry is nested too deeply (at most %(n)s levels).",
                      n=MAX_DATA_DEPTH),
        "too_large": _("The entry is too large (at most %(n)s KiB).",
                       n=MAX_ITEM_SIZE // 1024),
    }[code]
    field = key if key in ("kind", "recorded_at", "data") else "item"
    return _rejected(item_id, code, detail, field)


def _named_patient(data: Any) -> uuid.UUID | None:
    """The patient a sitter's item names in its data (`patient_id`), if it is a UUID."""
    raw = data.get("patient_id") if isinstance(data, dict) else None
    try:
        return uuid.UUID(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def sitter_patient(session: Session, author: User, item: SyncItem,
                   now: datetime) -> User | dict[str, Any]:
    """For a caregiver's item: the patient it is for, if the caregiver's link lets them record
    the session now (read on every item, so a removal or an end date applies to a phone's
    queued entries too); else the item's rejection, the same whether the person was never
    linked, was removed or does not exist."""
    patient_id = _named_patient(item.data)
    if patient_id is None:
        return _rejected(item.id, "invalid_item", _("Say whose session this is for."),
                         "patient_id")
    if access.can_access_patient(session, author, patient_id, access.Purpose.SUPERVISE, now):
        # Asked again under the patient's lock, afresh: a removal that committed while this
        # item waited for the lock holds for it (the first answer was read before the wait).
        lock_patient(session, patient_id)
        access.forget_reads(session)
        if access.can_access_patient(session, author, patient_id, access.Purpose.SUPERVISE,
                                     now):
            return access.require_patient_access(session, author, patient_id,
                                                 access.Purpose.SUPERVISE, now)
    # A replay of what this caregiver wrote while still linked stays a duplicate.
    existing = session.get(ClientWrite, item.id)
    if existing is not None and existing.author_id == author.id \
            and same_entry(existing, item):
        return {**existing.result, "id": str(item.id), "status": "duplicate"}
    return _rejected(item.id, "not_supporting",
                     _("Not saved: you are no longer a sitter for this person (the link was "
                       "removed or has ended). Ask them to invite you again."), "patient_id")


def apply_incoming(session: Session, *, author: User, patient: User | None,
                   incoming: IncomingItem, now: datetime) -> dict[str, Any]:
    """One item of POST /api/v1/sync: its fields are checked here, and a problem in them
    (an unknown field, a naive or far-off time, data that is not an object) rejects this item
    with a message per field, like a handler's refusal."""
    fields = dict(incoming.rest or {})
    refused = _refusal(incoming.id, fields)
    if refused is not None:
        return refused
    try:
        item = SyncItem.model_validate({**fields, "id": incoming.id})
    except ValidationError as exc:
        errors = field_errors(exc)
        return {"id": str(incoming.id), "status": "rejected", "code": "invalid_item",
                "detail": "; ".join(f"{name}: {text}" for name, text in errors.items()),
                "errors": errors}
    if patient is None:
        found = sitter_patient(session, author, item, now)
        if isinstance(found, dict):
            return found
        patient = found
    return apply(session, author=author, patient=patient, item=item, now=now)


def apply_form(session: Session, *, user: User, client_id: str, kind: str, data: dict,
               now: datetime, patient: User | None = None,
               written_at: object = None) -> dict[str, Any]:
    """A patient's HTML form, written through the same path as the offline queue.

    A form sent twice (double tap, Back and resubmit) carries the same client id but arrives
    at another time: the repeat keeps the first submission's time, so it is a `duplicate` that
    redirects like the first (to the crisis screen, say), not an id conflict shown as an error.
    `written_at`: the form's stamp of the phone's clock (ids.WRITTEN_AT), the time the outbox
    keeps if this answer is lost; the server's time when there is none or it is far off.
    """
    patient = patient or user  # a sitter's form names the patient (the route checked access)
    item_id = parse_client_id(client_id)
    earlier = session.get(ClientWrite, item_id)
    same_form = (earlier is not None and earlier.patient_id == patient.id
                 and earlier.author_id == user.id and earlier.kind == kind)
    stamp = parse_stamp(written_at) if written_at else None
    near = stamp is not None and abs(stamp - now) <= WRITTEN_AT_SLACK
    item = SyncItem(id=item_id, kind=kind,
                    recorded_at=earlier.recorded_at if same_form else (stamp if near else now),
                    data=data)
    # Hashed with the stamp, whatever the entry's time: the outbox replays it with that stamp,
    # and the page stamps a form once per client id (offline.js), so a double tap matches too.
    return apply(session, author=user, patient=patient, item=item, now=now, sent_at=stamp)


def apply(session: Session, *, author: User, patient: User, item: SyncItem,
          now: datetime, sent_at: datetime | None = None) -> dict[str, Any]:
    """Apply one item and say what happened: created, duplicate or rejected. `sent_at`: see
    content_hash."""
    refused = _refusal(item.id, {"kind": item.kind, "data": item.data})
    if refused is not None:
        return refused
    lock_patient(session, patient.id)
    existing = session.get(ClientWrite, item.id)
    if existing is not None:
        return _replay(existing, item, patient, sent_at)
    by_sitter = author.id != patient.id
    handler = (SITTER_KINDS if by_sitter else HANDLERS).get(item.kind)
    if handler is None and item.kind in (HANDLERS if by_sitter else SITTER_KINDS):
        return _rejected(item.id, "not_yours",
                         _("The patient records this themself.") if by_sitter else
                         _("A sitter records this, from their own account."), "kind")
    if handler is None:
        return {"id": str(item.id), "status": "rejected", "code": "unknown_kind",
                "detail": _("Unknown kind: %(kind)s.", kind=item.kind)}
    try:
        with session.begin_nested():
            write = Write.of(session, author=author, patient=patient, now=now,
                             item_id=item.id, recorded_at=item.recorded_at, data=item.data)
            result = handler(write)
            # Another domain's follow-up in the same savepoint (a dose logged: the sitter's
            # entries that waited for it join its session).
            after = AFTER_WRITE.get(item.kind)
            if after is not None:
                after(write, result)
            session.add(ClientWrite(id=item.id, patient_id=patient.id, author_id=author.id,
                                    kind=item.kind, content_hash=content_hash(item, sent_at),
                                    recorded_at=item.recorded_at.astimezone(UTC),
                                    received_at=now, result=result))
            session.flush()
    except AppError as err:
        rejected: dict[str, Any] = {"id": str(item.id), "status": "rejected",
                                    "detail": err.message}
        if getattr(err, "errors", None):
            rejected["errors"] = err.errors
        if isinstance(err, DoseRefused):
            rejected["reasons"] = err.reasons
            rejected["overridable"] = err.overridable
            if err.same_as:
                rejected["same_as_logged"] = err.same_as
        return rejected
    except IntegrityError:
        # Another request wrote this id first; what it wrote decides the answer.
        winner = session.get(ClientWrite, item.id)
        if winner is None:
            return {"id": str(item.id), "status": "rejected", "code": "id_conflict",
                    "detail": _("This id was already used for a different entry.")}
        return _replay(winner, item, patient, sent_at)
    if by_sitter:
        # Someone else wrote into the patient's record: who, for whom, what kind.
        audit.note_write(session, action="write", actor=author, patient_id=patient.id,
                         on_behalf_of_id=patient.id, now=now, details={"kind": item.kind})
    return {**result, "id": str(item.id), "status": "created"}
