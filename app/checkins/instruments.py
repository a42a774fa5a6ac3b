"""The instrument catalogue: items, standard wording, answer options, scoring, bands and codes.

Data, not code branches: adding an instrument means adding an entry here (and its tests). The
scoring rule is named by `scoring` and implemented once below for every instrument that uses it.
Item wording is the standard published wording; it is shown as-is and translated only with a
validated translation, never paraphrased.
"""

from dataclasses import dataclass, field
from typing import Literal

from app.i18n import gettext as _


@dataclass(frozen=True)
class Option:
    value: int | bool | str
    label: str


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    loinc: str | None = None
    # Shown only when an earlier answer makes it apply (C-SSRS Q3–Q5 follow a yes to Q2).
    asked_if: tuple[str, object] | None = None
    # This item's own answers (the "how difficult" item); empty: the instrument's options.
    options: tuple[Option, ...] = ()
    optional: bool = False  # may be left blank (null)
    scored: bool = True  # counts toward the total
    # False: not asked in this version of the instrument, but kept (always null) so every
    # version has the same answer shape.
    asked: bool = True
    number: str | None = None  # the number shown; None: its position; "": unnumbered


@dataclass(frozen=True)
class Band:
    low: int
    high: int
    key: str
    label: str


@dataclass(frozen=True)
class Instrument:
    key: str
    title: str
    prompt: str
    recall: str
    items: tuple[Item, ...]
    options: tuple[Option, ...]
    scoring: Literal["sum", "cssrs_screener"]
    bands: tuple[Band, ...] = ()
    loinc_panel: str | None = None
    loinc_total: str | None = None
    max_score: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    # The published version whose wording this is, for instruments that have more than one
    # (the C-SSRS screener: "recent" and "since_last_contact"); None for the others.
    version: str | None = None

    def options_for(self, item: Item) -> tuple[Option, ...]:
        return item.options or self.options

    def number_of(self, key: str) -> str:
        """The number shown beside an item: its position, or its own ("6a"; "" for none)."""
        position = 0
        for item in self.items:
            if item.number is None:
                position += 1
            if item.key == key:
                return str(position) if item.number is None else item.number
        raise KeyError(key)


FREQUENCY = (
    Option(0, "Not at all"),
    Option(1, "Several days"),
    Option(2, "More than half the days"),
    Option(3, "Nearly every day"),
)
YES_NO = (Option(True, "Yes"), Option(False, "No"))

# The last, unscored item of the PHQ-9 and the GAD-7. The PHQ-9's wording is the published one
# (also LOINC 69722-7's question in the HL7 US Behavioral Health Profiles PHQ-9 example). GAD-7
# reproductions differ slightly ("have these made it" / "have these problems made it"); this
# catalogue uses the one wording for both.
DIFFICULTY_TEXT = (
    "If you checked off any problems, how difficult have these problems made it for you to do "
    "your work, take care of things at home, or get along with other people?"
)
DIFFICULTY = (
    Option("not_difficult", "Not difficult at all"),
    Option("somewhat_difficult", "Somewhat difficult"),
    Option("very_difficult", "Very difficult"),
    Option("extremely_difficult", "Extremely difficult"),
)

PHQ9 = Instrument(
    key="phq9",
    title="PHQ-9",
    prompt="Over the last 2 weeks, how often have you been bothered by any of the following "
    "problems?",
    recall="2 weeks",
    items=(
        Item("q1", "Little interest or pleasure in doing things", "44250-9"),
        Item("q2", "Feeling down, depressed, or hopeless", "44255-8"),
        Item("q3", "Trouble falling or staying asleep, or sleeping too much", "44259-0"),
        Item("q4", "Feeling tired or having little energy", "44254-1"),
        Item("q5", "Poor appetite or overeating", "44251-7"),
        Item("q6", "Feeling bad about yourself — or that you are a failure or have let yourself "
             "or your family down", "44258-2"),
        Item("q7", "Trouble concentrating on things, such as reading the newspaper or watching "
             "television", "44252-5"),
        Item("q8", "Moving or speaking so slowly that other people could have noticed? Or the "
             "opposite — being so fidgety or restless that you have been moving around a lot "
             "more than usual", "44253-3"),
        Item("q9", "Thoughts that you would be better off dead or of hurting yourself in some "
             "way", "44260-8"),
        # LOINC 69722-7: confirmed in the HL7 US Behavioral Health Profiles PHQ-9 example
        # (QuestionnaireResponse-phq-9-example-1) and in LHC-Forms PHQ-9 Questionnaires.
        Item("difficulty", DIFFICULTY_TEXT, "69722-7", options=DIFFICULTY, optional=True,
             scored=False, number=""),
    ),
    options=FREQUENCY,
    scoring="sum",
    bands=(
        Band(0, 4, "minimal", "Minimal"),
        Band(5, 9, "mild", "Mild"),
        Band(10, 14, "moderate", "Moderate"),
        Band(15, 19, "moderately_severe", "Moderately severe"),
        Band(20, 27, "severe", "Severe"),
    ),
    loinc_panel="44249-1",
    loinc_total="44261-6",
    max_score=27,
)

GAD7 = Instrument(
    key="gad7",
    title="GAD-7",
    prompt="Over the last 2 weeks, how often have you been bothered by the following problems?",
    recall="2 weeks",
    items=(
        Item("q1", "Feeling nervous, anxious, or on edge", "69725-0"),
        Item("q2", "Not being able to stop or control worrying", "68509-9"),
        Item("q3", "Worrying too much about different things", "69733-4"),
        Item("q4", "Trouble relaxing", "69734-2"),
        Item("q5", "Being so restless that it is hard to sit still", "69735-9"),
        Item("q6", "Becoming easily annoyed or irritable", "69689-8"),
        Item("q7", "Feeling afraid, as if something awful might happen", "69736-7"),
        # No LOINC code could be confirmed for the GAD-7's difficulty item: 69730-0 (once
        # believed to be it) is LOINC's "Instructions" document section, and LOINC's own GAD-7
        # form (panel 69737-5, as served by LHC-Forms) has no difficulty item. None, not a guess.
        Item("difficulty", DIFFICULTY_TEXT, None, options=DIFFICULTY, optional=True,
             scored=False, number=""),
    ),
    options=FREQUENCY,
    scoring="sum",
    bands=(
        Band(0, 4, "minimal", "Minimal"),
        Band(5, 9, "mild", "Mild"),
        Band(10, 14, "moderate", "Moderate"),
        Band(15, 21, "severe", "Severe"),
    ),
    loinc_panel="69737-5",
    loinc_total="70274-6",
    max_score=21,
)

# The Columbia Suicide Severity Rating Scale screener, recent version: ideation in the past
# month (Q1–Q5), suicidal behaviour ever (Q6) and, after a yes, within the past 3 months. Q3–Q5
# are asked only after a yes to Q2; Q6 is always asked.
#
# Wording and LOINC item codes as in the HL7 US Behavioral Health Profiles C-SSRS example
# (QuestionnaireResponse-C-SSRS-example-1, whose questionnaire is CMS's "C-SSRS Screen Version"
# form), which pairs each question with its code: 93246-7 … 93250-9, 93267-3 (Q6, "Have you
# ever done anything…") and 93269-9 ("Was this within the past 3 months?"). The risk level is
# 93374-7 "Suicide risk level". The screener's panel code (believed to be 93373-9) could not be
# confirmed, so no panel code is given.
Q6_FOLLOW_UP = "q6_past_3_months"

CSSRS = Instrument(
    key="cssrs",
    title="C-SSRS screener",
    prompt="In the past month:",
    recall="past month; behaviour ever and in the past 3 months",
    items=(
        Item("q1", "Have you wished you were dead or wished you could go to sleep and not wake "
             "up?", "93246-7"),
        Item("q2", "Have you actually had any thoughts of killing yourself?", "93247-5"),
        Item("q3", "Have you been thinking about how you might do this?", "93248-3",
             asked_if=("q2", True)),
        Item("q4", "Have you had these thoughts and had some intention of acting on them?",
             "93249-1", asked_if=("q2", True)),
        Item("q5", "Have you started to work out or worked out the details of how to kill "
             "yourself? Do you intend to carry out this plan?", "93250-9",
             asked_if=("q2", True)),
        Item("q6", "Have you ever done anything, started to do anything, or prepared to do "
             "anything to end your life?", "93267-3"),
        Item(Q6_FOLLOW_UP, "Was this within the past 3 months?", "93269-9",
             asked_if=("q6", True), number="6a"),
    ),
    options=YES_NO,
    scoring="cssrs_screener",
    loinc_total="93374-7",
    version="recent",
)

# The screener's "since last contact" version, for every screen after the first. Columbia's
# published form ("Screening Version – Since Last Contact") keeps the questions' wording and
# asks them for the time since last contact (its answer column's heading), so that heading is
# the prompt here. Its behaviour question has no "ever" and no 3-month follow-up: behaviour
# since last contact is recent, so a yes is high risk. The follow-up stays in the answers as an
# item that is never asked (always null), so both versions have the same seven answers.
# LOINC publishes no codes for the "since last contact" window: these items carry none.
CSSRS_SINCE_LAST_CONTACT = Instrument(
    key="cssrs",
    title="C-SSRS screener",
    prompt="Since last contact:",
    recall="since last contact",
    items=(
        Item("q1", CSSRS.items[0].text),
        Item("q2", CSSRS.items[1].text),
        Item("q3", CSSRS.items[2].text, asked_if=("q2", True)),
        Item("q4", CSSRS.items[3].text, asked_if=("q2", True)),
        Item("q5", "Have you started to work out or worked out the details of how to kill "
             "yourself and do you intend to carry out this plan?", asked_if=("q2", True)),
        Item("q6", "Have you done anything, started to do anything, or prepared to do anything "
             "to end your life?"),
        Item(Q6_FOLLOW_UP, "Was this within the past 3 months?", asked=False, number="6a"),
    ),
    options=YES_NO,
    scoring="cssrs_screener",
    loinc_total="93374-7",
    version="since_last_contact",
)

# Screens stored before the 3-month follow-up existed had six answers and asked these (kept so
# those answers are shown with the questions they answered; never used for new answers).
CSSRS_SIX_ITEMS = Instrument(
    key="cssrs",
    title="C-SSRS screener",
    prompt="In the past month:",
    recall="past month",
    items=(
        *CSSRS.items[:1],
        Item("q2", "Have you actually had any thoughts about killing yourself?"),
        *CSSRS.items[2:5],
        Item("q6", "In the past 3 months, have you done anything, started to do anything, or "
             "prepared to do anything to end your life?"),
    ),
    options=YES_NO,
    scoring="cssrs_screener",
    loinc_total="93374-7",
)

CATALOGUE: dict[str, Instrument] = {i.key: i for i in (PHQ9, GAD7, CSSRS)}
VERSIONS: dict[str, dict[str, Instrument]] = {
    "cssrs": {i.version: i for i in (CSSRS, CSSRS_SINCE_LAST_CONTACT)},  # type: ignore[misc]
}


def instrument_for(key: str, version: str | None = None) -> Instrument | None:
    """The instrument with this key, in this version's wording (its only one when None)."""
    if version is None:
        return CATALOGUE.get(key)
    return VERSIONS.get(key, {}).get(version)


# The LOINC answer list of 93374-7 "Suicide risk level" (LL465-6): Low LA9194-7, Moderate
# LA6751-7, High LA9193-9, as used by the HL7 US Behavioral Health Profiles C-SSRS example
# (LA9194-7 "Low") and the answer-list crosswalks that code all three. It has no "no risk"
# answer, so a screen with no risk is not coded.
RISK_LEVEL_LOINC: dict[str, tuple[str, str]] = {
    "low": ("LA9194-7", "Low"),
    "moderate": ("LA6751-7", "Moderate"),
    "high": ("LA9193-9", "High"),
}


def band_label(instrument_key: str, band_key: str | None) -> str | None:
    """A stored score band's label ("moderately_severe" → "Moderately severe"), in English:
    translate it where it is shown. None when the instrument has no such band."""
    instrument = CATALOGUE.get(instrument_key)
    return next((b.label for b in instrument.bands if b.key == band_key), None) \
        if instrument else None


def risk_loinc(risk: str | None) -> tuple[str, str] | None:
    """(LOINC answer code, display) for a screener risk level, or None for "none"."""
    return RISK_LEVEL_LOINC.get(risk or "")


@dataclass(frozen=True)
class Score:
    total: int | None
    band: str | None
    band_label: str | None
    risk: Literal["none", "low", "moderate", "high"] | None = None
    follow_up: str | None = None  # the instrument to ask next, e.g. "cssrs"

    @property
    def crisis(self) -> bool:
        return self.risk == "high"


class IncompleteAnswers(ValueError):
    """Answers that cannot be scored. The message says which items and why, for whoever sent
    them; `item` is the first such item, and `errors` says what is wrong with each one in the
    patient's words (the form shows each beside its question)."""

    def __init__(self, message: str, item: str | None = None,
                 errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.item = item
        self.errors = errors or {}


def _is_asked(item: Item, answers: dict[str, object]) -> bool:
    if not item.asked:
        return False
    if item.asked_if is None:
        return True
    key, value = item.asked_if
    return answers.get(key) == value


def normalise(instrument: Instrument, raw: list) -> dict[str, object]:
    """Answers in item order → {item key: answer}, checked against the options and skip logic.

    An incomplete questionnaire is never scored as if complete: every asked item needs an
    answer, and an item that was not asked must be null. Optional items may be null, and those
    at the end may be left out of the list altogether (a client from before they existed);
    every item is in the answers either way.
    """
    if not isinstance(raw, list):
        raise IncompleteAnswers(_("Answers must be a list in item order."))
    items = instrument.items
    required = len(items)
    while required and items[required - 1].optional:
        required -= 1
    if not required <= len(raw) <= len(items):
        raise IncompleteAnswers(
            _("%(title)s has %(n)s items; %(got)s answers were sent.",
              title=_(instrument.title), n=len(items), got=len(raw))
        )
    raw = [*raw, *[None] * (len(items) - len(raw))]
    answers: dict[str, object] = {}
    # Every item is checked before any refusal, so the form can mark each question at once.
    problems: list[str] = []
    errors: dict[str, str] = {}
    for item, value in zip(items, raw, strict=True):
        if not _is_asked(item, answers):
            if value is not None:
                if not item.asked:
                    problems.append(_("Item %(item)s is not asked in this version; send null.",
                                      item=item.key))
                    errors[item.key] = _("This question is not asked here. Leave it "
                                         "unanswered.")
                else:
                    dep = item.asked_if[0] if item.asked_if else ""
                    problems.append(_("Item %(item)s is only asked after a yes to %(dep)s; "
                                      "send null.", item=item.key, dep=dep))
                    errors[item.key] = _("Leave this question unanswered unless you answered "
                                         "yes to question %(n)s.", n=instrument.number_of(dep))
            answers[item.key] = None
            continue
        if value is None and item.optional:
            answers[item.key] = None
            continue
        # bool is an int in Python: keep yes/no and 0–3 answers from standing in for each other.
        allowed = [o.value for o in instrument.options_for(item)]
        valid = value is not None and any(
            value == a and type(value) is type(a) for a in allowed
        )
        if not valid:
            if value is None:
                problems.append(_("Answer item %(item)s.", item=item.key))
                errors[item.key] = _("Choose an answer for this question.")
            else:
                problems.append(_("Item %(item)s: %(value)s is not one of the answers.",
                                  item=item.key, value=value))
                errors[item.key] = _("Choose one of the answers shown.")
            # An answer that cannot be used is no answer: the questions that depend on it are
            # not asked (as on the page, where they show only after a yes).
            answers[item.key] = None
            continue
        answers[item.key] = value
    if errors:
        raise IncompleteAnswers(" ".join(problems), next(iter(errors)), errors)
    return answers


def score(instrument: Instrument, answers: dict[str, object]) -> Score:
    if instrument.scoring == "sum":
        total = sum(int(answers[i.key]) for i in instrument.items if i.scored)  # type: ignore[call-overload]
        band = next(b for b in instrument.bands if b.low <= total <= b.high)
        follow_up = "cssrs" if instrument.key == "phq9" and answers.get("q9", 0) > 0 else None  # type: ignore[operator]
        return Score(total=total, band=band.key, band_label=band.label, follow_up=follow_up)
    if instrument.scoring == "cssrs_screener":
        return Score(total=None, band=None, band_label=None, risk=cssrs_risk(answers))
    raise ValueError(f"unknown scoring rule {instrument.scoring}")


def cssrs_risk(answers: dict[str, object]) -> Literal["none", "low", "moderate", "high"]:
    """Triage of the screener (Columbia's triage of the recent version):

    - high: intent (Q4) or a plan (Q5), or suicidal behaviour (Q6) within the past 3 months;
    - moderate: thinking about a method (Q3), or behaviour only longer ago (Q6 yes, follow-up
      no);
    - low: a wish to be dead (Q1) or thoughts of suicide (Q2) alone.

    Behaviour with no 3-month answer is recent: in the since-last-contact version the
    follow-up is not asked because that behaviour happened since last contact, and in screens
    stored before the follow-up existed Q6 itself asked about the past 3 months.
    """
    if answers.get("q4") is True or answers.get("q5") is True:
        return "high"
    if answers.get("q6") is True:
        return "moderate" if answers.get(Q6_FOLLOW_UP) is False else "high"
    if answers.get("q3") is True:
        return "moderate"
    if answers.get("q1") is True or answers.get("q2") is True:
        return "low"
    return "none"


# --- session and daily items (one catalogue for check-in values) ------------------------------

SEVERITY = ("none", "mild", "moderate", "severe")
SIDE_EFFECTS = ("nausea", "vomiting", "dizziness", "headache", "anxiety", "other")
# An observer's scale in plain words, modelled on the MOAA/S: each level is how the person
# responds when you say their name, then say it louder, then give a light shake of the shoulder.
# A sitter never uses pain to test. Needing a shake (MOAA/S 2, deep sedation) already counts as
# hard to rouse: the emergency guidance shows at once (the conservative reading for a home).
SEDATION = (
    Option(0, "Responds normally when you say their name"),
    Option(1, "Drowsy, but responds to their name in a normal voice"),
    Option(2, "Responds only when you say their name loudly or again and again"),
    Option(3, "Hard to rouse: responds only to a light shake, or not at all"),
)


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    kind: Literal["scale", "choice", "severity", "int", "bool", "text", "time"]
    low: int | None = None
    high: int | None = None
    options: tuple[Option, ...] = ()
    loinc: str | None = None
    low_label: str | None = None
    high_label: str | None = None
    short_label: str | None = None  # where the answer is shown beside it: "Sedation: …"
    unit: str | None = None


MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure("mood", "Mood right now", "scale", 0, 10, low_label="Worst",
                high_label="Best"),
        Measure("dissociation", "Feeling detached or unreal (dissociation)", "scale", 0, 10,
                # Not the PHQ-9's "Not at all": that answer is translated as a frequency
                # ("Ningún día"), which a 0-10 scale end must not read as.
                low_label="Not detached at all", high_label="Extremely",
                short_label="Dissociation"),
        Measure("sedation", "Sedation (sitter's observation)", "choice", 0, 3, options=SEDATION,
                short_label="Sedation"),
        *(Measure(effect, effect.capitalize(), "severity") for effect in SIDE_EFFECTS),
        Measure("systolic", "Blood pressure, upper (systolic)", "int", 50, 300,
                loinc="8480-6", unit="mmHg"),
        Measure("diastolic", "Blood pressure, lower (diastolic)", "int", 30, 200,
                loinc="8462-4", unit="mmHg"),
        Measure("heart_rate", "Pulse", "int", 20, 250, loinc="8867-4", unit="/min"),
        Measure("slept", "Slept well last night", "bool"),
        Measure("residual", "Leftover effects this morning", "severity"),
        Measure("ready_alone", "Ready to be alone", "bool"),
        Measure("breathing", "Breathing seems slow, shallow, noisy or irregular", "bool",
                short_label="Breathing concern"),
        # The sitter's co-signed pre-dose checklist (slot "sitter_check").
        Measure("sitter_present", "I am with them and will stay for the whole session", "bool"),
        Measure("bp_taken", "Their blood pressure was taken just now", "bool"),
        Measure("safe_place", "They are somewhere safe and comfortable to sit or lie down",
                "bool"),
        Measure("no_driving", "They will not drive or operate machinery until tomorrow",
                "bool"),
        Measure("note", "Notes", "text"),
    )
}


@dataclass(frozen=True)
class Slot:
    key: str
    title: str
    offset_minutes: int | None  # after the dose; None for daily / next-morning rules
    window_minutes: int  # how long it stays due before it counts as missed
    measures: tuple[str, ...]
    # Who may record it: the patient, or a caregiver from their own account (a sitter).
    authors: tuple[str, ...] = ("patient",)


# The sitter's co-signed checklist: every item must be ticked (app/checkins/service.py).
SITTER_CHECKLIST = ("sitter_present", "bp_taken", "safe_place", "no_driving")
# When the sitter is prompted to observe, in minutes after the dose (the first hour); the
# +40 minute blood pressure recheck is its own slot.
OBSERVE_AT_MINUTES = (15, 30, 45, 60)

SLOTS: dict[str, Slot] = {
    s.key: s
    for s in (
        Slot("pre", "Before the dose", 0, 60, ("mood", "systolic", "diastolic", "heart_rate",
                                                "note")),
        Slot("plus40", "Blood pressure recheck (+40 minutes)", 40, 40,
             ("systolic", "diastolic", "heart_rate", "dissociation", "sedation", *SIDE_EFFECTS,
              "note"), authors=("patient", "caregiver")),
        Slot("end", "End of session", 120, 120,
             ("systolic", "diastolic", "heart_rate", "dissociation", "sedation", *SIDE_EFFECTS,
              "ready_alone", "note"), authors=("patient", "caregiver")),
        Slot("sitter_check", "Sitter's pre-dose checklist", None, 0,
             (*SITTER_CHECKLIST, "systolic", "diastolic", "heart_rate"),
             authors=("caregiver",)),
        Slot("observe", "Sitter's observation", None, 0,
             ("sedation", "dissociation", "nausea", "vomiting", "breathing", "note"),
             authors=("caregiver",)),
        Slot("next_morning", "Next-morning check-in", None, 6 * 60,
             ("slept", "residual", "mood", *SIDE_EFFECTS, "note")),
        Slot("daily", "Daily mood", None, 12 * 60, ("mood", "note")),
    )
}


def wording() -> list[str]:
    """Every text of the catalogue a person reads (titles, prompts, items, answers, bands,
    measures, slots), once each, for extraction and for the test that each is translated."""
    found: dict[str, None] = {}

    def add(*texts: str | None) -> None:
        for text in texts:
            if isinstance(text, str) and text.strip():
                found.setdefault(text)

    def options(choices) -> None:
        add(*(o.label for o in choices))

    # Every version of every instrument (the module's Instrument constants), current or not:
    # an old response is shown in the wording it was answered in.
    for instrument in (v for v in globals().values() if isinstance(v, Instrument)):
        add(instrument.title, instrument.prompt, instrument.recall, *instrument.notes)
        options(instrument.options)
        for item in instrument.items:
            add(item.text)
            options(item.options)
        add(*(band.label for band in instrument.bands))
    for measure in MEASURES.values():
        add(measure.label, measure.low_label, measure.high_label, measure.short_label)
        options(measure.options)
    add(*(slot.title for slot in SLOTS.values()))
    return list(found)
