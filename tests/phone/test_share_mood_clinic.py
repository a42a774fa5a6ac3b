"""Issue 12, helper G4: passing on an invite link (Copy, Share, a QR code drawn on the server),
mood in one tap, and "Call my clinic" (the prescriber's clinic number on the patient's hold,
emergency and help screens)."""

import re
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from app.accounts.models import Role, User
from app.careteam import service as careteam
from app.checkins.models import CheckIn
from app.db import utcnow
from app.i18n import gettext as _
from app.web.qr import qr_svg
from tests import factories
from tests.helpers import INVITE_URL, fresh, shown

CLINIC = "+1 (555) 010-2000"
CALL_CLINIC = re.compile(r'<a class="button" href="tel:\+15550102000"><span>Call my clinic</span> '
                         r'<span class="clinic-number">\+1 \(555\) 010-2000</span></a>')


# --- passing on an invite link -----------------------------------------------------------------


def _invite_page(login_as, auth):
    login_as("prescriber")
    response = auth.post("/patients/new", {
        "client_id": str(uuid.uuid4()), "display_name": "Robin Example",
        "email": "robin@example.test", "timezone": "America/Denver"})
    assert response.status_code == 200, response.text
    return response.text


def test_the_invite_page_shows_a_qr_code_of_its_own_link(login_as, auth):
    html = _invite_page(login_as, auth)
    url = INVITE_URL.search(html).group(1)
    # Regenerated from the link shown on the page: the same code, so a camera opens that link.
    svg = str(qr_svg(url, title=_("QR code of the invite link")))
    assert svg in html
    assert html.count('class="qr"') == 1
    # Another link would draw another code (the comparison above can fail).
    assert str(qr_svg(url + "x", title=_("QR code of the invite link"))) not in html
    size = re.search(r'<svg role="img" viewBox="0 0 (\d+) (\d+)" class="qr">', html)
    assert size and size.group(1) == size.group(2) and 29 <= int(size.group(1)) <= 185
    assert "<title>QR code of the invite link</title>" in html
    # No inline script or style for the strict CSP.
    qr_part = html[html.index("<svg"):html.index("</svg>")]
    assert "style=" not in qr_part and "<script" not in qr_part


def test_the_invite_page_offers_copy_and_share_and_keeps_the_link_as_text(login_as, auth):
    html = _invite_page(login_as, auth)
    # The buttons start hidden: app.js shows the ones this browser can do.
    assert re.search(r'<button type="button" class="button" data-copy-invite hidden>Copy link'
                     r'</button>', html)
    assert re.search(r'<button type="button" class="button" data-share-invite hidden', html)
    assert ">Share link</button>" in html
    assert re.search(r'<p class="invite-copy-status" role="status" data-invite-status', html)
    # Without JavaScript the link is still there, whole, to select.
    assert re.search(r'<input id="invite-url" class="invite-url" type="text" readonly '
                     r'value="http://testserver/invite/[^"]+"', html)


def test_a_caregiver_invite_has_its_qr_code_too(db, login_as, auth):
    patient = login_as("patient")
    response = auth.post("/care-team/invite", {
        "client_id": str(uuid.uuid4()), "display_name": "Sam Sitter",
        "email": "sam@example.test", "scope": "supervision"})
    assert response.status_code == 200, response.text
    url = INVITE_URL.search(response.text).group(1)
    assert str(qr_svg(url, title=_("QR code of the invite link"))) in response.text
    assert patient.id  # the invite is the patient's


# --- mood in one tap ---------------------------------------------------------------------------


def _checkins(db, patient) -> list[CheckIn]:
    db.expire_all()
    return list(db.exec(select(CheckIn).where(CheckIn.patient_id == patient.id)).all())


def test_the_daily_mood_form_is_eleven_buttons_after_an_optional_note(login_as, client):
    login_as("patient")
    html = client.get("/checkins/daily").text
    values = re.findall(r'<button type="submit" class="mood-tap-option" name="mood" '
                        r'value="(\d+)"\s*>\1</button>', html)
    assert values == [str(n) for n in range(11)]
    assert 'type="radio" name="mood"' not in html
    # The note comes first, so one tap saves both.
    assert html.index('name="note"') < html.index('name="mood"')
    assert "Tap a number to save it." in html
    assert 'name="client_id"' in html


def test_one_tap_saves_the_mood(db, login_as, auth):
    patient = login_as("patient")
    response = auth.post("/checkins/daily", {"client_id": str(uuid.uuid4()), "mood": "7"})
    assert response.status_code == 303 and response.headers["location"] == "/checkins?saved=1"
    (row,) = _checkins(db, patient)
    assert (row.slot, row.values) == ("daily", {"mood": 7})


def test_the_tap_saves_the_note_typed_above_it(db, login_as, auth):
    patient = login_as("patient")
    response = auth.post("/checkins/daily", {"client_id": str(uuid.uuid4()), "mood": "3",
                                             "note": "Slept badly."})
    assert response.status_code == 303
    (row,) = _checkins(db, patient)
    assert row.values == {"mood": 3, "note": "Slept badly."}


def test_a_note_alone_can_be_saved(db, login_as, auth):
    patient = login_as("patient")
    response = auth.post("/checkins/daily", {"client_id": str(uuid.uuid4()),
                                             "note": "A quiet day."})
    assert response.status_code == 303
    (row,) = _checkins(db, patient)
    assert row.values == {"note": "A quiet day."}


def test_a_mood_out_of_range_is_refused_next_to_the_buttons(db, login_as, auth):
    patient = login_as("patient")
    response = auth.post("/checkins/daily", {"client_id": str(uuid.uuid4()), "mood": "11",
                                             "note": "kept"})
    assert response.status_code == 422
    assert re.search(r'<p class="field-error" id="mood-error">[^<]+</p>', response.text)
    assert 'aria-describedby="mood-hint mood-error"' in response.text
    assert ">kept</textarea>" in response.text
    assert _checkins(db, patient) == []


# --- "Call my clinic" --------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "kept"), [
    ("+1 (555) 010-2000", "+1 (555) 010-2000"),
    ("  020  7946 0000 ", "020 7946 0000"),
    ("5550100", "5550100"),
])
def test_a_prescriber_sets_the_clinic_number(db, login_as, auth, client, typed, kept):
    prescriber = login_as("prescriber")
    page = client.get("/account").text
    assert 'name="clinic_phone"' in page and 'type="tel"' in page
    response = auth.post("/account/clinic-phone", {"clinic_phone": typed})
    assert response.status_code == 303
    assert response.headers["location"] == "/account?changed=clinic_phone"
    assert fresh(db, User, prescriber.id).clinic_phone == kept
    shown = client.get("/account?changed=clinic_phone").text
    assert "Clinic phone number saved." in shown
    assert f'value="{kept}"' in shown


@pytest.mark.parametrize(("typed", "message"), [
    ("call the desk", "Use digits, spaces, +, - and brackets only"),
    ("555 01#0 2000", "Use digits, spaces, +, - and brackets only"),
    ("1+555 010 2000", "Use digits, spaces, +, - and brackets only"),
    ("555 010", "A phone number has 7 to 20 digits."),
    ("1" * 21, "A phone number has 7 to 20 digits."),
    ("(1)-(2)-(3)-(4)-(5)-(6)-(7)-(8)-(9)-(0)-(1)", "A phone number has 7 to 20 digits."),
])
def test_a_bad_clinic_number_is_refused_with_the_value_kept(db, login_as, auth, typed,
                                                              message):
    prescriber = login_as("prescriber")
    prescriber.clinic_phone = CLINIC
    db.add(prescriber)
    db.commit()
    response = auth.post("/account/clinic-phone", {"clinic_phone": typed})
    assert response.status_code == 422
    error = re.search(r'<p class="field-error" id="clinic_phone-error">([^<]+)</p>',
                      response.text)
    assert error and message in error.group(1).replace("&#43;", "+")
    assert 'aria-invalid="true"' in response.text
    assert f'value="{typed}"' in response.text.replace("&#34;", '"')
    assert fresh(db, User, prescriber.id).clinic_phone == CLINIC  # nothing written


def test_an_empty_number_clears_it(db, login_as, auth):
    prescriber = login_as("prescriber")
    prescriber.clinic_phone = CLINIC
    db.add(prescriber)
    db.commit()
    assert auth.post("/account/clinic-phone", {"clinic_phone": "  "}).status_code == 303
    assert fresh(db, User, prescriber.id).clinic_phone is None


@pytest.mark.parametrize("role", ["patient", "caregiver"])
def test_only_a_prescriber_has_a_clinic_number(db, login_as, auth, client, role):
    user = login_as(role)
    assert 'name="clinic_phone"' not in client.get("/account").text
    response = auth.post("/account/clinic-phone", {"clinic_phone": CLINIC})
    assert response.status_code == 403
    assert fresh(db, User, user.id).clinic_phone is None


def _patient_with_clinic(db, phone: str | None = CLINIC):
    prescriber = factories.user(db, role=Role.PRESCRIBER)
    prescriber.clinic_phone = phone
    patient = factories.user(db, role=Role.PATIENT)
    factories.protocol(db, prescriber, patient, **factories.session_now_protocol(patient))
    db.commit()
    return prescriber, patient


def _gate(auth, **reading):
    response = auth.post("/today/gate", {
        "gate_client_id": str(uuid.uuid4()), "heart_rate": "72",
        **{k: "yes" for k in factories.CHECKLIST_ALL_YES}, **reading})
    assert response.status_code in (200, 303), response.text
    return auth.client.get("/today").text


def test_the_hold_screen_offers_call_my_clinic(db, auth):
    _prescriber, patient = _patient_with_clinic(db)
    assert auth.login(patient.email).status_code == 303
    assert not CALL_CLINIC.search(shown(auth.client.get("/today").text))  # nothing held yet
    today = _gate(auth, systolic="170", diastolic="104")
    assert "Hold: it is not safe to dose right now" in today
    assert CALL_CLINIC.search(shown(today))


def test_the_emergency_screen_offers_call_my_clinic(db, auth):
    _prescriber, patient = _patient_with_clinic(db)
    assert auth.login(patient.email).status_code == 303
    today = _gate(auth, systolic="190", diastolic="125")
    today = shown(today)
    assert "Do not take your dose" in today
    assert CALL_CLINIC.search(today)
    assert today.index('href="tel:911"') < CALL_CLINIC.search(today).start()


def test_the_ok_screen_has_no_clinic_button(db, auth):
    _prescriber, patient = _patient_with_clinic(db)
    assert auth.login(patient.email).status_code == 303
    today = _gate(auth, systolic="124", diastolic="80")
    assert "Safety check passed" in today
    assert not CALL_CLINIC.search(shown(today))


def test_the_help_page_offers_call_my_clinic_beside_the_crisis_lines(db, auth, client):
    _prescriber, patient = _patient_with_clinic(db)
    assert not CALL_CLINIC.search(client.get("/help").text)  # signed out: no one's clinic
    assert auth.login(patient.email).status_code == 303
    html = client.get("/help").text
    assert CALL_CLINIC.search(html)
    assert html.index('href="tel:988"') < CALL_CLINIC.search(html).start()


def test_no_number_no_button(db, auth, client):
    _prescriber, patient = _patient_with_clinic(db, phone=None)
    assert auth.login(patient.email).status_code == 303
    assert "Call my clinic" not in client.get("/help").text
    assert "Call my clinic" not in _gate(auth, systolic="170", diastolic="104")


def test_the_number_comes_from_the_first_prescriber_who_has_one(db):
    patient = factories.user(db, role=Role.PATIENT)
    first = factories.user(db, role=Role.PRESCRIBER)
    second = factories.user(db, role=Role.PRESCRIBER)
    third = factories.user(db, role=Role.PRESCRIBER)
    now = utcnow()
    for i, prescriber in enumerate((first, second, third)):
        factories.link(db, patient, prescriber, now + timedelta(minutes=i))
    second.clinic_phone, third.clinic_phone = "555 0100 222", "555 0100 333"
    db.flush()
    assert careteam.clinic_phone_for(db, patient) == "555 0100 222"
    # A prescriber who left the team is not called.
    _revoke(db, patient, second, now)
    assert careteam.clinic_phone_for(db, patient) == "555 0100 333"
    # Another patient's prescriber never is.
    other = factories.user(db, role=Role.PATIENT)
    assert careteam.clinic_phone_for(db, other) is None


def _revoke(db, patient, member, now):
    from app.careteam.models import CareLink
    link = db.exec(select(CareLink).where(CareLink.patient_id == patient.id,
                                          CareLink.member_id == member.id)).one()
    link.revoked_at = now
    db.add(link)
    db.flush()


def test_the_demo_prescriber_has_a_clinic_number(db):
    from app.seed import seed_demo
    users = seed_demo(db, utcnow())
    db.flush()
    assert careteam.clinic_phone_for(db, users["patient@demo.test"]) == CLINIC


def test_the_qr_title_is_escaped():
    svg = str(qr_svg("https://example.test/invite/x", title='<script>"x"</script>'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
