"""Everything TrocheLog holds about a patient, for them to download (JSON, or FHIR R4B).

"About them" is the same definition the account deletion uses (app/accounts/deletion.py: every
row a foreign key ties to them, read from the schema), plus the audit entries about them, so
what a patient can download is what deleting their account removes. Secrets are left out:
password and PIN hashes, session and link tokens, passkey keys, push subscription keys.
"""

import base64
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, or_, select
from sqlmodel import Session, col

from app.accounts import deletion
from app.accounts.models import User
from app.audit.models import AuditEvent
from app.careteam.access import local_today
from app.exports import fhir, records

FORMAT_VERSION = 1
# Section names for the tables a person recognises; any other table that refers to them is
# still included, under its own name (so a new table is never silently left out).
SECTIONS = {
    "users": "account",
    "protocol_versions": "protocol_versions",
    "doses": "doses",
    "dose_revisions": "dose_revisions",
    "gate_checks": "gate_checks",
    "ledger_entries": "ledger",
    "checkins": "checkins",
    "questionnaire_responses": "questionnaire_responses",
    "safety_events": "safety_events",
    "alerts": "alerts",
    "care_links": "care_team_links",
    "invites": "invites",
    "checkin_settings": "checkin_settings",
    "reminder_preferences": "reminder_preferences",
    "reminder_occurrences": "reminders",
    "flag_reviews": "flag_reviews",
    "auth_sessions": "signed_in_devices",
    "passkeys": "passkeys",
}
# Never handed out, even to their owner: they would let anyone holding the file sign in, open a
# link, or push to the phone.
SECRET_COLUMNS = frozenset({"password_hash", "app_lock_pin_hash", "token_hash", "challenge",
                            "browser_key", "public_key", "credential_id", "endpoint", "p256dh",
                            "auth"})
SKIPPED_TABLES = frozenset({"auth_challenges"})  # a sign-in in progress, gone in minutes


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _rows(session: Session, table: Table, condition) -> list[dict[str, Any]]:
    columns = [c for c in table.columns if c.name not in SECRET_COLUMNS]
    order = [c for c in table.primary_key.columns]
    found = session.execute(select(*columns).where(condition).order_by(*order)).mappings()
    return [{name: _plain(value) for name, value in row.items()} for row in found]


def everything(session: Session, patient: User, *, now: datetime) -> dict[str, Any]:
    """One JSON-ready document: each section a list of rows (column → value)."""
    plan = deletion.plan(patient.id)
    document: dict[str, Any] = {"format": "trochelog-my-data", "version": FORMAT_VERSION,
                                "generated_at": now.isoformat()}
    for table, condition in plan.owned.items():
        if table.name in SKIPPED_TABLES:
            continue
        rows = _rows(session, table, condition)
        name = SECTIONS.get(table.name, table.name)
        document[name] = rows[0] if name == "account" else rows
    pid = patient.id
    about = or_(col(AuditEvent.patient_id) == pid, col(AuditEvent.on_behalf_of_id) == pid,
                (col(AuditEvent.actor_id) == pid) & col(AuditEvent.patient_id).is_(None))
    document["audit_entries"] = _rows(session, AuditEvent.__table__, about)
    return document


def count_rows(document: dict[str, Any]) -> int:
    return sum(len(v) for v in document.values() if isinstance(v, list))


def fhir_bundle(session: Session, patient: User, *, now: datetime) -> tuple[dict, int]:
    """The FHIR Bundle of the whole record (app/exports/fhir.py), and how many records."""
    # From the earliest day anything can be dated (app/validation.py) to the patient's today.
    found = records.gather(session, patient, date(2000, 1, 1), local_today(patient, now))
    return fhir.bundle(found, generated_at=now), found.rows()
