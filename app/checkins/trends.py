"""The trend charts a patient and their prescriber see: mood, PHQ-9, GAD-7, blood pressure and
dose, each with a text summary and a data table."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from app.accounts.models import User
from app.checkins import service
from app.checkins.charts import Chart, range_start, time_chart
from app.checkins.instruments import CATALOGUE, band_label
from app.checkins.models import CheckIn, QuestionnaireResponse
from app.doses import service as doses
from app.doses.models import Dose, DoseStatus, GateCheck
from app.i18n import gettext as _


def _trend_words(values: list[float], unit: str) -> str:
    if not values:
        return _("No entries in this period.")
    first, last = values[0], values[-1]
    avg = sum(values) / len(values)
    if len(values) == 1:
        return _("One entry: %(v)s%(u)s.", v=f"{last:g}", u=unit)
    direction = _("up") if last > first else _("down") if last < first else _("unchanged")
    return _(
        "%(n)s entries. From %(first)s%(u)s to %(last)s%(u)s (%(dir)s); average %(avg)s%(u)s.",
        n=len(values), first=f"{first:g}", last=f"{last:g}", dir=direction, avg=f"{avg:.1f}",
        u=unit,
    )


def _earliest_entry(session: Session, patient_id) -> datetime | None:
    """The first thing on record: "All" starts here, so a baseline questionnaire or the gate
    before the first dose is not cut off."""
    firsts = [
        session.exec(select(func.min(Dose.taken_at)).where(
            Dose.patient_id == patient_id, Dose.status == DoseStatus.RECORDED)).one(),
        session.exec(select(func.min(GateCheck.checked_at)).where(
            GateCheck.patient_id == patient_id)).one(),
        session.exec(select(func.min(CheckIn.recorded_at)).where(
            CheckIn.patient_id == patient_id)).one(),
        session.exec(select(func.min(QuestionnaireResponse.completed_at)).where(
            QuestionnaireResponse.patient_id == patient_id)).one(),
    ]
    return min((f for f in firsts if f is not None), default=None)


def build(session: Session, patient: User, range_key: str, now: datetime) -> list[Chart]:
    tz = ZoneInfo(patient.timezone)
    start = range_start(range_key, now, _earliest_entry(session, patient.id))
    end = now
    all_doses = doses.active_doses(session, patient.id, start=start, end=end + timedelta(1))
    dose_days = [d.taken_at for d in all_doses]

    checkins = service.checkins_between(session, patient.id, start, end + timedelta(minutes=10))
    mood = [(c.recorded_at, float(c.values["mood"])) for c in checkins
            if c.slot == "daily" and "mood" in c.values]
    charts = [
        time_chart(
            key="mood", title=_("Daily mood"), unit="", start=start, end=end, tz=tz,
            y_min=0, y_max=10, y_step=2, series=[("mood", _("Mood (0–10)"), mood)],
            markers=dose_days,
            summary=_trend_words([v for _w, v in mood], "") + " "
            + _("Vertical lines mark dose days."),
        )
    ]
    for key in ("phq9", "gad7"):
        instrument = CATALOGUE[key]
        responses = service.responses_between(session, patient.id, start,
                                              end + timedelta(minutes=10), key)
        points = [(r.completed_at, float(r.score or 0)) for r in responses]
        bands = [(b.low, b.high + (1 if b is not instrument.bands[-1] else 0), b.key,
                  _(b.label)) for b in instrument.bands]
        last = responses[-1] if responses else None
        band_words = (
            _("Latest: %(score)s, %(band)s.", score=last.score,
              band=_(band_label(key, last.band) or "Not recorded").lower())
            if last else ""
        )
        charts.append(time_chart(
            key=key, title=_(instrument.title), unit="", start=start, end=end, tz=tz, y_min=0,
            y_max=float(instrument.max_score or 27), y_step=5 if key == "phq9" else 3,
            series=[(key, _("Total score"), points)], bands=bands,
            summary=f"{_trend_words([v for _w, v in points], '')} {band_words}".strip(),
        ))

    gates = session.exec(
        select(GateCheck).where(GateCheck.patient_id == patient.id,
                                col(GateCheck.id).in_([d.gate_id for d in all_doses
                                                       if d.gate_id]))
    ).all()
    rechecks = [c for c in checkins
                if c.slot == "plus40" and "systolic" in c.values and "diastolic" in c.values]
    before = [(g.checked_at, float(g.systolic)) for g in gates]
    before_low = [(g.checked_at, float(g.diastolic)) for g in gates]
    after = [(c.recorded_at, float(c.values["systolic"])) for c in rechecks]
    after_low = [(c.recorded_at, float(c.values["diastolic"])) for c in rechecks]
    # Systolic and diastolic both: a diastolic hold (e.g. 150/105) must show on the chart too.
    charts.append(time_chart(
        key="bp", title=_("Blood pressure (systolic and diastolic)"), unit=" mmHg",
        start=start, end=end, tz=tz, y_min=40, y_max=200, y_step=20,
        series=[("before", _("Systolic before dosing"), before),
                ("before-low", _("Diastolic before dosing"), before_low),
                ("after", _("Systolic 40 minutes after"), after),
                ("after-low", _("Diastolic 40 minutes after"), after_low)],
        summary=_("Systolic before dosing: %(b)s", b=_trend_words([v for _w, v in before],
                                                                  " mmHg"))
        + " " + _("Diastolic before dosing: %(b)s",
                  b=_trend_words([v for _w, v in before_low], " mmHg"))
        + " " + _("Systolic 40 minutes after: %(a)s",
                  a=_trend_words([v for _w, v in after], " mmHg"))
        + " " + _("Diastolic 40 minutes after: %(a)s",
                  a=_trend_words([v for _w, v in after_low], " mmHg")),
    ))
    mg = [(d.taken_at, float(d.dose_mg)) for d in all_doses]
    top = max([v for _w, v in mg] + [100.0])
    charts.append(time_chart(
        key="dose", title=_("Dose"), unit=" mg", start=start, end=end, tz=tz, y_min=0,
        y_max=float(int(top / 50 + 1) * 50), y_step=50,
        series=[("dose", _("Dose (mg)"), mg)],
        summary=_trend_words([v for _w, v in mg], " mg"),
    ))
    return charts


def latest_checkin_for(session: Session, dose_id, slot: str) -> CheckIn | None:
    return session.exec(
        select(CheckIn).where(CheckIn.dose_id == dose_id, CheckIn.slot == slot)
    ).first()
