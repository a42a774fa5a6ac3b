"""Who sets when check-ins come: the patient's mood time and alert consent, the prescriber's
questionnaire day."""

from app.checkins.models import CheckinSettings
from tests import factories


def test_patient_picks_the_mood_time_and_alert_consent(db, auth, login_as):
    patient = login_as("patient")
    response = auth.post("/checkins/settings", {"mood_time": "08:30"})
    assert response.status_code == 303
    db.expire_all()
    settings = db.get(CheckinSettings, patient.id)
    assert settings.mood_time.strftime("%H:%M") == "08:30"
    assert settings.share_alerts_with_caregiver is False  # the box was left unticked
    page = auth.client.get("/checkins").text
    assert 'value="08:30"' in page


def test_a_bad_mood_time_comes_back_with_the_message(db, auth, login_as):
    patient = login_as("patient")
    response = auth.post("/checkins/settings", {"mood_time": "25:99", "share_alerts": "yes"})
    assert response.status_code == 422
    assert "Enter a time like 8:00 PM." in response.text
    assert 'value="25:99"' in response.text
    assert db.get(CheckinSettings, patient.id) is None


def test_prescriber_sets_the_questionnaire_day_and_cadence(db, auth):
    prescriber, patient, _ = factories.patient_with_protocol(db)
    db.commit()
    auth.login(prescriber.email)
    response = auth.post(f"/patients/{patient.id}/questionnaires",
                         {"questionnaire_weekday": "3", "questionnaire_every_weeks": "2"})
    assert response.status_code == 303
    db.expire_all()
    settings = db.get(CheckinSettings, patient.id)
    assert (settings.questionnaire_weekday, settings.questionnaire_every_weeks) == (3, 2)

    response = auth.post(f"/patients/{patient.id}/questionnaires",
                         {"questionnaire_weekday": "9", "questionnaire_every_weeks": "5"})
    assert response.status_code == 422
    assert "Choose a day of the week." in response.text


def test_another_prescriber_cannot_set_the_schedule(db, auth, login_as):
    _, patient, _ = factories.patient_with_protocol(db)
    db.commit()
    login_as("prescriber")
    response = auth.post(f"/patients/{patient.id}/questionnaires",
                         {"questionnaire_weekday": "3", "questionnaire_every_weeks": "1"})
    assert response.status_code == 404
    assert db.get(CheckinSettings, patient.id) is None
