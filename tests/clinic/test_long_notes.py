"""A prescriber's note that is too long is refused with a message and kept in the form, never
cut by the browser (the text areas carry data-maxlength and a counter, not maxlength)."""

import re
import uuid
from datetime import timedelta

from sqlmodel import select

from app.checkins.models import SafetyEvent
from app.db import utcnow
from app.protocols.models import ProtocolVersion
from app.safety import service as safety
from tests import factories
from tests.web.page_checks import page_problems


def test_an_over_long_review_note_is_refused_and_kept(db, client, auth):
    prescriber, patient, _version = factories.patient_with_protocol(db)
    now = utcnow()
    event = safety.raise_event(db, patient_id=patient.id, kind="positive_screen", level="high",
                               occurred_at=now, source_id=uuid.uuid4(),
                               details={"instrument": "cssrs", "answers": {"q4": True}},
                               holds_dosing=True, now=now)
    db.commit()
    auth.login(prescriber.email)
    page = client.get(f"/patients/{patient.id}").text
    assert 'data-maxlength="1000"' in page and "At most 1000 characters." in page
    assert 'name="review_note" rows="3" maxlength' not in page
    note = "Called the patient. " * 75  # 1,500 characters
    response = auth.post(f"/patients/{patient.id}/safety-events/{event.id}/review",
                         {"review_note": note})
    assert response.status_code == 422
    assert note.strip()[:200] in response.text
    assert page_problems(response.text) == []  # the review, open once, with its error
    db.expire_all()
    assert db.exec(select(SafetyEvent).where(SafetyEvent.id == event.id)).one().reviewed_at is None


def test_the_protocol_reason_has_a_counted_limit_not_a_cut(db, client, auth):
    prescriber, patient, _version = factories.patient_with_protocol(db)
    db.commit()
    auth.login(prescriber.email)
    page = client.get(f"/patients/{patient.id}/protocol").text
    assert 'id="reason" name="reason" rows="2" data-maxlength="500"' in page
    assert "At most 500 characters." in page


def test_an_over_long_phase_reason_is_refused_beside_its_field_on_both_databases(db, client,
                                                                                 auth):
    """The reason for a phase change is stored in a column of 500: past it PostgreSQL refused
    the write (a 500 error page) and SQLite kept all of it. Now the limit is said beside the
    field, the reason kept, and nothing written; the field does not cut a pasted reason."""
    prescriber, patient, _version = factories.patient_with_protocol(db)
    db.commit()
    auth.login(prescriber.email)
    page = client.get(f"/patients/{patient.id}").text
    assert "maxlength" not in re.search(r'<input id="phase_reason"[^>]*>', page).group(0)
    client_id = re.search(r'name="phase_client_id" value="([^"]+)"', page).group(1)
    reason = "Stable for eight weeks on induction, " * 15  # 555 characters
    response = auth.post(f"/patients/{patient.id}/phase", {
        "phase_client_id": client_id, "phase": "maintenance",
        "effective_on": (utcnow() + timedelta(days=3)).date().isoformat(),
        "phase_reason": reason})
    assert response.status_code == 422
    field = re.search(r'<input id="phase_reason"[^>]*>', response.text).group(0)
    assert f'value="{reason}"' in field and 'aria-invalid="true"' in field
    assert '<p class="field-error" id="phase_reason-error">Use at most 500 characters.</p>' \
        in response.text
    assert page_problems(response.text) == []
    db.expire_all()
    assert len(db.exec(select(ProtocolVersion)
                       .where(ProtocolVersion.patient_id == patient.id)).all()) == 1
