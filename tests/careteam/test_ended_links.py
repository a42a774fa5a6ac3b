"""A caregiver link past its end date (in the patient's day) is no link anywhere: no alerts
are shown or sent to them, and no escalation reminders are planned for them."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from app.alerts import service as alerts
from app.careteam.models import CareLink
from app.db import utcnow
from app.reminders import service as reminders
from app.reminders.models import ReminderOccurrence
from tests import factories
from tests.alerts.conftest import alerts_of, bp_emergency_gate


@pytest.mark.parametrize("ends", ["yesterday", "today", "none"])
def test_an_ended_link_gets_no_alerts_and_no_escalations(db, ends):
    now = utcnow()
    patient = factories.user(db, role="patient")
    prescriber = factories.user(db, role="prescriber")
    caregiver = factories.user(db, role="caregiver")
    today = now.astimezone(ZoneInfo(patient.timezone)).date()
    ends_on = {"yesterday": today - timedelta(days=1), "today": today, "none": None}[ends]
    factories.link(db, patient, prescriber, now=now - timedelta(days=8))
    factories.protocol(db, prescriber, patient, now=now - timedelta(days=8),
                       **factories.session_now_protocol(patient, hours_from_now=2))
    factories.link(db, patient, caregiver, now=now - timedelta(days=7), scope="doses",
                   ends_on=ends_on)
    link = db.exec(select(CareLink).where(CareLink.member_id == caregiver.id)).one()
    link.receives_alerts = True
    db.add(link)
    db.commit()

    bp_emergency_gate(db, patient, now)
    db.commit()
    [alert] = alerts_of(db, patient)
    active = ends != "yesterday"
    assert (caregiver in alerts.contacts(db, alert, now)) is active
    assert bool(alerts.open_alerts(db, caregiver)) is active

    reminders.plan(db, caregiver, now)
    db.commit()
    escalations = db.exec(select(ReminderOccurrence).where(
        ReminderOccurrence.user_id == caregiver.id,
        ReminderOccurrence.kind == "caregiver_missed",
        ReminderOccurrence.status == "pending")).all()
    assert bool(escalations) is active
