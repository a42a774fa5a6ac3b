"""Issue 12 items 5 and 8: a supply below zero says why and offers the fill form; troches are
counted with plurals."""

import re
import uuid
from datetime import timedelta
from decimal import Decimal

from app.db import utcnow
from app.doses.models import Dose
from app.templating import troches
from tests import factories
from tests.phone.test_words import visible_text

WHY = "More doses were logged than troches recorded: a fill may be missing."


def _patient_short_of_troches(db, amounts=("100", "150")):
    _prescriber, patient, version = factories.patient_with_protocol(db)
    now = utcnow()
    for i, mg in enumerate(amounts):
        db.add(Dose(id=uuid.uuid4(), patient_id=patient.id, protocol_version_id=version.id,
                    taken_at=now - timedelta(days=3 + 3 * i), recorded_at=now, received_at=now,
                    dose_mg=Decimal(mg), troches=Decimal(mg) / 100, route="sublingual",
                    flags=[]))
    caregiver = factories.user(db, role="caregiver")
    factories.link(db, patient, caregiver, scope="checkins")
    db.commit()
    return patient, caregiver


def test_a_negative_supply_says_why_and_offers_the_fill(db, client, auth):
    patient, caregiver = _patient_short_of_troches(db)
    auth.login(patient.email)
    for page in ("/today", "/supply"):
        html = client.get(page).text
        text = visible_text(html)
        assert WHY in text, page
        assert 'href="/supply#fill-heading"' in html
        assert not re.search(r"-\s*2\.5\b", text), page
        assert "about 0 days" not in text.lower()
    assert 'id="fill-heading"' in client.get("/supply").text
    auth.logout()
    auth.login(caregiver.email)
    text = visible_text(client.get(f"/supporting/{patient.id}").text)
    assert WHY in text
    assert "-2.5" not in text


def test_history_counts_troches_with_plurals(db, client, auth):
    patient, _caregiver = _patient_short_of_troches(db, amounts=("100", "150", "200"))
    auth.login(patient.email)
    text = visible_text(client.get("/doses").text)
    assert "(1 troche)" in text
    assert "(1.5 troches)" in text and "(2 troches)" in text
    assert "1.5 troche)" not in text and "2 troche)" not in text


def test_troches_filter():
    assert troches(Decimal("1")) == "1 troche"
    assert troches(Decimal("1.50")) == "1.5 troches"
    assert troches(2) == "2 troches"
    assert troches(Decimal("0.5")) == "0.5 troches"


def test_the_caregiver_invite_names_the_patient(db, client, auth):
    from tests.helpers import another_client, invite_token

    _prescriber, patient, _version = factories.patient_with_protocol(db)
    patient.display_name = "Robin Example"
    db.add(patient)
    db.commit()
    auth.login(patient.email)
    created = auth.post("/care-team/invite", {"client_id": str(uuid.uuid4()),
                                              "display_name": "Casey Sitter",
                                              "email": "casey@example.test"})
    assert created.status_code == 200
    with another_client() as phone:
        text = visible_text(phone.get(f"/invite/{invite_token(created.text)}").text)
    assert "Robin Example has invited you to support them" in text
    assert "support someone" not in text
