"""Issue 12 item 4: every flag and reason a patient or caregiver sees reads as words, never an
internal code such as `sitter_required` or `late_entry`."""

import re
import uuid
from datetime import timedelta
from decimal import Decimal

from app import i18n
from app.checkins.rules import ReadyAloneCode
from app.db import utcnow
from app.doses.models import Dose, LedgerEntry
from app.doses.rules import ReasonCode
from app.templating import flag_label
from tests import factories

DOSE_FLAGS = [
    "override", "against_hold", "no_gate", "late_entry", "extra", "corrected_over_limit",
    "off_protocol_amount", "possible_duplicate", "severe_side_effect", "hard_to_rouse",
    "breathing_concern",
    "offline_gate_disagreed", *[c.value for c in ReasonCode], *[c.value for c in ReadyAloneCode],
]
LEDGER_FLAGS = ["early_refill", "discrepancy", "strength_mismatch"]
CODE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style|template)\b.*?</\1>", " ", html, flags=re.S | re.I)
    html = re.sub(r"<[^>]+>", " ", html)  # tags, with their attributes
    return re.sub(r"\s+", " ", html)


def test_every_code_has_words():
    for code in [*DOSE_FLAGS, *LEDGER_FLAGS]:
        label = flag_label(code)
        assert "_" not in label and label != code.replace("_", " "), code


def test_every_code_reads_in_the_readers_language():
    """The labels are kept untranslated and worded when shown, so one process serves an
    English-speaking prescriber and a Spanish-speaking patient each in their own words."""
    english = {code: flag_label(code) for code in [*DOSE_FLAGS, *LEDGER_FLAGS]}
    with i18n.using("es"):
        spanish = {code: flag_label(code) for code in english}
    assert flag_label("too_soon") == "Too soon"
    assert spanish["too_soon"] == "Demasiado pronto"
    assert all(spanish[code] != english[code] for code in english), [
        code for code in english if spanish[code] == english[code]]


def _patient_with_every_flag(db):
    _prescriber, patient, version = factories.patient_with_protocol(db)
    now = utcnow()
    for i, flag in enumerate(DOSE_FLAGS):
        db.add(Dose(id=uuid.uuid4(), patient_id=patient.id, protocol_version_id=version.id,
                    taken_at=now - timedelta(days=i + 1), recorded_at=now, received_at=now,
                    dose_mg=Decimal("100"), troches=Decimal("1"), route="sublingual",
                    flags=[flag, "no_gate", "late_entry", "extra"]))
    db.add(LedgerEntry(id=uuid.uuid4(), patient_id=patient.id, kind="count",
                       occurred_at=now, received_at=now, count=Decimal("3"),
                       expected_balance=Decimal("4"), flags=LEDGER_FLAGS))
    caregiver = factories.user(db, role="caregiver")
    factories.link(db, patient, caregiver, scope="checkins")
    db.commit()
    return patient, caregiver


def test_history_shows_no_internal_codes(db, client, auth):
    patient, _caregiver = _patient_with_every_flag(db)
    auth.login(patient.email)
    # Every page of the history (a page at a time; "Show older doses" leads on).
    text, url = "", "/doses"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        text += visible_text(page.text)
        older = re.search(r'href="(/doses\?before=[^"]+)"', page.text)
        url = older.group(1) if older else None
    assert "Entered later" in text and "No sitter" in text
    assert CODE.findall(text) == []


def test_supply_and_caregiver_pages_show_no_internal_codes(db, client, auth):
    patient, caregiver = _patient_with_every_flag(db)
    auth.login(patient.email)
    supply = visible_text(client.get("/supply").text)
    assert "discrepancy" in supply.lower()
    assert CODE.findall(supply) == []
    auth.logout()
    auth.login(caregiver.email)
    page = client.get(f"/supporting/{patient.id}")
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "Entered later" in text
    assert CODE.findall(text) == []
