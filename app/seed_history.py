"""Realistic dosing history for the demo clinic, written through the same services as real use.

Each entry is applied at the moment it happened (an explicit `now`), so the guard rules, the
flags and the ledger arithmetic are the real ones.
"""

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from app.accounts.models import User
from app.checkins.models import SafetyEvent
from app.protocols import schedule
from app.protocols import service as protocols
from app.sync import service as sync
from app.sync.service import SyncItem

# History is written for sessions up to this long before `now`. It must be shorter than the
# grace window (3-4 h here): a later session is due or overdue, and an earlier one is either
# logged or the one deliberately missed, never missed by accident of the hour the seed ran.
SEED_UNTIL = timedelta(hours=1)

# How long at least the demo's session stays "due" after the seed ran: the first look at Today
# (the server starting, a sign-in) comes after the seed, and a session seeded at 18:59:59 for
# 19:00 would already read "Overdue" there.
DUE_NOW_LEAD = timedelta(minutes=15)


def due_now_session_time(now: datetime, tz: ZoneInfo) -> datetime:
    """The local wall time of the demo patient's session that is due at `now`: the first
    quarter hour at least `DUE_NOW_LEAD` later (a session is "due" from two hours before its
    time until the time itself), so it is due from the seed for 15 to 30 minutes."""
    local = now.astimezone(tz) + DUE_NOW_LEAD
    minute = local.replace(second=0, microsecond=0)
    if minute < local:
        minute += timedelta(minutes=1)
    return minute + timedelta(minutes=-minute.minute % 15)


CHECKLIST_OK = {
    "fasted": True,
    "no_sedatives": True,
    "no_driving": True,
    "safe_place": True,
    "sitter_present": True,
}


def _apply(session: Session, patient: User, kind: str, at: datetime, data: dict) -> dict:
    item = SyncItem(id=uuid.uuid4(), kind=kind, recorded_at=at, data=data)
    result = sync.apply(session, author=patient, patient=patient, item=item, now=at)
    assert result["status"] == "created", result  # the seed must follow the rules it shows off
    return result


def _as_sitter(session: Session, sitter: User, patient: User, at: datetime, data: dict) -> dict:
    """A sitter's entry from their own account, through the same write path as their phone."""
    item = SyncItem(id=uuid.uuid4(), kind="sitter_checkin", recorded_at=at,
                    data={"patient_id": str(patient.id), **data})
    result = sync.apply(session, author=sitter, patient=patient, item=item, now=at)
    assert result["status"] == "created", result
    return result


SITTER_CHECKLIST = {"sitter_present": True, "bp_taken": True, "safe_place": True,
                    "no_driving": True}


def _co_sign(session, sitter: User | None, patient: User, at: datetime) -> None:
    if sitter is not None:
        _as_sitter(session, sitter, patient, at - timedelta(minutes=4),
                   {"slot": "sitter_check", "values": SITTER_CHECKLIST})


def _protocol(session, prescriber, patient, now, values) -> None:
    protocols.save(
        session,
        prescriber=prescriber,
        patient_id=patient.id,
        version_id=uuid.uuid4(),
        values=values,
        now=now,
    )


def seed_patient_history(session: Session, prescriber: User, patient: User, now: datetime,
                         sitter: User | None = None):
    """Six weeks: twice-weekly induction, then weekly maintenance, with the usual bumps. The
    sitter co-signs the checklist from their own phone before most sessions (not when they
    were late, nor the one they forgot), and observes the last sessions through."""
    tz = ZoneInfo(patient.timezone)
    # The demo can be dosed in: sessions are at the next quarter hour of the local clock at
    # seed time, and the weekly maintenance session falls on that day (six weeks after the
    # start), so a session is due now and the last dose was a week ago: the gate passes.
    session_at = due_now_session_time(now, tz)
    start_day = session_at.date() - timedelta(days=42)
    created = datetime.combine(start_day - timedelta(days=3), datetime.min.time(), tzinfo=tz)
    # Twice weekly, 3 and 4 days apart, counted from the start day (Mon/Thu when it is a
    # Monday). Fixed weekdays would, for most start days, put the last induction session one
    # or two days before the first weekly one: too soon under the 60-hour rule, so the seed
    # failed on four weekdays out of seven.
    induction_days = sorted({start_day.weekday(), (start_day.weekday() + 3) % 7})
    plan = {
        "strength_mg": "100",
        "halving_allowed": True,
        "dose_mg": "150",
        "route": "sublingual",
        "hold_minutes": 15,
        "min_hours_between_doses": "60",
        "max_mg_per_24h": "200",
        "max_mg_per_7d": "450",
        "bp_hold_systolic": 160,
        "bp_hold_diastolic": 100,
        "sitter_required": True,
        "required_checklist": ["fasted", "no_sedatives", "no_driving", "safe_place"],
        "fasting_hours": 2,
        "sedative_free_hours": 24,
        "grace_hours": "4",
        "early_refill_days": 10,
        # The prescriber lets a late sitter be overridden with a reason; nothing else.
        "overridable_holds": ["sitter_required"],
        "starts_on": start_day.isoformat(),
        "induction": {"cadence": "weekdays", "weekdays": induction_days,
                      "at": session_at.strftime("%H:%M"), "weeks": 4},
        "maintenance": {"cadence": "interval", "every_n_days": 7,
                        "at": session_at.strftime("%H:%M")},
        "reason": "Starting at-home troche treatment after in-clinic test dose.",
    }
    _protocol(session, prescriber, patient, created.astimezone(UTC), plan)
    _apply(
        session,
        patient,
        "ledger_fill",
        created.astimezone(UTC) + timedelta(hours=12),
        {
            "filled_on": (start_day - timedelta(days=3)).isoformat(),
            "count": 12,
            "strength_mg": "100",
            "rx_number": "RX-448210",
            "pharmacy": "Eastside Compounding",
            "lot": "K2611-A",
        },
    )
    version = protocols.current(session, patient.id)
    assert version is not None
    occs = schedule.occurrences(
        protocols.plans(version), tz, created.astimezone(UTC), now - SEED_UNTIL
    )
    for n, occ in enumerate(occs):
        at = occ.scheduled_at
        if n == 4:
            # Version 2, half a day before the fifth session (so no session is open at the
            # save): the protocol history shows who changed what and why.
            _protocol(session, prescriber, patient, at - timedelta(hours=12), {
                **plan, "fasting_hours": 4,
                "reason": "Moderate nausea after the third session: fast 4 hours before each "
                          "dose."})
        if n == 5:
            continue  # a missed session
        if n not in (2, 7):
            _co_sign(session, sitter, patient, at)
        if n in (3, len(occs) - 1):
            # Blood pressure over the hold limit: the patient waits and checks again. The
            # caregiver, who accepted alerts, is alerted (acknowledged long ago for the first,
            # still open for the latest: app/seed.py).
            held = _apply(
                session,
                patient,
                "gate",
                at,
                {"systolic": 166, "diastolic": 98, "heart_rate": 84, "checklist": CHECKLIST_OK},
            )
            if n == 3:
                # Dr. Okafor reviewed the first hold's flag the next morning: the list's reviews
                # are in the exports (CSV flag_reviews.csv, the PDF's flags section).
                from app.clinic.service import review_flag

                review_flag(session, prescriber=prescriber, patient=patient, code="bp_hold",
                            key=held["id"], note="Alex rechecked at 132/84 after a rest and "
                            "Jordan went ahead; no change to the hold level.",
                            now=_next_morning(at, patient.timezone, time(8, 50)))
            at = at + timedelta(minutes=40)
        if n == 7:
            # The sitter was late; the patient took the dose anyway and said why.
            gate = _apply_gate(session, patient, at, sitter=False)
            dose = _apply(
                session,
                patient,
                "dose",
                at + timedelta(minutes=4),
                {
                    "taken_at": (at + timedelta(minutes=3)).isoformat(),
                    "dose_mg": "150",
                    "route": "sublingual",
                    "gate_id": gate,
                    "override_reason": "Sitter running 20 minutes late; my partner was with me.",
                    "lot": "K2611-A",
                },
            )
            _session_checkins(session, patient, dose["id"], at + timedelta(minutes=3), n, now)
            continue
        gate = _apply_gate(session, patient, at, sitter=True, bump=n)
        dose = _apply(
            session,
            patient,
            "dose",
            at + timedelta(minutes=6),
            {
                "taken_at": (at + timedelta(minutes=5)).isoformat(),
                "dose_mg": "150",
                "route": "sublingual",
                "gate_id": gate,
                "hold_minutes": 15,
                "swallowed": False,
                "lot": "K2611-A",
            },
        )
        observed = sitter if n >= len(occs) - 2 else None
        _session_checkins(session, patient, dose["id"], at + timedelta(minutes=5), n, now,
                          sitter=observed)
        if n == 1:
            # Next morning the patient corrects the amount: the record keeps both values.
            _apply(
                session,
                patient,
                "dose_revision",
                at + timedelta(hours=22),
                {
                    "dose_id": dose["id"],
                    "reason": "The half troche crumbled and I spat it out: I took one troche.",
                    "changes": {"dose_mg": "100"},
                },
            )
    refill_at = now - timedelta(days=20)
    _apply(
        session,
        patient,
        "ledger_fill",
        refill_at,
        {
            "filled_on": refill_at.astimezone(tz).date().isoformat(),
            "count": 8,
            "strength_mg": "100",
            "rx_number": "RX-448210",
            "pharmacy": "Eastside Compounding",
            "lot": "K2611-B",
        },
    )
    count_at = now - timedelta(days=9)
    from app.doses.ledger import expected_balance

    expected = expected_balance(session, patient.id, count_at)
    _apply(
        session,
        patient,
        "ledger_count",
        count_at,
        {
            "counted_at": count_at.isoformat(),
            "count": str(expected - 1),  # one troche short
        },
    )


def _observations(session, sitter: User, patient: User, dose_id: str, taken_at: datetime,
                  now: datetime) -> None:
    """The sitter's observations every 15 minutes for the first hour."""
    for minutes, sedation, dissociation in ((15, 0, 4), (30, 1, 6), (45, 1, 5), (60, 0, 3)):
        at = taken_at + timedelta(minutes=minutes + 1)
        if at < now:
            _as_sitter(session, sitter, patient, at, {
                "slot": "observe", "dose_id": dose_id,
                "values": {"sedation": sedation, "dissociation": dissociation,
                           "nausea": "mild" if minutes == 30 else "none",
                           "vomiting": "none", "breathing": False}})


def _session_checkins(
    session, patient, dose_id: str, taken_at: datetime, n: int, now: datetime,
    sitter: User | None = None,
) -> None:
    """The +40 minute recheck, the end of the session and the next morning. With a sitter
    observing, they record their observations and the end of the session with a summary."""
    if sitter is not None:
        _observations(session, sitter, patient, dose_id, taken_at, now)
    nausea = ("mild", "none", "moderate", "none", "mild")[n % 5]
    plus40 = taken_at + timedelta(minutes=40)
    if plus40 < now:
        write = (_apply if sitter is None else
                 lambda session, patient, _kind, at, data: _as_sitter(session, sitter, patient,
                                                                     at, data))
        write(
            session,
            patient,
            "checkin",
            plus40,
            {
                "dose_id": dose_id,
                "slot": "plus40",
                "values": {
                    "systolic": 138 + n % 7,
                    "diastolic": 86 + n % 4,
                    "heart_rate": 82 + n % 6,
                    "dissociation": 6 - min(n // 3, 3),
                    "sedation": 1,
                    "nausea": nausea,
                    "dizziness": "mild",
                },
            },
        )
    end = taken_at + timedelta(minutes=125)
    end_values = {
        "systolic": 126 + n % 5,
        "diastolic": 80 + n % 3,
        "heart_rate": 74,
        "dissociation": 1,
        "sedation": 0,
        "nausea": "none",
        "ready_alone": True,
    }
    if end < now and sitter is not None:
        _as_sitter(session, sitter, patient, end, {
            "slot": "end", "dose_id": dose_id,
            "values": {**end_values, "note": "Calm throughout; drowsy around 30 minutes, "
                       "chatting normally by the hour. Ate a snack, walked steadily."}})
    elif end < now:
        _apply(
            session,
            patient,
            "checkin",
            end,
            {"dose_id": dose_id, "slot": "end", "values": end_values},
        )
    morning = _next_morning(taken_at, patient.timezone, time(8, 30))
    if morning < now:
        _apply(
            session,
            patient,
            "checkin",
            morning,
            {
                "dose_id": dose_id,
                "slot": "next_morning",
                "values": {
                    "slept": n % 4 != 1,
                    "residual": "mild" if n % 3 == 0 else "none",
                    "mood": min(8, 4 + n // 2),
                },
            },
        )


def seed_checkins(session: Session, patient: User, now: datetime) -> None:
    """Daily mood and weekly PHQ-9 / GAD-7 that improve after induction, and one PHQ-9 with
    item 9 = 1 followed by a low-risk screener."""
    from app.checkins.models import CheckinSettings

    session.add(
        CheckinSettings(
            patient_id=patient.id,
            mood_time=time(20, 0),
            questionnaire_weekday=0,
            questionnaire_every_weeks=1,
        )
    )
    tz = ZoneInfo(patient.timezone)
    today = now.astimezone(tz).date()
    for days_ago in range(41, 0, -1):
        day = today - timedelta(days=days_ago)
        at = datetime.combine(day, time(20, 10 + days_ago % 30), tzinfo=tz).astimezone(UTC)
        progress = (41 - days_ago) / 41
        wobble = (-1, 0, 1, 0, -1, 1, 0)[days_ago % 7]
        mood = max(0, min(10, round(3 + 4 * progress + wobble)))
        if days_ago % 9 == 4:
            continue  # a few forgotten days, as in real life
        _apply(session, patient, "checkin", at, {"slot": "daily", "values": {"mood": mood}})

    phq_totals = (19, 17, 16, 13, 11, 9)
    gad_totals = (14, 13, 11, 10, 8, 6)
    for week, (phq, gad) in enumerate(zip(phq_totals, gad_totals, strict=True)):
        day = today - timedelta(days=(5 - week) * 7 + 3)
        at = datetime.combine(day, time(19, 0), tzinfo=tz).astimezone(UTC)
        item9 = 1 if week == 2 else 0
        phq_answers = [*_spread(phq - item9, 8), item9]
        result = _apply(
            session, patient, "questionnaire", at, {"instrument": "phq9", "answers": phq_answers}
        )
        if item9:
            _apply(
                session,
                patient,
                "questionnaire",
                at + timedelta(minutes=3),
                {
                    "instrument": "cssrs",
                    "answers": [True, False, None, None, None, False, None],
                    "follows_id": result["id"],
                },
            )
        _apply(
            session,
            patient,
            "questionnaire",
            at + timedelta(minutes=6),
            {"instrument": "gad7", "answers": _spread(gad, 7)},
        )


def _spread(total: int, items: int) -> list[int]:
    """`total` points over `items` answers of 0–3, front-loaded like a real response."""
    answers = []
    for i in range(items):
        left = items - i
        answers.append(min(3, -(-total // left)))
        total -= answers[-1]
    return answers


def _apply_gate(session, patient, at, *, sitter: bool, bump: int = 0) -> str:
    result_id = uuid.uuid4()
    item = SyncItem(
        id=result_id,
        kind="gate",
        recorded_at=at,
        data={
            "systolic": 124 + bump % 9,
            "diastolic": 78 + bump % 5,
            "heart_rate": 70 + bump % 7,
            "checklist": {**CHECKLIST_OK, "sitter_present": sitter},
        },
    )
    result = sync.apply(session, author=patient, patient=patient, item=item, now=at)
    assert result["status"] == "created", result
    return str(result_id)


def _reviewed_high_risk_screen(session: Session, prescriber: User, patient: User,
                               at: datetime) -> None:
    """A PHQ-9 with item 9 answered, a high-risk screener (dosing on hold), and the
    prescriber's review the next morning that cleared the hold before the next session."""
    from app.safety import service as safety

    phq = _apply(session, patient, "questionnaire", at,
                 {"instrument": "phq9", "answers": [2, 2, 2, 2, 1, 2, 1, 1, 2]})
    screen = _apply(
        session,
        patient,
        "questionnaire",
        at + timedelta(minutes=4),
        {
            "instrument": "cssrs",
            "answers": [True, True, False, True, False, False, None],
            "follows_id": phq["id"],
        },
    )
    assert screen["risk"] == "high"
    (event,) = safety.pending_reviews(session, patient.id)
    safety.review(
        session,
        prescriber=prescriber,
        patient_id=patient.id,
        event_id=event.id,
        note="Called Sam at 8:30. Passive thoughts, no plan or intent now; safety plan "
        "reviewed with Sam and his partner. Continue induction with a sitter; PHQ-9 weekly.",
        now=_next_morning(at, patient.timezone, time(8, 40)),
    )


def _next_morning(at: datetime, tz: str, clock: time) -> datetime:
    """The next day at `clock`, the patient's wall time: a next-morning check-in, or the review
    of a screen "the next morning" (14 hours after an afternoon screen read 2:30 AM beside
    "Called Sam at 8:30")."""
    zone = ZoneInfo(tz)
    return datetime.combine(at.astimezone(zone).date() + timedelta(days=1), clock,
                            tzinfo=zone).astimezone(UTC)


def seed_patient2_history(session: Session, prescriber: User, patient: User, now: datetime):
    """A newer patient: two weeks into an every-3-days induction with 50 mg troches."""
    tz = ZoneInfo(patient.timezone)
    start_day = (now.astimezone(tz) - timedelta(days=13)).date()
    created = datetime.combine(start_day - timedelta(days=1), datetime.min.time(), tzinfo=tz)
    _protocol(
        session,
        prescriber,
        patient,
        created.astimezone(UTC),
        {
            "strength_mg": "50",
            "halving_allowed": False,
            "dose_mg": "100",
            "route": "buccal",
            "hold_minutes": 20,
            "min_hours_between_doses": "48",
            "max_mg_per_24h": "100",
            "max_mg_per_7d": "300",
            "bp_hold_systolic": 150,
            "bp_hold_diastolic": 95,
            "sitter_required": True,
            "required_checklist": ["fasted", "no_driving", "safe_place"],
            "fasting_hours": 3,
            "sedative_free_hours": 24,
            "grace_hours": "3",
            "early_refill_days": 7,
            "starts_on": start_day.isoformat(),
            "induction": {"cadence": "interval", "every_n_days": 3, "at": "18:30", "weeks": 3},
            "maintenance": {"cadence": "weekdays", "weekdays": [5], "at": "11:00"},
            "reason": "Induction per treatment plan.",
        },
    )
    _apply(
        session,
        patient,
        "ledger_fill",
        created.astimezone(UTC) + timedelta(hours=10),
        {
            "filled_on": (start_day - timedelta(days=1)).isoformat(),
            "count": 16,
            "strength_mg": "50",
            "pharmacy": "Lakeview Pharmacy",
            "rx_number": "LV-20931",
        },
    )
    version = protocols.current(session, patient.id)
    assert version is not None
    occs = schedule.occurrences(
        protocols.plans(version), tz, created.astimezone(UTC), now - SEED_UNTIL
    )
    for n, occ in enumerate(occs):
        if n == 2:
            _reviewed_high_risk_screen(session, prescriber, patient,
                                       occ.scheduled_at - timedelta(hours=30))
        if n == len(occs) - 2:
            continue  # a recent missed session: a flag on the prescriber's list
        if n == len(occs) - 3:
            # Logged the next morning through "I have already taken a dose", without a safety
            # check: flagged as entered later, and read as logged after it was taken.
            _apply(session, patient, "dose", occ.scheduled_at + timedelta(hours=20), {
                "taken_at": (occ.scheduled_at + timedelta(minutes=7)).isoformat(),
                "dose_mg": "100", "route": "buccal", "already_taken": True,
                "no_gate_reason": "Took it with my sitter there; forgot to log until morning.",
            })
            continue
        if n == 1:
            _struck_morning_entry(session, patient, occ.scheduled_at - timedelta(hours=9))
        gate = _apply_gate(session, patient, occ.scheduled_at, sitter=True, bump=n + 2)
        _apply(
            session,
            patient,
            "dose",
            occ.scheduled_at + timedelta(minutes=8),
            {
                "taken_at": (occ.scheduled_at + timedelta(minutes=7)).isoformat(),
                "dose_mg": "100",
                "route": "buccal",
                "gate_id": gate,
            },
        )


def _struck_morning_entry(session: Session, patient: User, at: datetime) -> None:
    """The evening's dose logged in the morning by mistake and struck minutes later: the
    evening's real dose is then within the limits only because of the strike, and is
    flagged for the prescriber (cleared_by_correction), who sees both entries."""
    gate = _apply_gate(session, patient, at, sitter=True)
    dose = _apply(session, patient, "dose", at + timedelta(minutes=2), {
        "taken_at": (at + timedelta(minutes=1)).isoformat(), "dose_mg": "100",
        "route": "buccal", "gate_id": gate,
    })
    _apply(session, patient, "dose_entered_in_error", at + timedelta(minutes=9), {
        "dose_id": dose["id"],
        "reason": "Logged tonight's dose this morning by mistake; not taken yet.",
    })


def seed_spanish_patient_history(session: Session, prescriber: User, patient: User,
                                 now: datetime) -> None:
    """The Spanish-speaking demo patient (issue 15): ten days into an every-3-days induction,
    every session gated and logged, with the same daily moods and weekly questionnaires as
    Jordan, so Today, the check-ins and the trends have something to say in Spanish."""
    tz = ZoneInfo(patient.timezone)
    start_day = (now.astimezone(tz) - timedelta(days=10)).date()
    created = datetime.combine(start_day - timedelta(days=1), datetime.min.time(), tzinfo=tz)
    _protocol(session, prescriber, patient, created.astimezone(UTC), {
        "strength_mg": "50", "halving_allowed": True, "dose_mg": "75", "route": "sublingual",
        "hold_minutes": 15, "min_hours_between_doses": "48", "max_mg_per_24h": "75",
        "max_mg_per_7d": "225", "bp_hold_systolic": 150, "bp_hold_diastolic": 95,
        "sitter_required": False, "required_checklist": ["fasted", "no_driving", "safe_place"],
        "fasting_hours": 3, "sedative_free_hours": 24, "grace_hours": "3",
        "early_refill_days": 7, "starts_on": start_day.isoformat(),
        "induction": {"cadence": "interval", "every_n_days": 3, "at": "10:00", "weeks": 3},
        "maintenance": {"cadence": "weekdays", "weekdays": [2], "at": "10:00"},
        "reason": "Inducción según el plan de tratamiento.",
    })
    _apply(session, patient, "ledger_fill", created.astimezone(UTC) + timedelta(hours=10), {
        "filled_on": (start_day - timedelta(days=1)).isoformat(), "count": 12,
        "strength_mg": "50", "pharmacy": "Farmacia del Valle", "rx_number": "FV-40417",
    })
    _every_session_gated_and_logged(session, patient, created.astimezone(UTC), now, bump=4,
                                    prescriber=prescriber,
                                    after_session={-2: _struck_dose_against_a_hold})
    seed_checkins(session, patient, now)


def _struck_dose_against_a_hold(session: Session, prescriber: User, patient: User,
                                at: datetime) -> None:
    """The evening after a session, half a troche more logged as already taken (too soon, over
    the 24-hour maximum): a dose against a hold, its event reviewed by the prescriber the next
    morning, then struck by the patient as entered in error the day after. The strike is on
    the prescriber's list (struck_flagged), and the next session's dose, within the limits
    only because of it, is flagged cleared_by_correction."""
    from app.alerts import service as alerts
    from app.alerts.models import Alert
    from app.safety import service as safety

    taken = at + timedelta(hours=9, minutes=30)
    dose = _apply(session, patient, "dose", taken + timedelta(minutes=20), {
        "taken_at": taken.isoformat(), "dose_mg": "25", "route": "sublingual",
        "already_taken": True, "no_gate_reason": "En casa, sola.",
        "override_reason": "Me sentía peor por la tarde y tomé media más.",
    })
    event = session.exec(select(SafetyEvent).where(
        SafetyEvent.source_id == uuid.UUID(dose["id"]),
        SafetyEvent.kind == "dose_against_hold")).one()
    note = ("Called Lucía: she felt low in the evening. Reminded her of the 48-hour minimum "
            "and the crisis line; plan unchanged.")
    reviewed_at = _next_morning(taken, patient.timezone, time(9, 15))
    # Told at once, as the dispatcher does; the call answered the alert and the event.
    alerted = session.exec(select(Alert).where(Alert.kind == alerts.DOSE_AGAINST_HOLD,
                                               Alert.source_id == event.id)).one()
    alerts.notify_due(session, alerted.raised_at)
    alerts.acknowledge(session, user=prescriber, alert_id=alerted.id, note=note, now=reviewed_at)
    safety.review(session, prescriber=prescriber, patient_id=patient.id, event_id=event.id,
                  note=note, now=reviewed_at)
    _apply(session, patient, "dose_entered_in_error",
           _next_morning(taken, patient.timezone, time(20, 0)) + timedelta(days=1), {
               "dose_id": dose["id"],
               "reason": "La anoté por error; al final no la tomé.",
           })


def _every_session_gated_and_logged(session: Session, patient: User, since: datetime,
                                    now: datetime, *, bump: int, prescriber: User | None = None,
                                    after_session: dict | None = None) -> None:
    """Each session of the current protocol from `since`: a passing check without a sitter,
    then the protocol's dose five minutes after the session's time. `after_session`: by a
    session's index (negative from the last), what happens after it, in time order with the
    sessions (called with the prescriber, the patient and the session's time)."""
    version = protocols.current(session, patient.id)
    assert version is not None
    occs = schedule.occurrences(protocols.plans(version), ZoneInfo(patient.timezone), since,
                                now - SEED_UNTIL)
    after = {n % len(occs): then for n, then in (after_session or {}).items()}
    for n, occ in enumerate(occs):
        gate = _apply_gate(session, patient, occ.scheduled_at, sitter=False, bump=n + bump)
        _apply(session, patient, "dose", occ.scheduled_at + timedelta(minutes=6), {
            "taken_at": (occ.scheduled_at + timedelta(minutes=5)).isoformat(),
            "dose_mg": str(version.dose_mg), "route": "sublingual", "gate_id": gate,
        })
        if n in after:
            after[n](session, prescriber, patient, occ.scheduled_at)


def seed_unscreened_patient_history(session: Session, prescriber: User, patient: User,
                                    now: datetime) -> None:
    """A patient four weeks in with a session due now, whose PHQ-9 last evening answered item 9
    above 0 and who closed the app before the screener: Today asks for the screener with the
    crisis resources, the safety check holds (`screener_pending`) until it is answered, and the
    prescriber sees the flag and the unanswered-screener alert (raised in app/seed.py)."""
    tz = ZoneInfo(patient.timezone)
    # As Jordan's: two weeks of induction on two weekdays 3 and 4 days apart, then weekly from
    # the start's weekday, so the session due now is the third weekly one.
    session_at = due_now_session_time(now, tz)
    start_day = session_at.date() - timedelta(days=28)
    created = datetime.combine(start_day - timedelta(days=2), datetime.min.time(), tzinfo=tz)
    _protocol(session, prescriber, patient, created.astimezone(UTC), {
        "strength_mg": "50", "halving_allowed": False, "dose_mg": "100", "route": "sublingual",
        "hold_minutes": 15, "min_hours_between_doses": "60", "max_mg_per_24h": "100",
        "max_mg_per_7d": "300", "bp_hold_systolic": 160, "bp_hold_diastolic": 100,
        "sitter_required": False, "required_checklist": ["fasted", "no_driving", "safe_place"],
        "fasting_hours": 2, "sedative_free_hours": 24, "grace_hours": "4",
        "early_refill_days": 7, "starts_on": start_day.isoformat(),
        "induction": {"cadence": "weekdays",
                      "weekdays": sorted({start_day.weekday(), (start_day.weekday() + 3) % 7}),
                      "at": session_at.strftime("%H:%M"), "weeks": 2},
        "maintenance": {"cadence": "interval", "every_n_days": 7,
                        "at": session_at.strftime("%H:%M")},
        "reason": "Induction, then weekly maintenance; partner home during sessions.",
    })
    _apply(session, patient, "ledger_fill", created.astimezone(UTC) + timedelta(hours=11), {
        "filled_on": (start_day - timedelta(days=2)).isoformat(), "count": 16,
        "strength_mg": "50", "pharmacy": "Front Range Compounding", "rx_number": "FR-20931",
    })
    _every_session_gated_and_logged(session, patient, created.astimezone(UTC), now, bump=2)
    from app.checkins.models import CheckinSettings

    today = now.astimezone(tz).date()
    # The weekly questionnaires fall due on the day Riley answers them: the last was yesterday.
    session.add(CheckinSettings(patient_id=patient.id, mood_time=time(20, 0),
                                questionnaire_weekday=(today - timedelta(days=1)).weekday(),
                                questionnaire_every_weeks=1))
    for days_ago, (phq, gad) in zip((22, 15, 8, 1), ((18, 13), (15, 12), (14, 11), (14, 11)),
                                    strict=True):
        at = datetime.combine(today - timedelta(days=days_ago), time(19, 30),
                              tzinfo=tz).astimezone(UTC)
        item9 = 1 if days_ago == 1 else 0
        _apply(session, patient, "questionnaire", at, {
            "instrument": "phq9", "answers": [*_spread(phq - item9, 8), item9]})
        if item9:
            break  # the PHQ-9 led straight to the screener, and Riley closed the app there
        _apply(session, patient, "questionnaire", at + timedelta(minutes=4),
               {"instrument": "gad7", "answers": _spread(gad, 7)})
