"""The PDF's "Flags and reviews" holds what the patient list holds: the flags open when the
record was made and the prescriber's reviews of flags in the range. It held safety events
alone; an override, a held check and a count one troche short were under other headings, and
no review a prescriber wrote on the list reached the chart copy."""

from datetime import timedelta

import pytest

from app.clinic import flags as flag_rules
from app.db import utcnow
from app.seed import DEMO_PASSWORD, seed_demo
from tests.exports.test_pdf import flat, text_of


@pytest.fixture
def demo(db):
    """The demo clinic as `make run` seeds it, now (this folder's own demo is seeded at a
    fixed clock, whose flags would have aged out of their windows by today)."""
    users = seed_demo(db, utcnow())
    db.commit()
    return users


def _pdf_text(client, patient) -> str:
    today = utcnow().date()
    response = client.get(f"/api/v1/patients/{patient.id}/export?format=pdf"
                          f"&start={today - timedelta(days=30)}&end={today}")
    assert response.status_code == 200, response.text
    return flat(text_of(response.content)[1])


def test_the_pdf_lists_the_open_flags_and_the_reviews_of_the_range(db, auth, client, demo):
    patient = demo["patient@demo.test"]
    assert auth.login("prescriber@demo.test", DEMO_PASSWORD).status_code == 303
    open_now = flag_rules.for_patients(db, [patient], utcnow())[patient.id][1]
    codes = {f.code for f in open_now}
    assert {"override", "bp_hold", "supply"} <= codes
    text = _pdf_text(client, patient)
    assert "Open on the patient list when this record was made" in text
    for flag in open_now:
        assert flag_rules.code_label(flag.code) in text
    assert "Flags reviewed in this range None in this range." in text

    # Reviewed from the list, with a note: it leaves the open flags and is listed as reviewed.
    supply = next(f for f in open_now if f.code == "supply")
    response = auth.post(f"/patients/{patient.id}/flags/review",
                         {"code": "supply", "key": supply.key,
                          "note": "Spoke to Jordan: one troche dropped in the sink."})
    assert response.status_code == 303, response.text
    text = _pdf_text(client, patient)
    reviewed = text.split("Flags reviewed in this range", 1)[1]
    assert "one troche dropped in the sink." in reviewed and "Dr." in reviewed
    opened = text.split("Open on the patient list", 1)[1].split("Flags reviewed", 1)[0]
    assert flag_rules.code_label("supply") not in opened
