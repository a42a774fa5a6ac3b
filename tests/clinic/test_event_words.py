"""A safety event's words are written once (app/templating.py safety_event_words): the patient
page's event list calls it, and so does the list flag for an event to review
(app/clinic/flags.py event_words). They used to be two copies of one if/elif chain, in the
template's macro and in Python. The page reads word for word as the macro did, in English and in
Spanish, a crisis reading, a dose against a hold and an offline disagreement's verdicts
included."""

import html
import re
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from app import i18n
from app.checkins.models import SafetyEvent
from app.clinic import flags
from app.db import utcnow
from app.templating import TEMPLATES_DIR, env
from tests import factories

# The macro's chain as it stood before it called the function: the wording to keep.
BEFORE = "\n".join([
    '{% if e.kind == "positive_screen" %}{{ _("Positive suicidality screen '
    '(%(instrument)s), risk %(level)s", instrument=e.details.get("instrument", "").upper(),'
    ' level=e.level | risk_label) }}',
    '{% elif e.kind == "phq9_item9" %}{% if e.level == "unscreened" %}{{ _("PHQ-9 item 9 '
    'answered above 0: the C-SSRS screener was not completed") }}{% else %}{{ _("PHQ-9 item'
    ' 9 answered above 0: screener done, risk %(level)s", '
    'level=e.details.get("screened_risk") | risk_label) }}{% endif %}',
    '{% elif e.kind == "bp_emergency" %}{{ _("Blood pressure at or above 180/120") }}',
    '{% elif e.kind == "dose_against_hold" %}{{ _("Dose taken against a hold") }}',
    '{% elif e.kind == "offline_gate_disagreed" %}{{ _("The phone\'s offline safety check '
    'said %(offline)s; the server said %(server)s", offline=e.details.get("offline"), '
    'server=e.details.get("server")) }}',
    '{% elif e.kind == "severe_side_effect" %}{{ _("Severe side effect") }}',
    '{% elif e.kind == "hard_to_rouse" %}{{ _("Hard to rouse during a session") }}',
    '{% elif e.kind == "breathing_concern" %}{{ _("Breathing concern during a session") }}',
    '{% else %}{{ e.kind }}{% endif %}',
])
AFTER = "{{ safety_event_words(e.kind, e.level, e.details) }}"

EVENTS = [
    ("positive_screen", "high", {"instrument": "cssrs"}),
    ("positive_screen", "moderate", {"instrument": "cssrs"}),
    ("phq9_item9", "unscreened", {}),
    ("phq9_item9", "screened", {"screened_risk": "low"}),
    ("phq9_item9", "screened", {}),
    ("bp_emergency", "high", {"slot": "gate", "values": {"systolic": 185}}),
    ("dose_against_hold", "high", {"dose_mg": "100", "codes": ["too_soon"], "reason": "Oops"}),
    ("offline_gate_disagreed", "moderate", {"offline": "go", "server": "hold", "codes": []}),
    ("offline_gate_disagreed", "moderate", {"offline": "<b>go</b>", "server": "hold"}),
    ("severe_side_effect", "high", {}),
    ("hard_to_rouse", "high", {}),
    ("breathing_concern", "high", {}),
    ("a_kind_from_later", "high", {}),
]


def words(source: str, kind: str, level: str, details: dict) -> str:
    shown = env.from_string(source).render(e=SimpleNamespace(kind=kind, level=level,
                                                             details=details))
    return html.unescape(shown).strip()


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(("kind", "level", "details"),
                         [e for e in EVENTS if e[0] != "offline_gate_disagreed"])
def test_the_page_reads_as_the_macro_did(language, kind, level, details):
    i18n.activate(language)
    try:
        assert words(AFTER, kind, level, details) == words(BEFORE, kind, level, details)
    finally:
        i18n.activate("en")


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "The phone's offline safety check said OK; the server said Hold"),
    ("es", "El control de seguridad sin conexión del teléfono dio Bien; el servidor dio Pausa"),
])
def test_an_offline_disagreement_says_each_verdict_in_words(language, expected):
    """The macro put the stored codes in the sentence ("said ok; the server said hold", in
    Spanish too); each verdict now reads in the page's language."""
    i18n.activate(language)
    try:
        assert words(AFTER, "offline_gate_disagreed", "moderate",
                     {"offline": "ok", "server": "hold", "codes": ["bp_hold"]}) == expected
    finally:
        i18n.activate("en")


def test_the_wording_is_written_once():
    macro = (Path(TEMPLATES_DIR) / "clinic" / "patient.html").read_text()
    assert "safety_event_words(e.kind, e.level, e.details)" in macro
    assert not re.search(r'e\.kind == "(positive_screen|phq9_item9|hard_to_rouse|'
                         r'breathing_concern|severe_side_effect)"', macro)
    # The list flag says what the page says (an offline disagreement: its label, the flag
    # carries no verdicts).
    safety_event_words = env.globals["safety_event_words"]
    for kind, level, details in EVENTS:
        if kind not in flags.EVENT_KINDS:
            continue
        fact = flags.EventFact(utcnow(), "k", kind, level, details.get("screened_risk"),
                               str(details.get("instrument") or ""))
        expected = ("Offline safety check disagreed" if kind == "offline_gate_disagreed"
                    else safety_event_words(kind, level, details))
        assert flags.event_words(fact) == expected


def test_the_patient_page_shows_each_event_in_these_words(db, auth, client):
    prescriber, patient, _version = factories.patient_with_protocol(db)
    for i, (kind, level, details) in enumerate(EVENTS):
        db.add(SafetyEvent(patient_id=patient.id, kind=kind, level=level, details=details,
                           occurred_at=utcnow() - timedelta(hours=i + 1), source_id=uuid.uuid4()))
    db.commit()
    assert auth.login(prescriber.email).status_code == 303
    page = html.unescape(client.get(f"/patients/{patient.id}").text)
    flat = re.sub(r"\s+", " ", page)
    for expected in (
        "Positive suicidality screen (CSSRS), risk high",
        "Positive suicidality screen (CSSRS), risk moderate",
        "PHQ-9 item 9 answered above 0: the C-SSRS screener was not completed",
        "PHQ-9 item 9 answered above 0: screener done, risk low",
        "Blood pressure at or above 180/120",
        "Dose taken against a hold",
        "The phone's offline safety check said go; the server said Hold",
        "Severe side effect",
        "Hard to rouse during a session",
        "Breathing concern during a session",
        "a_kind_from_later",
    ):
        # After the time, alone in the card's title (whitespace aside).
        assert re.search(re.escape(f"· {expected}") + r"[ <]", flat), expected
    assert "100 mg against: Too soon. What happened: Oops" in page  # its details, kept
    # A verdict from the phone is text, never markup.
    assert "The phone's offline safety check said <b>go</b>;" in page
    assert "said <b>go</b>" not in client.get(f"/patients/{patient.id}").text


def test_a_dose_flagged_by_a_check_sent_later_reads_without_a_reason(db, auth, client):
    """The card read "Patient's account: None" for a dose a late check flagged (it had no
    reason: it was recorded before the hold was known), and did not say why."""
    prescriber, patient, _version = factories.patient_with_protocol(db)
    db.add(SafetyEvent(patient_id=patient.id, kind="dose_against_hold", level="high",
                       details={"codes": ["bp_hold"], "dose_mg": "150.00", "reason": None,
                                "check_sent_later": True},
                       occurred_at=utcnow() - timedelta(hours=1), source_id=uuid.uuid4()))
    db.commit()
    assert auth.login(prescriber.email).status_code == 303
    page = html.unescape(client.get(f"/patients/{patient.id}").text)
    assert "150 mg against: Blood pressure hold. The safety check that held arrived after " \
        "the dose" in page
    assert "happened: None" not in page and ": None" not in page
