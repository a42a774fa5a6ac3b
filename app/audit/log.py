"""Reading the audit trail back: the patient's "who has seen my records" and the prescriber's log.

Entries name people by id only; the pages look each actor up when shown, so a deleted account
reads as "a former account" and the trail itself never held a name.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlmodel import Session, col, or_, select

from app.accounts.models import User
from app.audit.models import AuditEvent
from app.i18n import gettext as _

PAGE = 50
# Entries that say nothing on their own (the row count of an export already listed).
HIDDEN = ("export.finished",)


@dataclass(frozen=True)
class Shown:
    entry: AuditEvent
    who: str
    role: str
    what: str
    patient: str | None = None  # the clinic-wide log names the patient


@dataclass(frozen=True)
class Page:
    rows: list[Shown]
    page: int
    older: bool  # there is a next page of older entries


def role_words(role: str | None) -> str:
    return {"patient": _("patient"), "prescriber": _("prescriber"),
            "caregiver": _("caregiver")}.get(role or "", _("unknown role"))


def _viewed(purpose: str, listed: bool) -> str:
    if listed:
        return {
            "view_session": _("Saw you in their list, with today's session"),
        }.get(purpose, _("Saw you in their patient list"))
    return {
        "view": _("Opened your record"),
        "treat": _("Opened your record"),
        "view_session": _("Saw today's session"),
        "support": _("Opened your page"),
        "supervise": _("Opened your session to record it"),
        "view_doses": _("Saw your doses and supply"),
        "view_checkins": _("Saw your check-ins"),
        "manage_protocol": _("Opened your protocol"),
        "invite_caregiver": _("Opened your care team"),
    }.get(purpose, _("Opened your record"))


def what_words(entry: AuditEvent) -> str:
    """What happened, in the reader's language, said to the patient ("your record")."""
    details = entry.details or {}
    if entry.outcome == "denied":
        return _("Tried to open your record and was refused")
    if entry.action == "view":
        if details.get("offline_copy"):
            return _("Their phone refreshed its copy of your pages, for use without signal")
        return _viewed(str(details.get("purpose", "")), bool(details.get("list")))
    if entry.action == "export":
        return _("Exported your record (%(format)s)",
                 format=str(details.get("format", "")).upper())
    if entry.action == "write":
        return _("Recorded your session as your sitter")
    if entry.action == "protocol.change":
        return _("Changed your protocol")
    if entry.action == "flag.review":
        return _("Reviewed something flagged in your record")
    if entry.action == "alert.acknowledge":
        return _("Acknowledged an alert about you")
    if entry.action == "consent.change":
        return {
            "link_accepted": _("Joined your care team"),
            "prescriber_linked": _("Became your prescriber"),
        }.get(str(details.get("change")), _("Changed your care team"))
    return entry.action


def _names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, User]:
    if not ids:
        return {}
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids))).all()}


def _shown(session: Session, entries: Sequence[AuditEvent], *,
           with_patient: bool = False) -> list[Shown]:
    ids = {e.actor_id for e in entries if e.actor_id} | (
        {e.patient_id for e in entries if e.patient_id} if with_patient else set())
    people = _names(session, ids)

    def name(user_id: uuid.UUID | None) -> str:
        if user_id is None:
            return _("Someone (no account)")
        found = people.get(user_id)
        return found.display_name if found is not None else _("a former account")

    return [
        Shown(entry=e, who=name(e.actor_id), role=role_words(e.actor_role),
              what=what_words(e),
              patient=name(e.patient_id) if with_patient and e.patient_id else None)
        for e in entries
    ]


def _page(session: Session, query, page: int, *, with_patient: bool = False) -> Page:
    page = max(page, 1)
    entries = session.exec(
        query.order_by(col(AuditEvent.at).desc(), col(AuditEvent.seq).desc())
        .offset((page - 1) * PAGE).limit(PAGE + 1)
    ).all()
    return Page(_shown(session, entries[:PAGE], with_patient=with_patient), page,
                len(entries) > PAGE)


def seen_by_others(session: Session, patient: User, page: int = 1) -> Page:
    """What others did with the patient's data (views, exports, writes, reviews, refusals),
    newest first. The patient's own actions are theirs to know already."""
    query = select(AuditEvent).where(
        AuditEvent.patient_id == patient.id,
        or_(col(AuditEvent.actor_id).is_(None), col(AuditEvent.actor_id) != patient.id),
        col(AuditEvent.action).not_in(HIDDEN),
    )
    shown = _page(session, query, page)
    return replace(shown, rows=_one_per_refresh(shown.rows))


# A sitter's phone refreshes the pages it keeps for use without signal together (their page and
# each session form, a request each): the patient reads one refresh, not five. The prescriber's
# log keeps every entry, each with its request id.
_ONE_REFRESH = timedelta(minutes=2)


def _one_per_refresh(rows: list[Shown]) -> list[Shown]:
    kept: list[Shown] = []
    for row in rows:  # newest first
        last = kept[-1] if kept else None
        if (last is not None and _offline_copy(row.entry) and _offline_copy(last.entry)
                and row.entry.actor_id == last.entry.actor_id
                and last.entry.at - row.entry.at <= _ONE_REFRESH):
            continue
        kept.append(row)
    return kept


def _offline_copy(entry: AuditEvent) -> bool:
    return entry.action == "view" and bool((entry.details or {}).get("offline_copy"))


def for_patient(session: Session, patient_id: uuid.UUID, page: int = 1) -> Page:
    """Every entry about one patient, the patient's own included (for their prescriber)."""
    return _page(session, select(AuditEvent).where(AuditEvent.patient_id == patient_id), page)


def for_patients(session: Session, patient_ids: list[uuid.UUID], page: int = 1) -> Page:
    """Every entry about any of these patients (the prescriber's clinic-wide log)."""
    if not patient_ids:
        return Page([], 1, False)
    query = select(AuditEvent).where(col(AuditEvent.patient_id).in_(patient_ids))
    return _page(session, query, page, with_patient=True)


def action_words(entry: AuditEvent) -> str:
    """The action for the prescriber's log, in words about "the record" (never a code: the
    page is read by people, and the codes stay in the trail)."""
    details = entry.details or {}
    action, purpose = entry.action, str(details.get("purpose", ""))
    if action == "view":
        if details.get("list"):
            return _("Listed the patient")
        if details.get("offline_copy"):
            return _("Their phone refreshed its copy of the pages, for use without signal")
        return {
            "view_session": _("Viewed today's session"),
            "view_doses": _("Viewed doses and supply"),
            "view_checkins": _("Viewed check-ins"),
            "manage_protocol": _("Opened the protocol"),
            "invite_caregiver": _("Opened the care team"),
            "support": _("Opened the caregiver's page"),
            "supervise": _("Opened the session to record it"),
        }.get(purpose, _("Opened the record"))
    if action == "export":
        return _("Exported the record (%(format)s)",
                 format=str(details.get("format", "")).upper())
    consent = {
        "prescriber_linked": _("Became the patient's prescriber"),
        "invite_created": _("Invited a caregiver"),
        "link_accepted": _("A caregiver joined the care team"),
        "scope": _("Changed what a caregiver sees"),
        "end_date": _("Set a caregiver's last day"),
        "removed": _("Removed a caregiver"),
        "invite_cancelled": _("Cancelled a caregiver invite"),
    }
    if action == "consent.change":
        return consent.get(str(details.get("change")), _("Changed the care team"))
    return {
        "write": _("Recorded the session as sitter"),
        "protocol.change": _("Changed the protocol"),
        "flag.review": _("Reviewed a flag"),
        "alert.acknowledge": _("Acknowledged an alert"),
        "access": _("Opened a page not meant for their role"),
        "sign_in": _("Signed in"),
        "sign_out": _("Signed out"),
        "password.change": _("Changed their password"),
        "password.reset": _("Reset their password"),
        "session.end": _("Ended a signed-in device"),
        "app_lock.change": _("Changed the app lock"),
        "passkey.add": _("Added a passkey"),
        "passkey.remove": _("Removed a passkey"),
        "reauth": _("Confirmed it was them"),
        "data.download": _("Downloaded their own data"),
        "account.delete": _("Deleted their account"),
    }.get(action, _("Other activity"))
