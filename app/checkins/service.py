"""Check-ins and questionnaires: validate against the catalogue, score, follow the safety path,
and say what is due."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from app.accounts.models import Role, User
from app.careteam import access
from app.checkins import rules
from app.checkins.instruments import (
    CATALOGUE,
    MEASURES,
    SEDATION,
    SEVERITY,
    SIDE_EFFECTS,
    SITTER_CHECKLIST,
    SLOTS,
    VERSIONS,
    IncompleteAnswers,
    instrument_for,
    normalise,
    score,
)
from app.checkins.models import CheckIn, CheckinSettings, QuestionnaireResponse, SafetyEvent
from app.config import settings as app_settings
from app.doses.models import Dose, DoseStatus
from app.errors import Invalid
from app.i18n import gettext as _
from app.i18n import ngettext
from app.protocols import service as protocols
from app.protocols.models import ProtocolVersion
from app.safety import service as safety
from app.supervision.rules import EARLY, RECHECK_AT
from app.validation import parse
from app.web.formats import format_datetime, full_stop, parse_time

FUTURE_TOLERANCE = timedelta(minutes=10)
OLDEST_ENTRY = timedelta(days=30)
TEXT_LIMIT = 1000  # a check-in note; forms show it and count towards it
NEXT_MORNING_AT = time(9, 0)
# The earliest a next-morning check-in is that check-in (session_entry_opens).
NEXT_MORNING_FROM = time(4, 0)
QUESTIONNAIRE_GRACE_DAYS = 2  # a weekly questionnaire stays due this long after its day
DOSE_SLOTS = ("plus40", "end", "next_morning", "observe")  # these belong to one logged dose
# The end of session without a plan's observation time to go by (the slot's +2 hours).
END_AFTER = timedelta(minutes=SLOTS["end"].offset_minutes or 120)
# How long after a dose the patient's own session check-ins may follow it without naming it.
PATIENT_SLOTS_SPAN = timedelta(hours=36)
# How long before a gate a sitter's co-signed checklist still counts for it ("sitter confirmed").
SITTER_CHECK_VALID = timedelta(hours=2)
# How long after a dose a sitter's entry without a dose id still joins that dose's session.
SESSION_SPAN = timedelta(hours=4)
# A sitter's session entries (not the pre-dose checklist). Made while no dose is logged (the
# patient took it and has not logged it yet), one is saved as it is, with its time, and joins
# the dose whose session it falls in once that dose is logged (join_waiting_entries).
SITTER_SESSION_SLOTS = ("observe", "plus40", "end")


class CheckinInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dose_id: uuid.UUID | None = None
    slot: str
    values: dict[str, Any]


class QuestionnaireInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instrument: str
    answers: list[Any]
    follows_id: uuid.UUID | None = None
    # The wording the patient was shown (the C-SSRS screener's "recent" or
    # "since_last_contact"); when not sent, the patient's record decides (cssrs_version).
    version: str | None = None


def _check_time(value: datetime, now: datetime) -> None:
    if value > now + FUTURE_TOLERANCE:
        raise Invalid(_("That time is in the future."), field="recorded_at")
    if value < now - OLDEST_ENTRY:
        raise Invalid(_("That is more than 30 days ago."), field="recorded_at")


def clean_values(values: dict[str, Any]) -> dict[str, Any]:
    """Check each value against its measure; raise Invalid naming every field that is wrong
    (all of them at once, so the form marks each, not one per try)."""
    if not values:
        raise Invalid(_("Answer at least one question."), field="values")
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in values.items():
        measure = MEASURES.get(key)
        if measure is None:
            errors[key] = _("Unknown value: %(key)s.", key=key)
            continue
        kind = measure.kind
        if kind in ("scale", "choice", "int"):
            if type(value) is not int or not (measure.low <= value <= measure.high):  # type: ignore[operator]
                errors[key] = _("Enter a whole number from %(low)s to %(high)s.",
                                low=measure.low, high=measure.high)
                continue
        elif kind == "severity":
            if value not in SEVERITY:
                errors[key] = _("Choose none, mild, moderate or severe.")
                continue
        elif kind == "bool":
            if type(value) is not bool:
                errors[key] = _("Answer yes or no.")
                continue
        elif kind == "text":
            if not isinstance(value, str):
                errors[key] = _("Use at most %(limit)s characters.", limit=TEXT_LIMIT)
                continue
            # A browser sends a line break as CRLF: count it as the one character the person saw.
            value = value.replace("\r\n", "\n")
            if len(value) > TEXT_LIMIT:
                # Never cut: refuse, say by how much, and the form keeps what was typed.
                errors[key] = _("This is %(n)s characters; the limit is %(limit)s. Shorten it by "
                                "%(over)s and save again.", n=len(value), limit=TEXT_LIMIT,
                                over=len(value) - TEXT_LIMIT)
                continue
            value = value.strip()
            if not value:
                continue
        clean[key] = value
    if "systolic" in clean and "diastolic" in clean and clean["diastolic"] >= clean["systolic"]:
        errors["diastolic"] = _("The lower number (diastolic) must be below the upper "
                                "(systolic).")
    if errors:
        raise Invalid(_field_errors_message(errors), errors=errors)
    if not clean:
        raise Invalid(_("Answer at least one question."), field="values")
    return clean


def _field_errors_message(errors: dict[str, str]) -> str:
    """The whole refusal in one message (an API answer, an entry refused from the phone's
    outbox): one error is its own words; several are each named by what the person saw."""
    if len(errors) == 1:
        return next(iter(errors.values()))
    return " ".join(
        f"{_(MEASURES[key].label) if key in MEASURES else key}: {text}"
        for key, text in errors.items())


def _flags(values: dict[str, Any]) -> list[str]:
    flags = []
    if any(values.get(effect) == "severe" for effect in SIDE_EFFECTS):
        flags.append("severe_side_effect")
    if values.get("sedation") == 3:
        flags.append("hard_to_rouse")
    if values.get("breathing") is True:
        flags.append("breathing_concern")
    if values.get("systolic", 0) >= 180 or values.get("diastolic", 0) >= 120:
        flags.append("bp_emergency")
    return flags


def _at_hold_level(session: Session, patient_id: uuid.UUID, values: dict[str, Any]) -> bool:
    version = protocols.current(session, patient_id)
    if version is None or "systolic" not in values or "diastolic" not in values:
        return False
    return (values["systolic"] >= version.bp_hold_systolic
            or values["diastolic"] >= version.bp_hold_diastolic)


def _settings(session: Session, patient_id: uuid.UUID) -> CheckinSettings:
    return session.get(CheckinSettings, patient_id) or CheckinSettings(patient_id=patient_id)


def settings_for(session: Session, patient_id: uuid.UUID) -> CheckinSettings:
    return _settings(session, patient_id)


def update_patient_settings(session: Session, *, patient: User, mood_time: str,
                            share_alerts: bool) -> CheckinSettings:
    """The patient's choices: when to be asked about mood, and whether safety alerts may
    reach their caregiver."""
    try:
        at = parse_time(mood_time)
    except ValueError:
        raise Invalid(full_stop(_("Enter a time like %(example)s",
                                  example=format_datetime(time(20, 0), "time"))),
                      field="mood_time") from None
    settings = _settings(session, patient.id)
    settings.mood_time = at.replace(second=0, microsecond=0, tzinfo=None)
    settings.share_alerts_with_caregiver = share_alerts
    session.add(settings)
    session.flush()
    return settings


def update_share_alerts(session: Session, *, patient: User, share: bool) -> CheckinSettings:
    """Whether safety alerts may reach the patient's caregivers (the same consent as on the
    Check-ins page, offered on Care team too, where patients look for it)."""
    settings = _settings(session, patient.id)
    settings.share_alerts_with_caregiver = share
    session.add(settings)
    session.flush()
    return settings


# How long after a session's dose or +40 minute check-in was due, unlogged, the caregivers who
# accepted alerts are told (minutes); NULL on the record: the clinic's default.
CAREGIVER_ALERT_CHOICES = (15, 30, 45, 60, 90, 120)


def caregiver_alert_delay(settings: CheckinSettings | None) -> timedelta:
    """The patient's delay before a missed dose or check-in reaches their caregivers."""
    minutes = settings.caregiver_alert_minutes if settings else None
    return timedelta(minutes=minutes or app_settings.caregiver_escalation_minutes)


def caregiver_alert_form(settings: CheckinSettings, action: str,
                         value: str | None = None) -> dict:
    """What the delay form shows: the choices, the clinic default, the saved (or just typed)
    value and where it posts."""
    saved = settings.caregiver_alert_minutes
    return {"choices": CAREGIVER_ALERT_CHOICES,
            "default": app_settings.caregiver_escalation_minutes,
            "value": value if value is not None else (str(saved) if saved else ""),
            "action": action}


def _set_caregiver_alert_minutes(session: Session, patient_id: uuid.UUID,
                                 minutes: str) -> CheckinSettings:
    minutes = (minutes or "").strip()
    if minutes and minutes not in {str(n) for n in CAREGIVER_ALERT_CHOICES}:
        raise Invalid(_("Choose one of the times offered."), field="caregiver_alert_minutes")
    settings = _settings(session, patient_id)
    settings.caregiver_alert_minutes = int(minutes) if minutes else None
    session.add(settings)
    session.flush()
    return settings


def update_caregiver_alert_minutes(session: Session, *, patient: User,
                                   minutes: str) -> CheckinSettings:
    """The patient's own choice of how long a missed dose or check-in waits before their
    caregivers are told ("" for the clinic's default)."""
    return _set_caregiver_alert_minutes(session, patient.id, minutes)


def set_caregiver_alert_minutes_for(session: Session, *, prescriber: User,
                                    patient_id: uuid.UUID, minutes: str) -> CheckinSettings:
    """The prescriber sets the same delay for a patient of theirs."""
    access.require_patient_access(session, prescriber, patient_id, access.Purpose.MANAGE_PROTOCOL)
    return _set_caregiver_alert_minutes(session, patient_id, minutes)


def update_questionnaire_schedule(session: Session, *, prescriber: User, patient_id: uuid.UUID,
                                  weekday: str, every_weeks: str) -> CheckinSettings:
    """The prescriber's choice of day and cadence (weekly or every two weeks) for PHQ-9/GAD-7."""
    access.require_patient_access(session, prescriber, patient_id, access.Purpose.MANAGE_PROTOCOL)
    errors = {}
    if weekday not in {str(n) for n in range(7)}:
        errors["questionnaire_weekday"] = _("Choose a day of the week.")
    if every_weeks not in ("1", "2"):
        errors["questionnaire_every_weeks"] = _("Choose weekly or every two weeks.")
    if errors:
        raise Invalid(errors=errors)
    settings = _settings(session, patient_id)
    settings.questionnaire_weekday = int(weekday)
    settings.questionnaire_every_weeks = int(every_weeks)
    session.add(settings)
    session.flush()
    return settings


def _ready_alone_words(refusal: rules.Refusal, tz: ZoneInfo, at: datetime,
                       own: bool = False) -> str:
    """`own`: the patient's own entry, spoken to them ("you must respond normally")."""
    p = refusal.params
    code = rules.ReadyAloneCode
    if refusal.code == code.TOO_SOON:
        allowed = p["allowed_from"].astimezone(tz)
        fmt = "time" if allowed.date() == at.astimezone(tz).date() else "datetime"
        return _("Ready to be alone can be recorded from %(time)s, the end of the "
                 "%(minutes)s-minute observation after the dose.",
                 time=format_datetime(allowed, fmt), minutes=p["observation_minutes"])
    if refusal.code == code.NO_SEDATION:
        return (_("First record sedation (ask your sitter): you must respond normally.") if own
                else _("First record sedation: they must respond normally."))
    if refusal.code == code.SEDATED:
        label = _(str(next((o.label for o in SEDATION if o.value == p["sedation"]),
                           p["sedation"])))
        return (_("You must respond normally; the latest sedation check is “%(label)s”.",
                  label=label) if own else
                _("They must respond normally; the latest sedation check is “%(label)s”.",
                  label=label))
    if refusal.code == code.NO_BP:
        return _("First take a blood pressure reading.")
    return _("The latest blood pressure, %(s)s/%(d)s, is at or above the hold level of "
             "%(hs)s/%(hd)s.", s=p["systolic"], d=p["diastolic"], hs=p["hold_systolic"],
             hd=p["hold_diastolic"])


def _check_ready_alone(session: Session, patient: User, slot_key: str, dose: Dose | None,
                       recorded_at: datetime, values: dict[str, Any], own: bool = False,
                       reader_tz: ZoneInfo | None = None) -> None:
    """Refuse "ready to be alone" unless the session allows it (rules.ready_alone_refusals):
    the end of the observation period of the dose's protocol version, sedation normal and
    blood pressure below that version's hold level, from this check-in or the latest earlier
    one for the same dose. The pre-dose check is not a reading of the session."""
    if slot_key != "end":
        raise Invalid(_("Ready to be alone is answered at the end of a session."),
                      field="ready_alone")
    if dose is None:
        raise Invalid(_("No dose is logged yet: ready to be alone can be recorded once the "
                        "dose is logged and the observation time is over."), field="ready_alone")
    version = session.get_one(ProtocolVersion, dose.protocol_version_id)
    earlier = [
        rules.Reading(at=c.recorded_at, values=c.values)
        for c in session.exec(
            select(CheckIn).where(CheckIn.dose_id == dose.id, CheckIn.slot != "pre")
            .order_by(col(CheckIn.recorded_at))
        ).all()
    ]
    refusals = rules.ready_alone_refusals(
        taken_at=dose.taken_at, at=recorded_at,
        observation_minutes=version.observation_minutes, hold_systolic=version.bp_hold_systolic,
        hold_diastolic=version.bp_hold_diastolic, values=values, earlier=earlier,
    )
    if refusals:
        tz = reader_tz or ZoneInfo(patient.timezone)  # the writer's, as their form says times
        raise Invalid(" ".join(_ready_alone_words(r, tz, recorded_at, own) for r in refusals),
                      field="ready_alone")


def record_checkin(
    session: Session, *, patient: User, author: User, checkin_id: uuid.UUID,
    recorded_at: datetime, data: dict, now: datetime, waiting: bool = False,
) -> CheckIn:
    """`waiting`: a sitter's session entry made while no dose is logged, saved without one
    (record_sitter_checkin decides)."""
    payload = parse(CheckinInput, data)
    _check_time(recorded_at, now)
    slot = SLOTS.get(payload.slot)
    if slot is None:
        raise Invalid(_("Unknown check-in: %(slot)s.", slot=payload.slot), field="slot")
    # The patient records their own slots; a sitter (a caregiver writing for the patient, whose
    # link app/sync checked) records theirs: the record says who observed what.
    by = "patient" if author.id == patient.id else "caregiver"
    if by not in slot.authors:
        raise Invalid(_("This check-in is recorded by the sitter, from their own account.")
                      if by == "patient" else
                      _("This check-in is the patient's own."), field="slot")
    if slot.key in DOSE_SLOTS and payload.dose_id is None and by == "patient":
        # Opened without its dose (a typed address, a bookmark, a page kept offline without its
        # link): it follows the latest dose before it, within the span these check-ins run over
        # (the next morning's included), judged at the entry's own time, as the phone made it.
        follows = session_dose(session, patient.id, recorded_at, span=PATIENT_SLOTS_SPAN)
        if follows is not None:
            payload.dose_id = follows.id
    if slot.key in DOSE_SLOTS and payload.dose_id is None and not (
            waiting and by == "caregiver" and slot.key in SITTER_SESSION_SLOTS):
        raise Invalid(_("This check-in follows a dose, and there is no recent dose for it. Log "
                        "your dose first."), field="dose_id")
    dose: Dose | None = None
    if payload.dose_id is not None:
        dose = session.get(Dose, payload.dose_id)
        if dose is None or dose.patient_id != patient.id:
            raise Invalid(_("That dose was not found."), field="dose_id")
        if slot.key in DOSE_SLOTS and not session_entry_fits(dose, recorded_at):
            # A reading made now is not that session's +40 minutes or its end: joined to a dose
            # weeks old it read "+56189 min" inside that session's record.
            raise Invalid(_("That session is over: entries for it can be added up to 36 hours "
                            "after its dose. For how you are now, use the daily check-in."),
                          field="dose_id")
        opens = entry_opens(session, slot.key, dose, ZoneInfo(patient.timezone))
        if opens is not None and recorded_at < opens:
            # A reading a minute after the dose is not the +40 minute recheck: counted as one,
            # it marked the recheck done and its reminder went.
            # In the writer's zone, as their form's notice says it: a sitter in New York read
            # the Los Angeles patient's 4:58 PM, already past for them, under "opens at 7:58".
            raise Invalid(opens_words(slot.key, opens, ZoneInfo(author.timezone)),
                          field="dose_id")
    values = clean_values(payload.values)
    # A sitter records what their slot asks, nothing of the patient's own (mood, a morning).
    unknown = sorted(set(values) - set(slot.measures)) if by == "caregiver" else []
    if unknown:
        raise Invalid(_("Not part of this check-in: %(key)s.", key=unknown[0]), field=unknown[0])
    if slot.key == "sitter_check":
        missing = [k for k in SITTER_CHECKLIST if values.get(k) is not True]
        if missing:
            # Every item not answered Yes is marked, not only the first.
            raise Invalid(_("Tick every item: the checklist is only co-signed when all are "
                            "true."),
                          errors={k: _("Answer Yes: the checklist is only co-signed when every "
                                       "item is Yes.") for k in missing})
    if values.get("ready_alone") is True:
        _check_ready_alone(session, patient, slot.key, dose, recorded_at, values,
                           own=by == "patient", reader_tz=ZoneInfo(author.timezone))
    flags = _flags(values)
    if slot.key == "sitter_check" and "bp_emergency" not in flags and _at_hold_level(
            session, patient.id, values):
        # A sitter's reading at the plan's hold level: marked on the checklist (its badge on
        # the prescriber's timeline) and said to the sitter. It was stored and never shown: a
        # sitter co-signed at 172/108 and read "Checklist co-signed", all clear.
        flags.append("bp_hold")
    checkin = CheckIn(id=checkin_id, patient_id=patient.id, author_id=author.id,
                      dose_id=payload.dose_id, slot=slot.key, values=values,
                      recorded_at=recorded_at, received_at=now, flags=flags)
    session.add(checkin)
    session.flush()
    # A reading at or above 180/120 is an event too: the dosing gate reads these to hold dosing
    # for the protocol's lockout period. Through raise_event, so the alerts it calls for are
    # raised in this transaction.
    for flag in flags:
        if flag in ("severe_side_effect", "hard_to_rouse", "breathing_concern", "bp_emergency"):
            safety.raise_event(session, patient_id=patient.id, kind=flag, level="high",
                               occurred_at=recorded_at, source_id=checkin.id,
                               details={"slot": slot.key, "values": values}, now=now)
    session.flush()
    return checkin


def _uuid_or_none(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value not in (None, "") else None
    except ValueError:
        raise Invalid(_("That dose was not found."), field="dose_id") from None


def session_entry_opens(slot_key: str, dose: Dose, tz: ZoneInfo,
                        observation: timedelta | None = None) -> datetime | None:
    """The earliest an entry of `slot_key` for `dose` is that entry, or None when any time in
    the session will do. `observation`: the dose's plan's observation time, when the session
    ends."""
    if slot_key == "plus40":
        # From when the sitter's prompt counts the recheck done: 35 minutes after the dose.
        return dose.taken_at + timedelta(minutes=RECHECK_AT) - EARLY
    if slot_key == "end":
        # 5 minutes before the observation time is over, as the +40 recheck opens 5 minutes
        # early: the last reading comes first, "ready to be alone" once it is over. A reading
        # minutes after the dose was saved as the end of the session, marked done.
        return dose.taken_at + (observation or END_AFTER) - EARLY
    if slot_key == "next_morning":
        return _at(_local(dose.taken_at, tz).date() + timedelta(days=1), NEXT_MORNING_FROM, tz)
    return None


def observation_of(session: Session, dose: Dose) -> timedelta:
    """The observation time of the plan the dose was taken under: when its session ends."""
    version = session.get(ProtocolVersion, dose.protocol_version_id)
    return timedelta(minutes=version.observation_minutes) if version else END_AFTER


def observations(session: Session, doses: list[Dose]) -> dict[uuid.UUID, timedelta]:
    """observation_of for many doses in one read: by protocol version id."""
    ids = {d.protocol_version_id for d in doses}
    if not ids:
        return {}
    return {vid: timedelta(minutes=minutes) for vid, minutes in session.exec(
        select(ProtocolVersion.id, ProtocolVersion.observation_minutes)
        .where(col(ProtocolVersion.id).in_(ids))).all()}


def entry_opens(session: Session, slot_key: str, dose: Dose, tz: ZoneInfo) -> datetime | None:
    """session_entry_opens for `dose` (its patient's zone `tz`), with its own plan's
    observation time."""
    return session_entry_opens(slot_key, dose, tz, observation_of(session, dose))


def opens_later(session: Session, slot_key: str, dose: Dose | None, patient_tz: ZoneInfo,
                now: datetime) -> datetime | None:
    """When this session entry opens, if after `now`. The patient's and the sitter's forms say
    it before anything is typed (`opens_words`, in the reader's zone: a tester filled in the
    +40 recheck, and only the refusal said it was not open), and carry it, so the phone refuses
    an entry made before then offline as the server would (a phone tester's +40 recheck was
    "saved on this phone" at once, and refused when sent)."""
    opens = entry_opens(session, slot_key, dose, patient_tz) if dose else None
    return opens if opens is not None and opens > now else None


def opens_words(slot_key: str, opens: datetime, tz: ZoneInfo) -> str:
    """When a session entry opens, in words: the refusal's, and the form's before it opens."""
    shown = _local(opens, tz)
    if slot_key == "plus40":
        return _("The +40 minute recheck opens at %(time)s, 35 minutes after the dose.",
                 time=format_datetime(shown, "time"))
    if slot_key == "end":
        return _("The end-of-session check-in opens at %(time)s, 5 minutes before the "
                 "observation time is over.", time=format_datetime(shown, "time"))
    return _("The next-morning check-in opens at %(time)s.",
             time=format_datetime(shown, "weekday_time"))


def session_entry_fits(dose: Dose, at: datetime) -> bool:
    """Whether an entry made at `at` can belong to the session of `dose`: from the dose's time
    (a little clock skew allowed) to PATIENT_SLOTS_SPAN after it (the next morning's included)."""
    return dose.taken_at - FUTURE_TOLERANCE <= at <= dose.taken_at + PATIENT_SLOTS_SPAN


def session_dose(session: Session, patient_id: uuid.UUID, at: datetime,
                 span: timedelta = SESSION_SPAN) -> Dose | None:
    """The dose whose session a sitter's entry at `at` belongs to: the latest recorded dose
    taken at or before it (a little clock skew allowed) within SESSION_SPAN. A sitter whose
    page was loaded before the dose synced can still observe; the entry joins that session."""
    return session.exec(
        select(Dose).where(Dose.patient_id == patient_id, Dose.status == DoseStatus.RECORDED,
                           col(Dose.taken_at) <= at + FUTURE_TOLERANCE,
                           col(Dose.taken_at) >= at - span)
        .order_by(col(Dose.taken_at).desc())
    ).first()


def record_sitter_checkin(
    session: Session, *, patient: User, sitter: User, checkin_id: uuid.UUID,
    recorded_at: datetime, data: dict, now: datetime,
) -> CheckIn:
    """A sitter's entry: the pre-dose checklist (no dose), or an observation, the +40 minute
    recheck or the end of the session, joined to the session the entry's time falls in
    (session_dose), whichever dose the sitter's page named.

    With no dose logged for it yet (the patient took the troche and has not logged it), the
    entry is never refused for that: it is saved as it is, with its time (a hard-to-rouse or
    breathing observation raises its safety event and alerts at once, as after a dose), and
    joins the dose's session when the dose is logged (join_waiting_entries). Only "ready to be
    alone" needs the dose first."""
    if sitter.id == patient.id or sitter.role != Role.CAREGIVER:
        raise Invalid(_("Only a sitter records this, from their own account."), field="slot")
    waiting = False
    if isinstance(data, dict) and data.get("slot") in DOSE_SLOTS:
        # The session an entry joins is the one its time falls in, whatever dose the page named:
        # a page kept open, or a dose id typed in, must not put tonight's observation in a
        # session weeks old (or in one a later dose has since begun). A dose that is not this
        # patient's is refused by name, as everywhere.
        named = _uuid_or_none(data.get("dose_id"))
        named_dose = session.get(Dose, named) if named is not None else None
        if named is not None and (named_dose is None or named_dose.patient_id != patient.id):
            raise Invalid(_("That dose was not found."), field="dose_id")
        dose = session_dose(session, patient.id, recorded_at)
        if dose is None:
            data = {k: v for k, v in data.items() if k != "dose_id"}
            waiting = True
        else:
            data = {**data, "dose_id": str(dose.id)}
    return record_checkin(session, patient=patient, author=sitter, checkin_id=checkin_id,
                          recorded_at=recorded_at, data=data, now=now, waiting=waiting)


def _waiting_query(patient_id: uuid.UUID):
    return select(CheckIn).where(
        CheckIn.patient_id == patient_id, col(CheckIn.dose_id).is_(None),
        col(CheckIn.slot).in_(SITTER_SESSION_SLOTS), CheckIn.author_id != patient_id)


def waiting_sitter_entries(session: Session, patient_id: uuid.UUID, since: datetime,
                           until: datetime) -> list[CheckIn]:
    """A sitter's session entries recorded in [since, until] that no dose's session holds
    (yet), in time order."""
    return list(session.exec(
        _waiting_query(patient_id).where(col(CheckIn.recorded_at) >= since,
                                         col(CheckIn.recorded_at) <= until)
        .order_by(col(CheckIn.recorded_at), col(CheckIn.id))).all())


def join_waiting_entries(session: Session, patient_id: uuid.UUID, dose_id: uuid.UUID) -> int:
    """A dose was logged (or its time corrected): the sitter's entries saved while no dose was
    logged join it when its session is the one they fall in, by the rule an entry arriving
    after the dose follows (session_dose: recorded from the dose's time, a little clock skew
    allowed, to SESSION_SPAN after, with no later dose in between). One recorded before the
    dose was taken stays on its own: it was not part of the session. Returns how many joined.
    """
    dose = session.get(Dose, dose_id)
    if dose is None or dose.patient_id != patient_id or dose.status != DoseStatus.RECORDED:
        return 0
    found = waiting_sitter_entries(session, patient_id, dose.taken_at - FUTURE_TOLERANCE,
                                   dose.taken_at + SESSION_SPAN)
    joined = 0
    for entry in found:
        home = session_dose(session, patient_id, entry.recorded_at)
        if home is not None and home.id == dose.id:
            entry.dose_id = dose.id
            session.add(entry)
            joined += 1
    if joined:
        session.flush()
    return joined


def sitter_check_for_gate(session: Session, patient_id: uuid.UUID,
                          at: datetime) -> CheckIn | None:
    """The sitter's co-signed checklist a gate at `at` was checked with: the latest within
    SITTER_CHECK_VALID before it (a little clock skew after it allowed), from a caregiver
    still on the care team. A sitter the patient removed had still "confirmed" the next check,
    on Today and in the session's record."""
    checks = session.exec(
        select(CheckIn).where(CheckIn.patient_id == patient_id, CheckIn.slot == "sitter_check",
                              col(CheckIn.recorded_at) >= at - SITTER_CHECK_VALID,
                              col(CheckIn.recorded_at) <= at + FUTURE_TOLERANCE)
        .order_by(col(CheckIn.recorded_at).desc())
    ).all()
    for check in checks:
        author = session.get(User, check.author_id)
        if author is not None and access.caregiver_link(session, author, patient_id, at):
            return check
    return None


@dataclass(frozen=True)
class SitterConfirmation:
    name: str
    at: datetime


def sitter_confirmation(session: Session, patient_id: uuid.UUID, gate: Any,
                        now: datetime) -> SitterConfirmation | None:
    """Who co-signed the checklist for the patient's latest gate (the one it was checked with),
    or, before a gate, the co-signed checklist that the next gate will be checked with."""
    check_id = getattr(gate, "sitter_check_id", None)
    check = (session.get(CheckIn, check_id) if check_id
             else sitter_check_for_gate(session, patient_id, now))
    if check is None:
        return None
    author = session.get(User, check.author_id)
    return SitterConfirmation(author.display_name if author else "", check.recorded_at)


@dataclass
class Scored:
    response: QuestionnaireResponse
    crisis: bool


def record_questionnaire(
    session: Session, *, patient: User, response_id: uuid.UUID, completed_at: datetime,
    data: dict, now: datetime,
) -> QuestionnaireResponse:
    payload = parse(QuestionnaireInput, data)
    _check_time(completed_at, now)
    instrument = CATALOGUE.get(payload.instrument)
    if instrument is None:
        raise Invalid(_("Unknown questionnaire: %(key)s.", key=payload.instrument),
                      field="instrument")
    version: str | None = None
    if instrument.key in VERSIONS:
        version = payload.version or cssrs_version(session, patient.id, completed_at)[0]
        instrument = instrument_for(instrument.key, version)  # type: ignore[assignment]
        if instrument is None:
            raise Invalid(_("Unknown version: %(v)s.", v=version), field="version")
    elif payload.version is not None:
        raise Invalid(_("This questionnaire has only one version."), field="version")
    try:
        answers = normalise(instrument, payload.answers)
    except IncompleteAnswers as err:
        if not err.errors:  # not a list, or the wrong length: nothing to say item by item
            raise Invalid(str(err), field="answers") from None
        # Each question's own words, all at once; the whole said without item keys, as an
        # entry refused from the phone's outbox shows it.
        raise Invalid(ngettext("%(num)s question needs an answer.",
                               "%(num)s questions need an answer.", len(err.errors)),
                      errors=err.errors) from None
    if payload.follows_id is not None:
        earlier = session.get(QuestionnaireResponse, payload.follows_id)
        if earlier is None or earlier.patient_id != patient.id:
            raise Invalid(_("The questionnaire this follows was not found."),
                          field="follows_id")
    result = score(instrument, answers)
    response = QuestionnaireResponse(
        id=response_id, patient_id=patient.id, instrument=instrument.key, answers=answers,
        score=result.total, band=result.band, risk=result.risk, follow_up=result.follow_up,
        follows_id=payload.follows_id, completed_at=completed_at, received_at=now,
        version=version,
    )
    session.add(response)
    session.flush()
    details = {"instrument": instrument.key, "answers": answers, "score": result.total}
    if instrument.key == "phq9" and result.follow_up == "cssrs":
        # Item 9 above 0 is a flag in its own right until a screener says more: never "low".
        # A PHQ-9 arriving late from an offline phone may already have its screener here.
        screener = _first_screener_since(session, patient.id, completed_at)
        level = "unscreened"
        if screener is not None:
            level, details = "screened", _screened_by(details, screener)
        safety.raise_event(session, patient_id=patient.id, kind="phq9_item9",
                           level=level, occurred_at=completed_at, source_id=response.id,
                           details=details, now=now)
    if instrument.key == "cssrs":
        # Every item 9 flag this screener comes at or after, within the two weeks the hold and
        # Today's prompt wait for one, now says what it found, the one it follows and any
        # earlier one alike: the rule the dosing hold and Today's prompt judge by
        # (safety.states, unscreened_item9), so the prescriber's list and the unanswered-
        # screener alert agree with them. The first such screener speaks for a flag: one that
        # arrives late from an offline phone takes the place of a later one already here.
        # By patient first: the patient's own events by index.
        for flag in session.exec(select(SafetyEvent).where(
                SafetyEvent.patient_id == patient.id,
                SafetyEvent.kind == "phq9_item9",
                col(SafetyEvent.occurred_at) <= completed_at,
                col(SafetyEvent.occurred_at) >= completed_at - safety.UNSCREENED_SHOWN_FOR,
        )).all():
            if flag.level == "screened" and not _screened_later(session, flag, completed_at):
                continue
            flag.level = "screened"
            flag.details = _screened_by(flag.details, response)
            session.add(flag)
        if result.risk not in (None, "none"):
            # High risk holds dosing until a prescriber reviews it (app/safety), and alerts
            # the care team.
            safety.raise_event(session, patient_id=patient.id, kind="positive_screen",
                               level=result.risk or "low", occurred_at=completed_at,
                               source_id=response.id, details=details,
                               holds_dosing=result.risk == "high", now=now)
    session.flush()
    if version is not None:
        # The screener's wording travels with its safety events, so the prescriber's list shows
        # the questions as they were asked ("since last contact" or not).
        for event in session.exec(select(SafetyEvent).where(
                SafetyEvent.patient_id == patient.id,
                SafetyEvent.source_id == response.id)).all():
            event.details = {**event.details, "version": version}
        session.flush()
    return response


def _first_screener_since(session: Session, patient_id: uuid.UUID,
                          at: datetime) -> QuestionnaireResponse | None:
    """The first screener answered at or after `at`, within the two weeks one is waited for."""
    return session.exec(
        select(QuestionnaireResponse)
        .where(QuestionnaireResponse.patient_id == patient_id,
               QuestionnaireResponse.instrument == "cssrs",
               col(QuestionnaireResponse.completed_at) >= at,
               col(QuestionnaireResponse.completed_at) <= at + safety.UNSCREENED_SHOWN_FOR)
        .order_by(col(QuestionnaireResponse.completed_at)).limit(1)
    ).first()


def _screened_later(session: Session, flag: SafetyEvent, completed_at: datetime) -> bool:
    """Whether the screener that screened this flag was answered after `completed_at`."""
    try:
        screener = session.get(QuestionnaireResponse, uuid.UUID(str(flag.details["screener_id"])))
    except (KeyError, ValueError):
        return False
    return screener is not None and screener.completed_at > completed_at


def _screened_by(details: dict, screener: QuestionnaireResponse) -> dict:
    return {**details, "screened_risk": screener.risk, "screener_id": str(screener.id)}


def cssrs_version(session: Session, patient_id: uuid.UUID,
                  at: datetime) -> tuple[str, datetime | None]:
    """Which C-SSRS screener wording a screen at `at` uses, and when the last one was: the
    recent version the first time, "since last contact" once the patient has an earlier one."""
    last = session.exec(
        select(QuestionnaireResponse.completed_at)
        .where(QuestionnaireResponse.patient_id == patient_id,
               QuestionnaireResponse.instrument == "cssrs",
               col(QuestionnaireResponse.completed_at) < at)
        .order_by(col(QuestionnaireResponse.completed_at).desc())
    ).first()
    return ("since_last_contact", last) if last is not None else ("recent", None)


# --- reading --------------------------------------------------------------------------------


def checkins_between(session: Session, patient_id: uuid.UUID, start: datetime,
                     end: datetime) -> list[CheckIn]:
    return list(session.exec(
        select(CheckIn).where(CheckIn.patient_id == patient_id,
                              col(CheckIn.recorded_at) >= start, col(CheckIn.recorded_at) < end)
        .order_by(col(CheckIn.recorded_at))
    ).all())


def responses_between(session: Session, patient_id: uuid.UUID, start: datetime, end: datetime,
                      instrument: str | None = None) -> list[QuestionnaireResponse]:
    stmt = select(QuestionnaireResponse).where(
        QuestionnaireResponse.patient_id == patient_id,
        col(QuestionnaireResponse.completed_at) >= start,
        col(QuestionnaireResponse.completed_at) < end,
    )
    if instrument:
        stmt = stmt.where(QuestionnaireResponse.instrument == instrument)
    return list(session.exec(stmt.order_by(col(QuestionnaireResponse.completed_at))).all())


def safety_events(session: Session, patient_id: uuid.UUID, since: datetime) -> list[SafetyEvent]:
    return list(session.exec(
        select(SafetyEvent).where(SafetyEvent.patient_id == patient_id,
                                  col(SafetyEvent.occurred_at) >= since)
        .order_by(col(SafetyEvent.occurred_at).desc())
    ).all())


# --- what is due --------------------------------------------------------------------------------


@dataclass
class Due:
    key: str  # "daily", "phq9", "gad7", or "<slot>:<dose id>"
    title: str
    state: str  # upcoming / due / done / missed
    due_at: datetime
    url: str
    # When its form opens, where that is before it is due (the +40 recheck and the end, 5
    # minutes early): the list said "Later · 10:10 PM" while the form said "opens at 10:05 PM".
    opens_at: datetime | None = None


def _local(dt: datetime, tz: ZoneInfo) -> datetime:
    return dt.astimezone(tz)


def _at(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _state(now: datetime, due_at: datetime, window: timedelta, done: bool) -> str:
    if done:
        return "done"
    if now < due_at:
        return "upcoming"
    if now <= due_at + window:
        return "due"
    return "missed"


def last_questionnaire_day(today: date, weekday: int, every_weeks: int) -> date:
    """The most recent scheduled questionnaire day on or before `today`.

    Every-two-weeks schedules fall on even weeks counted from a fixed Monday (date.min), so the
    day is stable across instances and stays 14 days apart across years with an ISO week 53
    (ISO week parity would leave a three-week gap there).
    """
    day = today - timedelta(days=(today.weekday() - weekday) % 7)
    while every_weeks > 1 and ((day.toordinal() - 1) // 7) % every_weeks:
        day -= timedelta(days=7)
    return day


def due_checkins(session: Session, patient: User, now: datetime,
                 doses: list[Dose] | None = None) -> list[Due]:
    """The check-ins of today and of the last day and a half's sessions, each with its state.
    `doses`: the patient's recorded doses from at least 36 hours before `now` to now, in time
    order, when the caller has read them already (Today has)."""
    tz = ZoneInfo(patient.timezone)
    today = _local(now, tz).date()
    settings = _settings(session, patient.id)
    items: list[Due] = []

    # Daily mood at the time the patient chose.
    mood_at = _at(today, settings.mood_time, tz)
    day_start = _at(today, time(0), tz)
    # Whether one exists, not the days' rows: a caregiver's and the patient's pages ask this on
    # every view, and the rows grew with every check-in (issue 14's profile).
    mood_done = session.exec(
        select(CheckIn.id).where(CheckIn.patient_id == patient.id, CheckIn.slot == "daily",
                                 col(CheckIn.recorded_at) >= day_start,
                                 col(CheckIn.recorded_at) < now + FUTURE_TOLERANCE).limit(1)
    ).first() is not None
    items.append(Due("daily", _("Daily mood"),
                     _state(now, mood_at, timedelta(hours=12), mood_done), mood_at,
                     "/checkins/daily"))

    # Weekly (or fortnightly) PHQ-9 and GAD-7 on the prescriber's day.
    q_day = last_questionnaire_day(today, settings.questionnaire_weekday,
                                   settings.questionnaire_every_weeks)
    # Never due before the account existed: a new patient's first one starts when they joined.
    q_start = max(_at(q_day, time(0), tz), patient.created_at)
    # One read for both questionnaires: which of them has an answer since the day came.
    answered = set(session.exec(
        select(QuestionnaireResponse.instrument).distinct()
        .where(QuestionnaireResponse.patient_id == patient.id,
               col(QuestionnaireResponse.instrument).in_(("phq9", "gad7")),
               col(QuestionnaireResponse.completed_at) >= q_start,
               col(QuestionnaireResponse.completed_at) < now + FUTURE_TOLERANCE)).all())
    for key in ("phq9", "gad7"):
        done = key in answered
        state = _state(now, q_start, timedelta(days=QUESTIONNAIRE_GRACE_DAYS + 1), done)
        items.append(Due(key, _(CATALOGUE[key].title), state, q_start, f"/questionnaires/{key}"))

    # Session check-ins relative to each dose of the last day and a half.
    since = now - timedelta(hours=36)
    if doses is None:
        doses = list(session.exec(
            select(Dose).where(Dose.patient_id == patient.id,
                               Dose.status == DoseStatus.RECORDED, col(Dose.taken_at) >= since)
            .order_by(col(Dose.taken_at))
        ).all())
    else:
        doses = [d for d in doses if d.taken_at >= since]
    # One read for every dose's check-ins (not one per dose).
    slots_of: dict[uuid.UUID, set[str]] = {dose.id: set() for dose in doses}
    if doses:
        for dose_id, slot_key in session.exec(
                select(CheckIn.dose_id, CheckIn.slot)
                .where(col(CheckIn.dose_id).in_(list(slots_of)))).all():
            slots_of[dose_id].add(slot_key)
    for dose in doses:
        done_slots = slots_of[dose.id]
        for slot_key in ("plus40", "end", "next_morning"):
            slot = SLOTS[slot_key]
            window = timedelta(minutes=slot.window_minutes)
            if slot_key == "end":
                # When the plan's observation time is over (not always 2 hours).
                due_at = dose.taken_at + observation_of(session, dose)
            elif slot.offset_minutes is not None:
                due_at = dose.taken_at + timedelta(minutes=slot.offset_minutes)
            else:
                due_at = _at(_local(dose.taken_at, tz).date() + timedelta(days=1),
                             NEXT_MORNING_AT, tz)
            # Due from when its form opens (the +40 recheck and the end 5 minutes early, as the
            # sitter's page counts them), to the same end.
            start = due_at - EARLY if slot_key in ("plus40", "end") else due_at
            state = _state(now, start, window + (due_at - start), slot_key in done_slots)
            items.append(Due(f"{slot_key}:{dose.id}", _(slot.title), state, due_at,
                             f"/checkins/{slot_key}?dose={dose.id}",
                             opens_at=start if start != due_at else None))
    return items


# --- the session record ----------------------------------------------------------------------


@dataclass(frozen=True)
class BpReading:
    """One blood pressure reading of a session: the pre-dose gate ("gate"), a check-in, or a
    safety check made during the session ("gate_during")."""

    at: datetime
    slot: str  # "gate", "pre", "plus40", "end", "gate_during", …
    systolic: int
    diastolic: int
    heart_rate: int | None
    minutes_after_dose: int  # negative before the dose


@dataclass
class SessionRecord:
    dose: Dose
    bp_before: tuple[int, int] | None
    bp_plus40: tuple[int, int] | None
    bp_end: tuple[int, int] | None
    peak_dissociation: int | None
    worst_sedation: int | None
    side_effects: dict[str, str]
    sitter_present: bool | None
    ready_alone_at: datetime | None
    duration_minutes: int | None
    next_morning: dict[str, Any] | None
    # Every reading of the session in time order (the bp_* fields above are summaries).
    readings: list[BpReading] = field(default_factory=list)
    # The sitter: who co-signed the pre-dose checklist (from their own account) and when; their
    # observations; who recorded "ready to be alone" and the summary they wrote.
    sitter_confirmed_by: str | None = None
    sitter_confirmed_at: datetime | None = None
    observations: list["Observed"] = field(default_factory=list)
    ready_alone_by: str | None = None
    summary: str | None = None


@dataclass(frozen=True)
class Observed:
    at: datetime
    minutes_after_dose: int
    by: str
    values: dict[str, Any]
    flags: list[str]


def _bp(values: dict[str, Any]) -> tuple[int, int] | None:
    if "systolic" in values and "diastolic" in values:
        return values["systolic"], values["diastolic"]
    return None


def session_record(session: Session, dose: Dose) -> SessionRecord:
    """One card per dose, like the esketamine monitoring form."""
    return session_records(session, [dose])[dose.id]


def session_records(session: Session, doses: list[Dose]) -> dict[uuid.UUID, SessionRecord]:
    """The session record of each dose, by dose id, in at most five statements however many
    doses (a timeline's fortnight, a page of History, an export's year): their check-ins
    (wherever they fall: an end-of-session entry after midnight belongs to the card), their
    gates, the safety checks made during their sessions, the sitter checklists those gates were
    checked with, and the authors' names."""
    from app.doses.models import GateCheck

    if not doses:
        return {}
    by_dose: dict[uuid.UUID, list[CheckIn]] = {d.id: [] for d in doses}
    for c in session.exec(select(CheckIn).where(col(CheckIn.dose_id).in_(list(by_dose)))
                          .order_by(col(CheckIn.recorded_at), col(CheckIn.id))).all():
        by_dose[c.dose_id].append(c)  # type: ignore[index]
    gate_ids = {d.gate_id for d in doses if d.gate_id}
    gates = {g.id: g for g in session.exec(
        select(GateCheck).where(col(GateCheck.id).in_(gate_ids))).all()} if gate_ids else {}
    # A safety check made during a session, after its dose (checking again, a crisis reading)
    # is one of its readings too: a 185/125 a minute after the dose was on the timeline and
    # not in the session's record.
    during: dict[uuid.UUID, list] = {d.id: [] for d in doses}
    for later in session.exec(
            select(GateCheck).where(
                col(GateCheck.patient_id).in_({d.patient_id for d in doses}),
                col(GateCheck.checked_at) > min(d.taken_at for d in doses),
                col(GateCheck.checked_at) <= max(d.taken_at for d in doses) + SESSION_SPAN)
            .order_by(col(GateCheck.checked_at))).all():
        if later.id in gate_ids:
            continue
        home = max((d for d in doses if d.patient_id == later.patient_id
                    and d.status == DoseStatus.RECORDED
                    and d.taken_at < later.checked_at <= d.taken_at + SESSION_SPAN),
                   key=lambda d: d.taken_at, default=None)
        if home is not None:
            during[home.id].append(later)
    sitter_ids = {g.sitter_check_id for g in gates.values() if g.sitter_check_id}
    sitters = {c.id: c for c in session.exec(
        select(CheckIn).where(col(CheckIn.id).in_(sitter_ids))).all()} if sitter_ids else {}
    authors = {c.author_id for rows in by_dose.values() for c in rows} | {
        c.author_id for c in sitters.values()}
    people = {u.id: u.display_name for u in session.exec(
        select(User).where(col(User.id).in_(authors))).all()} if authors else {}
    found = {}
    for dose in doses:
        gate = gates.get(dose.gate_id) if dose.gate_id else None
        sitter = sitters.get(gate.sitter_check_id) if gate and gate.sitter_confirmed else None
        found[dose.id] = build_session_record(dose, by_dose[dose.id], gate, sitter, people,
                                              during[dose.id])
    return found


def build_session_record(dose: Dose, checkins: list[CheckIn], gate: Any,
                         sitter_check: CheckIn | None,
                         people: dict[uuid.UUID, str], during: list | None = None
                         ) -> SessionRecord:
    """The session record from what `session_records` read, without a query: the dose's
    check-ins in time order, its gate, the sitter's co-signed checklist that gate was checked
    with, authors' names by id, and the safety checks made during the session."""
    by_slot = {c.slot: c.values for c in checkins}
    # A slot can be answered more than once (a recheck, "ready to be alone" later on): the
    # blood pressure is the latest reading in that slot, not lost to a later entry without one.
    bp_by_slot = {c.slot: bp for c in checkins if (bp := _bp(c.values))}
    bp_before = (gate.systolic, gate.diastolic) if gate else bp_by_slot.get("pre")
    session_values = [c.values for c in checkins if c.slot in ("plus40", "end", "observe")]
    dissociation = [v["dissociation"] for v in session_values if "dissociation" in v]
    sedation = [v["sedation"] for v in session_values if "sedation" in v]
    effects: dict[str, str] = {}
    for v in session_values:
        for effect in SIDE_EFFECTS:
            if effect in v and SEVERITY.index(v[effect]) >= SEVERITY.index(
                    effects.get(effect, "none")):
                effects[effect] = v[effect]
    ready_entry = next((c for c in checkins if c.slot == "end"
                        and c.values.get("ready_alone") is True), None)
    ready = ready_entry.recorded_at if ready_entry else None

    def minutes(at: datetime) -> int:
        return int((at - dose.taken_at).total_seconds() // 60)

    readings = [BpReading(gate.checked_at, "gate", gate.systolic, gate.diastolic,
                          gate.heart_rate, minutes(gate.checked_at))] if gate else []
    readings += [BpReading(c.recorded_at, c.slot, c.values["systolic"], c.values["diastolic"],
                           c.values.get("heart_rate"), minutes(c.recorded_at))
                 for c in checkins if _bp(c.values)]
    readings += [BpReading(g.checked_at, "gate_during", g.systolic, g.diastolic, g.heart_rate,
                           minutes(g.checked_at)) for g in during or ()]
    readings.sort(key=lambda r: r.at)
    return SessionRecord(
        dose=dose,
        bp_before=bp_before,
        bp_plus40=bp_by_slot.get("plus40"),
        bp_end=bp_by_slot.get("end"),
        peak_dissociation=max(dissociation) if dissociation else None,
        worst_sedation=max(sedation) if sedation else None,
        side_effects={k: v for k, v in effects.items() if v != "none"},
        sitter_present=gate.checklist.get("sitter_present") if gate else None,
        ready_alone_at=ready,
        duration_minutes=int((ready - dose.taken_at).total_seconds() // 60) if ready else None,
        next_morning=by_slot.get("next_morning"),
        readings=readings,
        sitter_confirmed_by=people.get(sitter_check.author_id) if sitter_check else None,
        sitter_confirmed_at=sitter_check.recorded_at if sitter_check else None,
        observations=[Observed(c.recorded_at, minutes(c.recorded_at), people.get(c.author_id, ""),
                               c.values, list(c.flags))
                      for c in checkins if c.slot == "observe"],
        ready_alone_by=people.get(ready_entry.author_id) if ready_entry else None,
        summary=ready_entry.values.get("note") if ready_entry else None,
    )
