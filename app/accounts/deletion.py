"""A patient deletes their account: every row that refers to them goes, in one transaction.

What refers to a patient is read from the schema, not listed by hand, so a table added later is
covered the day it is added: a row is the patient's when a foreign key that owns it (ON DELETE
CASCADE, or NOT NULL) points at the patient or at another row of theirs (a dose's revisions, a
reminder's deliveries and their attempts). A nullable, non-owning reference to a deleted row (a
dose's gate, a check-in's dose, a delivery's subscription) is set to NULL first. Rows are then
deleted children first, the user row last. The audit trail is kept: it has no foreign keys, is
append-only by design (app/audit/guard.py), and names people by bare id only, which once the
user row is gone is a pseudonym.

Services flush, never commit: the request's session commits the whole deletion or none of it.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Table, delete, func, or_, select, update
from sqlmodel import Session, SQLModel, col

from app.accounts import service as accounts
from app.accounts import throttle
from app.accounts.models import Invite, LoginFailure, Role, User
from app.audit import service as audit
from app.errors import Forbidden, Invalid
from app.i18n import gettext as _

# Never deleted from: the trail keeps what happened, naming the patient by bare id only.
KEPT_TABLES = frozenset({"audit_events"})


def confirmation_word() -> str:
    """What the person types to confirm (in their language)."""
    return _("DELETE")


@dataclass(frozen=True)
class Plan:
    """Where the patient's rows are: `owned` maps a table to the condition that picks them
    (parents before children); `unlinked` are (table, column, condition) to set to NULL."""

    owned: dict[Table, ColumnElement[bool]]
    unlinked: list[tuple[Table, str, ColumnElement[bool]]]


def plan(patient_id: uuid.UUID) -> Plan:
    tables = SQLModel.metadata.tables
    users = tables["users"]
    owned: dict[Table, ColumnElement[bool]] = {users: users.c.id == patient_id}
    unlinked: list[tuple[Table, str, ColumnElement[bool]]] = []
    for table in SQLModel.metadata.sorted_tables:  # parents first
        if table is users or table.name in KEPT_TABLES:
            continue
        picks: list[ColumnElement[bool]] = []
        for column in table.columns:
            for fk in column.foreign_keys:
                parent = fk.column.table
                if parent is table or parent not in owned:
                    continue  # a self reference points at rows picked with it
                hit = (column == patient_id if parent is users
                       else column.in_(select(fk.column).where(owned[parent])))
                if fk.ondelete == "CASCADE" or not column.nullable:
                    picks.append(hit)
                else:
                    unlinked.append((table, column.name, hit))
        if picks:
            owned[table] = or_(*picks)
    return Plan(owned, unlinked)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def check_request(session: Session, user: User, *, password: str, confirm: str,
                  address: str, now: datetime) -> None:
    """The password again (throttled and counted like a sign-in) and the typed word, or Invalid
    naming each field. A wrong password's failure rows are flushed for the caller to commit."""
    if user.role != Role.PATIENT:
        raise Forbidden(_("Only a patient can delete their account here."))
    errors: dict[str, str] = {}
    if confirm.strip().casefold() != confirmation_word().casefold():
        errors["confirm"] = _("Type %(word)s to confirm.", word=confirmation_word())
    # Raises TooManyAttempts while the account is throttled, before checking anything.
    if accounts.authenticate(session, email=user.email, password=password, address=address,
                             now=now) is None:
        errors["password"] = _("That password is not right.")
    if errors:
        raise Invalid(errors=errors)


def delete_patient(session: Session, patient: User, *, address: str, now: datetime) -> int:
    """Delete every row that refers to `patient`, and the user row; returns how many rows.

    The audit entry is written first, inside the same transaction: no deletion without it."""
    if patient.role != Role.PATIENT:
        raise Forbidden(_("Only a patient can delete their account here."))
    pid = patient.id
    found = plan(pid)
    counts = {table.name: session.execute(
        select(func.count()).select_from(table).where(condition)).scalar_one()
        for table, condition in found.owned.items()}
    audit.record(session, action="account.delete", actor=patient, patient_id=pid, now=now,
                 # How many rows, not which tables: the audit trail outlives the patient, and
                 # "safety_events" or "questionnaire_responses" would say what they had.
                 details={"rows": sum(counts.values())})
    # Sign-in throttling rows carry no id, only hashes: the account's count and this
    # address's pair go; pairs with other addresses cannot be told apart from anyone's and
    # expire within a day (app/accounts/throttle.py).
    invite_ids = session.execute(select(Invite.id).where(
        or_(col(Invite.patient_id) == pid, col(Invite.created_by_id) == pid))).scalars().all()
    counters = throttle.keys(patient.email, address)
    keys = [counters["account"], counters["pair"], *(_sha256(f"invite:{i}") for i in invite_ids)]
    session.execute(delete(LoginFailure).where(col(LoginFailure.key).in_(keys)))
    for table, column, condition in found.unlinked:
        session.execute(update(table).where(condition).values({column: None}))
    session.expunge_all()  # the ORM must not write back objects whose rows are gone
    for table in reversed(list(found.owned)):  # children first, the user row last
        session.execute(delete(table).where(found.owned[table]))
    session.flush()
    return sum(counts.values())
