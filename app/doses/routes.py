"""The patient's pages: Today (gate and dose log), the dose history and the troche supply."""

import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from sqlmodel import Session

from app.accounts.models import User
from app.careteam import service as careteam
from app.checkins import service as checkins
from app.db import SessionDep, utcnow
from app.deps import PatientUser, PostedForm
from app.doses import corrections, ledger, reasons, rules, service
from app.doses import today as today_state
from app.doses.models import Dose
from app.errors import Invalid, NotFound
from app.i18n import gettext as _
from app.protocols import service as protocols
from app.push import service as push_service
from app.safety import service as safety
from app.sync import service as sync
from app.sync.ids import WRITTEN_AT
from app.templating import is_htmx, local_input, render
from app.validation import datetime_range_problem
from app.web import pages
from app.web.forms import form_values, new_client_id, see_other

router = APIRouter()


def parse_local(value: str, tz: str, field: str) -> datetime:
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(_("Enter a date and time."), field=field) from None
    aware = naive if naive.tzinfo is not None else naive.replace(tzinfo=ZoneInfo(tz))
    # Year 1 or 9999 overflowed later (and an old local time has an offset in seconds).
    if problem := datetime_range_problem(aware):
        raise Invalid(problem, field=field)
    return aware


def _today_context(session: Session, user: User, now: datetime, **extra) -> dict:
    state = today_state.today(session, user, now)
    fresh_values = {
        "gate_client_id": new_client_id(),
        "dose_client_id": new_client_id(),
        "taken_at": local_input(now, user.timezone),
        "dose_mg": f"{state.protocol.dose_mg.normalize():f}" if state.protocol else "",
        "route": state.protocol.route if state.protocol else "sublingual",
        "swallowed": "",
    }
    values = {**fresh_values, **extra.pop("values", {})}
    # Today read the recent doses already (when there is a protocol to read them for).
    doses = state.doses_read if state.protocol else None
    due = [i for i in checkins.due_checkins(session, user, now, doses) if i.state == "due"]
    gate_codes = [r["code"] for r in state.gate.reasons] if state.gate else []
    gate_overridable = bool(state.protocol) and rules.may_override_before_dosing(
        protocols.policy(state.protocol), [rules.Reason(rules.ReasonCode(c), {})
                                           for c in gate_codes])
    unscreened = safety.unscreened_item9(session, user.id, now - safety.UNSCREENED_SHOWN_FOR)
    extra.setdefault("sitter", checkins.sitter_confirmation(session, user.id, state.gate, now))
    # "Call my clinic" beside a hold or an emergency (the first prescriber's clinic number).
    extra.setdefault("clinic_phone", careteam.clinic_phone_for(session, user))
    # An OK check's page may be shown again from the phone's saved copy (offline): it says
    # until when the check holds, so the phone stops offering it then (offline.js).
    gate_until = (service.gate_shown_until(state.gate, state.protocol)
                  if state.gate and state.protocol else None)
    # A hold judged on doses since corrected or struck: said, and the check offered again.
    gate_outdated = bool(state.gate and state.gate.verdict == "hold" and corrections.changed_since(
        session, user.id, state.gate.checked_at))
    return {"state": state, "now": now, "values": values, "fresh_values": fresh_values,
            "gate_until": gate_until, "gate_outdated": gate_outdated,
            "checkins_due": due,
            "checklist_labels": reasons.checklist_labels(), "gate_codes": gate_codes,
            "fields": TODAY_FIELDS,
            "gate_overridable": gate_overridable, "unscreened": unscreened, **extra}


@router.get("/today")
def today(request: Request, session: SessionDep, user: PatientUser, welcome: str | None = None,
          logged: str | None = None):
    # One small query: the "Turn on reminders" card shows until a device receives them.
    show_push_card = not push_service.devices(session, user)
    now = utcnow()
    ctx = _today_context(session, user, now, welcome=welcome, logged=logged,
                         show_push_card=show_push_card)
    ctx["getting_ready"] = _getting_ready(session, user, ctx["state"], now)
    if logged:
        # Said from the record, not from the address: a dose against a hold is health
        # information, and an address ends up in the browser's history and in logs.
        ctx["logged_against_hold"] = today_state.just_logged_against_hold(ctx["state"], now)
        ctx["logged_same_as"] = today_state.just_logged_same_as(ctx["state"], now)
        # Until the observation time of the dose's plan is over: "the next two hours" was
        # wrong for a plan of 180 minutes.
        last = ctx["state"].last_dose
        ctx["observe_until"] = (last.taken_at + checkins.observation_of(session, last)
                                if last else None)
    return render(request, "doses/today.html", ctx)


def _getting_ready(session: Session, user: User, state, now: datetime) -> dict:
    """What a new patient still needs before a session goes as planned, said on Today until the
    first dose is logged (a journey tester's new patient met a dose form first): a sitter on the
    care team when the plan requires one, and a first pharmacy fill, without which the supply
    reads below zero. Not after: a sitter need not use the app (the patient confirms them at
    the check), and a missing fill has its own notice on the supply card."""
    if state.protocol is None or state.last_dose is not None:
        return {}
    return {
        "sitter": bool(state.protocol.sitter_required) and not careteam.has_caregiver(
            session, user, now),
        "fill": state.ledger is not None and not state.ledger.entries,
    }


def _apply(session: Session, user: User, item_id: str, kind: str, data: dict,
           now: datetime, written_at: object) -> dict:
    return sync.apply_form(session, user=user, client_id=item_id, kind=kind, data=data, now=now,
                           written_at=written_at)


# The Today page's fields, by the form that shows each one's error: the safety check, the
# dose forms, and the dose form's folded "Route, hold time, lot". The templates open a folded
# form when one of its fields has an error (`errors_in`); any other error shows above the forms.
_DOSE_DETAILS = frozenset({"route", "hold_minutes", "swallowed", "lot", "rx_number"})
TODAY_FIELDS = {
    "gate": frozenset({"systolic", "diastolic", "heart_rate"}),
    "dose": frozenset({"dose_mg", "taken_at", "no_gate_reason", "override_reason"}) | _DOSE_DETAILS,
    "dose_details": _DOSE_DETAILS,
}
SHOWN_BY_FIELD = TODAY_FIELDS["gate"] | TODAY_FIELDS["dose"]


def _rejected(request, session, user, now, result, values, status=422):
    session.rollback()
    errors = dict(result.get("errors") or {})
    if result.get("reasons"):
        # Recording a dose already taken, with the box left empty: that is what is missing.
        unexplained = values.get("already_taken") == "yes" and not values.get(
            "override_reason", "").strip()
        errors["override_reason"] = (
            _("Write what happened, and why: it is recorded with the dose.") if unexplained
            else _("Give a reason to take it anyway, or wait.") if result.get("overridable")
            else _("Only a dose you have already taken can be recorded, with what happened."))
    elif not errors:
        errors["__all__"] = result.get("detail")
    else:
        # e.g. a gate that is too old or not found (gate_id is a hidden field), or the
        # diastolic-above-systolic check: say it where the patient can see it.
        hidden = [text for name, text in errors.items() if name not in SHOWN_BY_FIELD]
        if hidden:
            errors["__all__"] = " ".join(hidden)
    ctx = _today_context(session, user, now, values=values, errors=errors,
                         refused=result.get("reasons"), same_as=result.get("same_as_logged"),
                         refused_overridable=result.get("overridable", False))
    return render(request, "doses/today.html", ctx, status_code=status)


@router.post("/today/gate")
def gate(request: Request, session: SessionDep, user: PatientUser, form: PostedForm):
    now = utcnow()
    values = form_values(form)

    def number(name: str):
        raw = values.get(name, "").strip()
        return int(raw) if raw.lstrip("-").isdigit() else (raw or None)

    data = {
        "systolic": number("systolic"),
        "diastolic": number("diastolic"),
        "heart_rate": number("heart_rate"),
        "checklist": {item: form.get(item) == "yes" for item in reasons.checklist_labels()},
    }
    data = {k: v for k, v in data.items() if v is not None}  # blank: "This is required."
    result = _apply(session, user, values.get("gate_client_id", ""), "gate", data, now,
                    values.get(WRITTEN_AT))
    if result["status"] == "rejected":
        values["checklist"] = [k for k, v in data["checklist"].items() if v]
        return _rejected(request, session, user, now, result, values)
    return see_other("/today#gate-result")


@router.post("/today/dose")
def log_dose(request: Request, session: SessionDep, user: PatientUser, form: PostedForm):
    now = utcnow()
    values = form_values(form)
    try:
        taken_at = parse_local(values.get("taken_at", ""), user.timezone, "taken_at")
    except Invalid as err:
        return _rejected(request, session, user, now, {"errors": err.errors}, values)
    # Anything but the two answers (or none) goes on to the check, which refuses it by name.
    answer = values.get("swallowed", "")
    swallowed = {"swallowed": True, "spat": False}.get(answer, answer or None)
    hold = values.get("hold_minutes", "").strip()
    data = {
        "taken_at": taken_at.isoformat(),
        "dose_mg": values.get("dose_mg", "").strip() or "0",
        "route": values.get("route", ""),
        "gate_id": values.get("gate_id") or None,
        "override_reason": values.get("override_reason") or None,
        "no_gate_reason": values.get("no_gate_reason") or None,
        "already_taken": values.get("already_taken") == "yes",
        "lot": values.get("lot") or None,
        "rx_number": values.get("rx_number") or None,
        "hold_minutes": hold or None,  # "abc" or "-5" is refused, not dropped
        "swallowed": swallowed,
    }
    data = {k: v for k, v in data.items() if v is not None}
    result = _apply(session, user, values.get("dose_client_id", ""), "dose", data, now,
                    values.get(WRITTEN_AT))
    if result["status"] == "rejected":
        return _rejected(request, session, user, now, result, values)
    # A dose recorded long after it was taken gets words for that, not "stay seated now".
    late = "late_entry" in (result.get("flags") or [])
    return see_other("/today?logged=late" if late else "/today?logged=1")


def _appending(request: Request, before: pages.Cursor | None) -> bool:
    """An htmx "Show older" (not a boosted navigation, which wants the whole page): answered
    with the next rows and the next link alone, appended in place."""
    return before is not None and is_htmx(request) \
        and request.headers.get("HX-Request-Type") == "partial"


def _history_page(request: Request, session: Session, user: User, *,
                  before: pages.Cursor | None = None, errors: dict | None = None,
                  failed: dict | None = None, status_code: int = 200):
    """A page of the dose history, newest first, from `before` (None: the newest page).
    `failed` holds what the person typed into the form that was refused (with its "form" key
    naming which), so it comes back as they left it."""
    page = service.history_page(session, user.id, before)
    doses = page.items
    records = checkins.session_records(session, doses)
    appending = _appending(request, before)
    now = utcnow()
    open_since = now - checkins.PATIENT_SLOTS_SPAN
    # Nor before they open (the +40 recheck at 35 minutes, the end near the observation's end):
    # a retester met "Add end of session" a minute after the dose, and a refusal.
    recent = [d for d in doses if d.taken_at >= open_since]
    observation = checkins.observations(session, recent)
    zone = ZoneInfo(user.timezone)
    not_open = {(d.id, slot) for d in recent for slot in ("plus40", "end")
                if (checkins.session_entry_opens(slot, d, zone,
                                                 observation.get(d.protocol_version_id))
                    or now) > now}
    return render(request, "doses/history.html",
                  {"doses": doses, "page": page, "appending": appending,
                   "records": records, "new_client_id": new_client_id,
                   # A session's own entries are offered while they can still be added to it.
                   "entries_open_since": open_since, "not_open": not_open,
                   "revisions": corrections.revisions_of(session, [d.id for d in doses]),
                   "errors": errors, "failed": failed or {}}, status_code=status_code,
                  block="rows" if appending else None)


@router.get("/doses")
def dose_history(request: Request, session: SessionDep, user: PatientUser,
                 before: Annotated[str | None, Query(max_length=100)] = None):
    return _history_page(request, session, user, before=pages.Cursor.decode(before))


# The correction form's fields, by the names its errors come under (a change's own, or the
# item's "changes_…" from validation).
_CORRECTION_FIELDS = {"dose_mg": "dose_mg", "changes_dose_mg": "dose_mg",
                      "taken_at": "taken_at", "changes_taken_at": "taken_at",
                      "lot": "lot", "changes_lot": "lot", "rx_number": "rx_number",
                      "changes_rx_number": "rx_number", "reason": "reason"}


def _history_refused(request, session, user, result: dict, key: str, values: dict,
                     dose_id: uuid.UUID):
    session.rollback()
    errors = result.get("errors") or {}
    # Beside its field, where the form has one (the reason sits at the form's end, out of
    # sight of a message above it); any other above the form.
    beside: dict[str, str] = {}
    above: list[str] = []
    for name, text in errors.items():
        field = _CORRECTION_FIELDS.get(name) if key.startswith("correct-") else None
        if field:
            beside.setdefault(field, text)
        else:
            above.append(text)
    message = " ".join(dict.fromkeys(above)) or (None if beside else result.get("detail"))
    # The page that holds the dose, as it was when the form was sent.
    before = service.history_cursor_of(session, session.get(Dose, dose_id))
    return _history_page(request, session, user, before=before, errors={key: message},
                         failed={**values, "form": key, "fields": beside}, status_code=422)


def _history_holding(session: Session, dose_id: uuid.UUID, **query: str):
    """Back to the History page that shows the dose (a correction may have moved it)."""
    session.flush()
    before = service.history_cursor_of(session, session.get(Dose, dose_id))
    if before is not None:
        query = {"before": before.encode(), **query}
    return see_other("/doses" + (f"?{urlencode(query)}" if query else ""))


def _own_dose_or_404(session: Session, user: User, dose_id: uuid.UUID) -> None:
    # Someone else's dose id in the address is a page that does not exist, not a bad form.
    dose = session.get(Dose, dose_id)
    if dose is None or dose.patient_id != user.id:
        raise NotFound()


@router.post("/doses/{dose_id}/entered-in-error")
def entered_in_error(request: Request, session: SessionDep, user: PatientUser,
                     dose_id: uuid.UUID, form: PostedForm):
    _own_dose_or_404(session, user, dose_id)
    values = form_values(form)
    data = {"dose_id": str(dose_id), "reason": values.get("reason", "")}
    result = _apply(session, user, values.get("client_id", ""), "dose_entered_in_error", data,
                    utcnow(), values.get(WRITTEN_AT))
    if result["status"] == "rejected":
        return _history_refused(request, session, user, result, str(dose_id), values, dose_id)
    return _history_holding(session, dose_id)


@router.post("/doses/{dose_id}/correct")
def correct_dose(request: Request, session: SessionDep, user: PatientUser,
                 dose_id: uuid.UUID, form: PostedForm):
    _own_dose_or_404(session, user, dose_id)
    values = form_values(form)
    key = f"correct-{dose_id}"
    changes: dict = {"lot": values.get("lot", "").strip(),
                     "rx_number": values.get("rx_number", "").strip()}
    if values.get("dose_mg", "").strip():
        changes["dose_mg"] = values["dose_mg"].strip()
    if values.get("taken_at", "").strip():
        try:
            changes["taken_at"] = parse_local(values["taken_at"], user.timezone,
                                              "taken_at").isoformat()
        except Invalid as err:
            return _history_refused(request, session, user, {"errors": err.errors}, key, values,
                                    dose_id)
    data = {"dose_id": str(dose_id), "reason": values.get("reason", ""), "changes": changes}
    result = _apply(session, user, values.get("client_id", ""), "dose_revision", data, utcnow(),
                    values.get(WRITTEN_AT))
    if result["status"] == "rejected":
        return _history_refused(request, session, user, result, key, values, dose_id)
    return _history_holding(session, dose_id, corrected="1")


@router.get("/supply")
def supply(request: Request, session: SessionDep, user: PatientUser,
           before: Annotated[str | None, Query(max_length=100)] = None):
    cursor = pages.Cursor.decode(before)
    if _appending(request, cursor):
        return render(request, "doses/supply.html",
                      {"rows": ledger.ledger_page(session, user.id, cursor), "appending": True},
                      block="ledger_rows")
    return render(request, "doses/supply.html", _supply_context(session, user, before=cursor))


def _supply_context(session, user, before: pages.Cursor | None = None, **extra):
    now = utcnow()
    values = {"fill_client_id": new_client_id(), "count_client_id": new_client_id(),
              "fill_filled_on": now.astimezone(ZoneInfo(user.timezone)).date().isoformat(),
              "count_counted_at": local_input(now, user.timezone)}
    version = protocols.current(session, user.id)
    if version is not None:
        values["fill_strength_mg"] = f"{version.strength_mg.normalize():f}"
    values.update(extra.pop("values", {}))
    return {"ledger": ledger.ledger_summary(session, user, now), "values": values,
            "rows": ledger.ledger_page(session, user.id, before), **extra}


def _supply_refused(request: Request, session: Session, user: User, values: dict,
                    result: dict, form: str):
    """The supply page again, nothing written, the refusal beside the field of `form` (the
    page's two forms prefix their fields with fill_ and count_)."""
    session.rollback()
    errors = {f"{form}_{k}": v for k, v in (result.get("errors") or {}).items()}
    errors = errors or {form: result.get("detail") or _("That did not work.")}
    return render(request, "doses/supply.html",
                  _supply_context(session, user, values=values, errors=errors),
                  status_code=422)


@router.post("/supply/fill")
def record_fill(request: Request, session: SessionDep, user: PatientUser, form: PostedForm):
    values = form_values(form)
    data = {k: (values.get(f"fill_{k}") or "").strip() or None
            for k in ("filled_on", "count", "strength_mg", "rx_number", "pharmacy", "lot")}
    data = {k: v for k, v in data.items() if v is not None}
    result = _apply(session, user, values.get("fill_client_id", ""), "ledger_fill", data,
                    utcnow(), values.get(WRITTEN_AT))
    if result["status"] == "rejected":
        return _supply_refused(request, session, user, values, result, "fill")
    return see_other("/supply?saved=fill")


@router.post("/supply/count")
def record_count(request: Request, session: SessionDep, user: PatientUser, form: PostedForm):
    values = form_values(form)
    try:
        counted_at = parse_local(values.get("count_counted_at", ""), user.timezone,
                                 "counted_at")
        data = {"counted_at": counted_at.isoformat(),
                "count": values.get("count_count", "").strip()}
        result = _apply(session, user, values.get("count_client_id", ""), "ledger_count", data,
                        utcnow(), values.get(WRITTEN_AT))
    except Invalid as err:
        result = {"status": "rejected", "errors": err.errors}
    if result["status"] == "rejected":
        return _supply_refused(request, session, user, values, result, "count")
    return see_other("/supply?saved=count")
