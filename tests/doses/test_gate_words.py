"""The safety check's words as the patient reads them: a checklist item left unticked is said as
a whole sentence, what is wrong and what to do (not "Not yet safe: fasted."), in English and in
Spanish, online and in the words the phone's offline verdict uses; and the time a hold was
measured reads as every other time does ("3:04 PM", not "15:04")."""

import html
import re
import uuid
from datetime import datetime

import pytest

from app import i18n
from app.doses import reasons, rules
from app.doses.rules import Reason, ReasonCode
from tests import factories
from tests.helpers import follow

TZ = "America/Chicago"

# What each item says on the form (templates/doses/_gate_form.html), as its sentence says it.
ITEM_WORDS = {
    "fasted": ("gone without food", "sin comer"),
    "no_sedatives": ("no alcohol, benzodiazepines or other sedatives",
                     "sin tomar alcohol, benzodiazepinas ni otros sedantes"),
    "no_driving": ("not drive or use machinery until tomorrow",
                   "no va a manejar ni usar maquinaria hasta mañana"),
    "safe_place": ("somewhere safe to sit or lie down",
                   "en un lugar seguro para sentarse o acostarse"),
    "sitter_present": ("your sitter is here with you", "su acompañante está aquí con usted"),
}
OPENING = {"en": "You have not confirmed that ", "es": "No ha confirmado que "}
WHAT_TO_DO = {"en": "then check again.", "es": "vuelva a hacer el control."}


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=\.) (?=[A-ZÁÉÍÓÚÑ])", text)


def test_every_checklist_item_has_its_sentence():
    assert set(ITEM_WORDS) == set(rules.CHECKLIST_ITEMS) == set(reasons.checklist_reasons())


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("item", rules.CHECKLIST_ITEMS)
def test_an_item_not_ticked_reads_as_a_complete_sentence(item, language):
    with i18n.using(language):
        message = reasons.reason_message(Reason(ReasonCode.CHECKLIST_FAILED, {"items": (item,)}),
                                         TZ)
    assert not message.startswith(("Not yet safe", "Todavía no es seguro")), message
    assert message.startswith(OPENING[language])  # what is wrong …
    assert message.endswith(WHAT_TO_DO[language])  # … and what to do
    assert ITEM_WORDS[item][language == "es"] in message  # its own item, not another's
    for sentence in sentences(message):
        assert sentence[0].isupper() and sentence.endswith("."), sentence
        assert len(sentence.split()) >= 6, sentence  # a sentence, not a label


@pytest.mark.parametrize("language", ["en", "es"])
def test_several_items_read_one_sentence_after_another(language):
    items = ("fasted", "no_driving", "safe_place")
    with i18n.using(language):
        message = reasons.reason_message(Reason(ReasonCode.CHECKLIST_FAILED, {"items": items}),
                                         TZ)
        own = reasons.checklist_reasons()
        slots = reasons.sentences()
    assert message == " ".join(own[item] for item in items)
    assert message.count(OPENING[language]) == 3
    assert ", " + OPENING[language] not in message
    # Offline the phone fills the same slot from the items its own rules give (offline.js).
    assert slots["checklist_failed"] == "{items}"


@pytest.fixture
def patient(db, login_as, request):
    patient = login_as("patient", language=getattr(request, "param", "en"), timezone=TZ)
    prescriber = factories.user(db, role="prescriber")
    factories.protocol(db, prescriber, patient, **factories.session_now_protocol(patient))
    db.commit()
    return patient


GATE_FORM = {"systolic": "124", "diastolic": "80", "heart_rate": "72", "fasted": "yes",
             "no_sedatives": "yes", "no_driving": "yes", "safe_place": "yes",
             "sitter_present": "yes"}


@pytest.mark.parametrize("patient", ["en", "es"], indirect=True)
def test_the_hold_page_and_the_offline_words_say_each_item_in_full(db, client, auth, patient):
    language = patient.language
    with i18n.using(language):
        own = reasons.checklist_reasons()
    today = html.unescape(client.get("/today").text)
    # The phone's offline verdict reads its words from the page: the same sentences.
    for item, sentence in own.items():
        assert f'data-text-item-{item}="{sentence}"' in today
    assert 'data-text-reason-checklist_failed="{items}"' in today

    form = {**GATE_FORM, "no_sedatives": "", "safe_place": "",
            "gate_client_id": str(uuid.uuid4())}
    page = html.unescape(follow(client, auth.post("/today/gate", form)).text)
    assert f"<li>{own['no_sedatives']} {own['safe_place']}</li>" in page
    assert "Not yet safe" not in page and "Todavía no es seguro" not in page


def test_measured_at_reads_as_the_apps_other_times(db, client, auth, patient):
    form = {**GATE_FORM, "systolic": "165", "gate_client_id": str(uuid.uuid4())}
    page = html.unescape(follow(client, auth.post("/today/gate", form)).text)
    measured = re.search(r"Measured at ([^.<]+(?:\.m\.)?)\.", page).group(1)
    datetime.strptime(measured, "%I:%M %p")  # 3:04 PM (formats.py "time"), never 15:04
