"""Each person's language (issue 15): the account page's setting (a plain form, Post/Redirect/
Get), pages that follow it (then the browser), and what is made for someone outside their
request — a push, a password-reset email, a PDF — in the recipient's language."""

import json
import uuid

import pytest
from sqlmodel import select

from app.accounts import mail
from app.accounts.models import User
from app.db import utcnow
from app.push import service as subscriptions
from app.reminders import dispatcher
from tests import factories
from tests.conftest import csrf_from
from tests.helpers import fresh

SPANISH_BROWSER = {"Accept-Language": "es-US,es;q=0.9,en;q=0.5"}
ENGLISH_BROWSER = {"Accept-Language": "en-US,en;q=0.9"}


def _lang(html: str) -> str:
    return html.split("<html lang=\"", 1)[1].split('"', 1)[0]


def test_the_account_page_offers_each_language_in_its_own_words(login_as, client):
    login_as("patient")
    page = client.get("/account")
    assert page.status_code == 200
    assert 'action="/account/language"' in page.text
    assert "Follow my phone" in page.text
    assert '<span lang="en">English</span>' in page.text
    assert '<span lang="es">Español</span>' in page.text
    # "Follow my phone" is chosen until the person picks a language.
    assert 'name="language" value="" checked' in page.text


def test_choosing_spanish_saves_it_and_every_page_follows_whatever_the_browser(
    db, login_as, client, auth
):
    user = login_as("patient")
    response = auth.post("/account/language", {"language": "es"}, headers=ENGLISH_BROWSER)
    assert response.status_code == 303
    assert response.headers["location"] == "/account?changed=language"
    assert fresh(db, User, user.id).language == "es"

    page = client.get("/account?changed=language", headers=ENGLISH_BROWSER)
    assert _lang(page.text) == "es"
    assert page.headers["Content-Language"] == "es"
    assert "Accept-Language" in page.headers["Vary"]
    assert "Idioma guardado." in page.text
    assert 'name="language" value="es" checked' in page.text
    # The API's answers (and their messages) speak it too.
    assert client.get("/api/v1/me", headers=ENGLISH_BROWSER).headers["Content-Language"] == "es"

    # Back to following the phone: the browser decides again.
    assert auth.post("/account/language", {"language": ""}).status_code == 303
    assert fresh(db, User, user.id).language is None
    assert _lang(client.get("/account", headers=ENGLISH_BROWSER).text) == "en"
    page = client.get("/account", headers=SPANISH_BROWSER)
    assert _lang(page.text) == "es" and page.headers["Content-Language"] == "es"


@pytest.mark.parametrize("value", ["fr", "ES ", "es-MX", "x" * 16])
def test_a_language_not_offered_comes_back_with_the_error_and_nothing_is_written(
    db, login_as, client, auth, value
):
    user = login_as("patient")
    before = fresh(db, User, user.id)
    response = auth.post("/account/language", {"language": value})
    assert response.status_code == 422
    assert "Choose a language from the list." in response.text
    assert 'aria-invalid="true" aria-describedby="language-error"' in response.text
    after = fresh(db, User, user.id)
    assert after.language is None
    assert (after.timezone, after.clinic_phone) == (before.timezone, before.clinic_phone)


def test_the_language_form_needs_the_sessions_csrf_token_and_a_sign_in(db, login_as, client):
    user = login_as("caregiver")
    response = client.post("/account/language", data={"language": "es"})
    assert response.status_code == 403
    assert fresh(db, User, user.id).language is None
    client.cookies.clear()
    page = client.get("/login")
    response = client.post("/account/language",
                           data={"language": "es", "csrf_token": csrf_from(page.text)})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_an_anonymous_page_follows_the_browser(client):
    page = client.get("/login", headers=SPANISH_BROWSER)
    assert _lang(page.text) == "es"
    assert page.headers["Content-Language"] == "es"
    assert "Saltar al contenido" in page.text
    page = client.get("/login", headers={"Accept-Language": "fr-FR"})
    assert _lang(page.text) == "en" and page.headers["Content-Language"] == "en"
    # An unknown page (no route ran) speaks it too.
    missing = client.get("/no-such-page", headers=SPANISH_BROWSER)
    assert missing.status_code == 404 and _lang(missing.text) == "es"


# --- outside the request: push, mail, PDF ------------------------------------------------------


def _phone(db, person, push_service, token, language=None):
    info = push_service.subscription(token)
    subscriptions.subscribe(
        db, user=person, endpoint=info["endpoint"], p256dh=info["keys"]["p256dh"],
        auth=info["keys"]["auth"], name=token, auth_session_id=None, now=utcnow(),
        language=language,
    )


def test_a_push_speaks_its_recipients_language_and_still_says_nothing_about_health(
    db, push_service
):
    spanish = factories.user(db, role="patient", display_name="Lucía", language="es")
    follows_phone = factories.user(db, role="patient", display_name="Ana")
    english = factories.user(db, role="caregiver", display_name="Pat", language="en")
    _phone(db, spanish, push_service, "lucia")
    _phone(db, follows_phone, push_service, "ana", language="es")  # the phone's browser: es
    _phone(db, english, push_service, "pat", language="es")  # the setting beats the phone
    db.commit()
    now = utcnow()
    for person in (spanish, follows_phone, english):
        subscription = db.exec(select(subscriptions.PushSubscription)
                               .where(subscriptions.PushSubscription.user_id == person.id)).one()
        dispatcher.send_test(db, user=person, subscription_id=subscription.id, now=now)
    db.commit()

    dispatcher.run_once(now, plan=False)
    received = {r.token: r.payload for r in push_service.received}
    assert push_service.errors == []
    assert received["lucia"]["body"] == ("Notificación de prueba: los recordatorios funcionan "
                                         "en este dispositivo.")
    assert received["lucia"]["actions"] == {"open": "Abrir"}
    assert received["ana"]["body"] == received["lucia"]["body"]
    assert received["pat"]["body"] == "Test notification: reminders work on this device."
    for payload in received.values():
        assert payload["title"] == "TrocheLog"
        words = json.dumps(payload, ensure_ascii=False).lower()
        for word in ("lucía", "ana", "ketamina", "ketamine", "dosis", "dose", "mg"):
            assert word not in words


def test_the_reminder_payload_in_spanish():
    from app.reminders.models import ReminderOccurrence, ReminderPreferences

    occurrence = ReminderOccurrence(user_id=uuid.uuid4(), kind="session", rule="r",
                                    local_time="t", due_at=utcnow(), send_at=utcnow(), url="/")
    prefs = ReminderPreferences(user_id=occurrence.user_id, message="check_app",
                                snooze_minutes=30)
    payload = dispatcher.payload(occurrence, prefs, "es")
    assert payload["body"] == "Por favor, abra la aplicación."
    assert payload["actions"] == {"open": "Abrir", "snooze": "Posponer 30 min"}
    assert dispatcher.payload(occurrence, prefs, "en")["body"] == "Please open the app."


@pytest.fixture
def outbox():
    mail.captured.clear()
    yield mail.captured
    mail.captured.clear()


def _ask_for_reset(client, email, headers):
    page = client.get("/forgot", headers=headers)
    return client.post("/forgot", data={"email": email, "csrf_token": csrf_from(page.text)},
                       headers=headers)


def test_the_reset_email_speaks_the_accounts_language_else_the_browsers(db, client, outbox):
    spanish = factories.user(db, role="patient", language="es")
    unset = factories.user(db, role="patient")
    db.commit()

    assert _ask_for_reset(client, spanish.email, ENGLISH_BROWSER).status_code == 303
    (message,) = outbox
    assert message["Subject"] == "Elija una nueva contraseña de TrocheLog"
    assert message["Content-Language"] == "es"
    assert "Abra este enlace para elegirla." in message.get_content()

    outbox.clear()
    assert _ask_for_reset(client, unset.email, ENGLISH_BROWSER).status_code == 303
    (message,) = outbox
    assert message["Subject"] == "Choose a new TrocheLog password"
    assert message["Content-Language"] == "en"

    outbox.clear()
    assert _ask_for_reset(client, unset.email, SPANISH_BROWSER).status_code == 303
    (message,) = outbox
    assert message["Content-Language"] == "es"


def test_the_pdf_export_is_in_the_language_of_whoever_asked(db, client, auth):
    from tests.exports.test_pdf import text_of

    prescriber, patient, _version = factories.patient_with_protocol(db)
    prescriber.language = "es"
    db.add(prescriber)
    db.commit()
    assert auth.login(prescriber.email).status_code == 303
    url = f"/api/v1/patients/{patient.id}/export?format=pdf"
    response = client.get(url, headers=ENGLISH_BROWSER)
    assert response.status_code == 200, response.text
    reader, text = text_of(response.content)
    assert "Historial del paciente en TrocheLog" in text
    assert reader.trailer["/Root"]["/Lang"] == "es"

    prescriber.language = None
    db.add(prescriber)
    db.commit()
    reader, text = text_of(client.get(url, headers=ENGLISH_BROWSER).content)
    assert "TrocheLog patient record" in text
    assert reader.trailer["/Root"]["/Lang"] == "en"
