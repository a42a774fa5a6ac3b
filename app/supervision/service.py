"""The supervised session on the sitter's phone: what to do now for one person they support.

Before the dose the sitter co-signs the pre-dose checklist; from the dose on, a timer, the
observation prompts and the +40 minute recheck; at the end, "ready to be alone" and a summary.
Every entry is a check-in written from the sitter's own account for the patient (app/checkins,
through app/sync), so it joins the patient's session record and the prescriber's view, and the
record says who observed. What the sitter sees here is the session only: no dose amount unless
the patient shares their dose history, none of the patient's own notes or questionnaires.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.accounts.models import User
from app.careteam import access, supporting
from app.checkins import service as checkins
from app.checkins.instruments import MEASURES, SLOTS
from app.checkins.models import CheckIn
from app.doses import service as doses
from app.doses import today as today_state
from app.doses.models import Dose, GateCheck
from app.protocols import service as protocols
from app.supervision import rules

DAY_SPAN = timedelta(hours=12)
# The sitter's forms, in the order a session needs them.
SITTER_SLOTS = ("sitter_check", "observe", "plus40", "end")


@dataclass(frozen=True)
class Entry:
    """One entry of the session as the sitter sees it: times, who, and the session values only
    (never the patient's own notes)."""

    at: datetime
    slot: str
    by_sitter: bool
    author_name: str
    values: dict
    flags: list


@dataclass
class SessionView:
    patient: User
    scope_words: str
    can_doses: bool
    has_protocol: bool
    today: supporting.SessionToday
    # The co-signed checklist that still counts for the next gate (any of the patient's sitters).
    sitter_check: CheckIn | None
    sitter_check_by: str | None
    dose: Dose | None  # the session under way (or just ended), if a dose is logged
    ready_at: datetime | None  # "ready to be alone", if recorded
    ready_from: datetime | None  # when the observation time is over
    prompts: list[rules.Prompt] = field(default_factory=list)
    next_prompt: rules.Prompt | None = None
    # During and after: the session's entries. Before a dose is logged: the sitter's entries
    # saved while waiting for it (they join its session when it is logged, if made after it).
    entries: list[Entry] = field(default_factory=list)
    emergency: bool = False  # the latest observation said hard to rouse or breathing concern
    elapsed_minutes: int = 0  # since the dose, when the page was made

    over: bool = False  # ready to be alone recorded, or long past the session's time
    # The dose fell on another day than today, in the sitter's zone: its time alone read as
    # today's, beside an overview saying no dose was logged today (a tester).
    dose_on_another_day: bool = False
    # Before a dose: why the patient's check would hold the prescribed dose now (too soon, over
    # a maximum), so the sitter does not co-sign for a dose the check refuses. Amounts only for
    # a sitter who may see dose history (session.html names a maximum without them).
    dose_now_held: list[dict] = field(default_factory=list)
    # Before a dose: the patient's latest safety check, when it held (a blood-pressure hold,
    # no sitter, the checklist): the green "checklist co-signed" alone read as all clear above
    # a check that had held at 166/104.
    held_check: GateCheck | None = None

    @property
    def phase(self) -> str:
        if self.dose is None:
            return "before"
        return "after" if self.over else "during"


def _names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return {u.id: u.display_name for u in session.exec(
        select(User).where(col(User.id).in_(ids))).all()}


def _shown_values(values: dict, by_sitter: bool) -> dict:
    # The sitter's own words they may see again; the patient's notes stay the patient's.
    return {k: v for k, v in values.items()
            if by_sitter or MEASURES[k].kind != "text"} if values else {}


def session_view(session: Session, caregiver: User, patient_id: uuid.UUID,
                 now: datetime) -> SessionView:
    """NotFound unless the caregiver's active link lets them supervise this patient."""
    patient = access.require_patient_access(session, caregiver, patient_id,
                                            access.Purpose.SUPERVISE, now=now)
    link = access.caregiver_link(session, caregiver, patient.id, now=now)
    version = protocols.current(session, patient.id)
    # Today's session: the latest dose of the last DAY_SPAN hours (its record stays on this
    # page for the rest of the day; the next session is days away).
    dose = checkins.session_dose(session, patient.id, now, span=DAY_SPAN)
    check = checkins.sitter_check_for_gate(session, patient.id, now)
    view = SessionView(
        patient=patient,
        scope_words=supporting.scope_words(link.scope if link else None),
        can_doses=access.can_access_patient(session, caregiver, patient.id,
                                            access.Purpose.VIEW_DOSES, now=now),
        has_protocol=version is not None,
        today=supporting.session_today(session, patient, now),
        sitter_check=check,
        sitter_check_by=None,
        dose=dose,
        ready_at=None,
        ready_from=None,
    )
    if dose is not None:
        zone = ZoneInfo(caregiver.timezone)
        view.dose_on_another_day = (dose.taken_at.astimezone(zone).date()
                                    != now.astimezone(zone).date())
    rows = list(session.exec(
        select(CheckIn).where(CheckIn.dose_id == dose.id).order_by(col(CheckIn.recorded_at))
    ).all()) if dose else checkins.waiting_sitter_entries(
        # No dose yet: the entries a dose logged now could still take in (taken up to
        # SESSION_SPAN ago).
        session, patient.id, now - checkins.SESSION_SPAN, now + checkins.FUTURE_TOLERANCE)
    names = _names(session, {c.author_id for c in rows} | ({check.author_id} if check else set()))
    view.sitter_check_by = names.get(check.author_id) if check else None
    if dose is None:
        if version is not None:
            view.dose_now_held = today_state.dose_now_held(session, patient, version, now)
            gate = doses.latest_gate(session, patient.id, now, version)
            view.held_check = gate if gate is not None and gate.verdict != "ok" else None
        _set_entries(view, rows, names)
        return view
    # The observation time of the protocol the dose was taken under.
    view.ready_from = dose.taken_at + checkins.observation_of(session, dose)
    view.ready_at = next((c.recorded_at for c in rows
                          if c.slot == "end" and c.values.get("ready_alone") is True), None)
    observed = [c.recorded_at for c in rows if c.slot == "observe"]
    rechecked = [c.recorded_at for c in rows if c.slot == "plus40" and "systolic" in c.values]
    view.prompts = rules.prompts(dose.taken_at, now, observed, rechecked)
    view.over = view.ready_at is not None or now >= dose.taken_at + checkins.SESSION_SPAN
    view.next_prompt = None if view.over else rules.next_prompt(view.prompts)
    view.elapsed_minutes = max(0, int((now - dose.taken_at).total_seconds() // 60))
    _set_entries(view, rows, names)
    return view


def _set_entries(view: SessionView, rows: list[CheckIn], names: dict[uuid.UUID, str]) -> None:
    patient = view.patient
    view.entries = [
        Entry(c.recorded_at, c.slot, c.author_id != patient.id, names.get(c.author_id, ""),
              _shown_values(c.values, c.author_id != patient.id), list(c.flags))
        for c in rows if c.slot != "next_morning"
    ]
    latest = next((e for e in reversed(view.entries) if "sedation" in e.values
                   or "breathing" in e.values), None)
    view.emergency = bool(latest and {"hard_to_rouse", "breathing_concern"} & set(latest.flags))


def form_slot(slot_key: str):
    """A sitter's slot, or None."""
    return SLOTS.get(slot_key) if slot_key in SITTER_SLOTS else None

