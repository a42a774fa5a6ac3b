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


FREQUENCY = (
    Option(0, "Not at all"),
    Option(1, "Several days"),
    Option(2, "More than half the days"),
    Option(3, "Nearly every day"),
)
YES_NO = (Option(True, "Yes"), Option(False, "No"))

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

# The Columbia Suicide Severity Rating Scale screener, recent version (past month; behaviour in
# the past 3 months). Q3–Q5 are asked only after a yes to Q2; Q6 is always asked.
CSSRS = Instrument(
    key="cssrs",
    title="C-SSRS screener",
    prompt="In the past month:",
    recall="past month",
    items=(
        Item("q1", "Have you wished you were dead or wished you could go to sleep and not wake "
             "up?", "93246-7"),
        Item("q2", "Have you actually had any thoughts about killing yourself?", "93247-5"),
        Item("q3", "Have you been thinking about how you might do this?", "93248-3",
             asked_if=("q2", True)),
        Item("q4", "Have you had these thoughts and had some intention of acting on them?",
             "93249-1", asked_if=("q2", True)),
        Item("q5", "Have you started to work out or worked out the details of how to kill "
             "yourself? Do you intend to carry out this plan?", "93250-9",
             asked_if=("q2", True)),
        Item("q6", "In the past 3 months, have you done anything, started to do anything, or "
             "prepared to do anything to end your life?", "93267-3"),
    ),
    options=YES_NO,
    scoring="cssrs_screener",
    loinc_total="93374-7",
)

CATALOGUE: dict[str, Instrument] = {i.key: i for i in (PHQ9, GAD7, CSSRS)}


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
    """Answers that cannot be scored; the message says which item and why."""

    def __init__(self, message: str, item: str | None = None) -> None:
        super().__init__(message)
        self.item = item


def _is_asked(item: Item, answers: dict[str, object]) -> bool:
    if item.asked_if is None:
        return True
    key, value = item.asked_if
    return answers.get(key) == value


def normalise(instrument: Instrument, raw: list) -> dict[str, object]:
    """Answers in item order → {item key: answer}, checked against the options and skip logic.

    An incomplete questionnaire is never scored as if complete: every asked item needs an
    answer, and an item that was not asked must be null.
    """
    if not isinstance(raw, list):
        raise IncompleteAnswers(_("Answers must be a list in item order."))
    if len(raw) != len(instrument.items):
        raise IncompleteAnswers(
            _("%(title)s has %(n)s items; %(got)s answers were sent.",
              title=instrument.title, n=len(instrument.items), got=len(raw))
        )
    allowed = [o.value for o in instrument.options]
    answers: dict[str, object] = {}
    for item, value in zip(instrument.items, raw, strict=True):
        asked = _is_asked(item, answers)
        if not asked:
            if value is not None:
                raise IncompleteAnswers(
                    _("Item %(item)s is only asked after a yes to %(dep)s; send null.",
                      item=item.key, dep=item.asked_if[0] if item.asked_if else ""), item.key)
            answers[item.key] = None
            continue
        # bool is an int in Python: keep yes/no and 0–3 answers from standing in for each other.
        valid = value is not None and any(
            value == a and type(value) is type(a) for a in allowed
        )
        if not valid:
            if value is None:
                raise IncompleteAnswers(_("Answer item %(item)s.", item=item.key), item.key)
            raise IncompleteAnswers(
                _("Item %(item)s: %(value)s is not one of the answers.", item=item.key,
                  value=value), item.key)
        answers[item.key] = value
    return answers


def score(instrument: Instrument, answers: dict[str, object]) -> Score:
    if instrument.scoring == "sum":
        total = sum(int(v) for v in answers.values())  # type: ignore[call-overload]
        band = next(b for b in instrument.bands if b.low <= total <= b.high)
        follow_up = "cssrs" if instrument.key == "phq9" and answers.get("q9", 0) > 0 else None  # type: ignore[operator]
        return Score(total=total, band=band.key, band_label=band.label, follow_up=follow_up)
    if instrument.scoring == "cssrs_screener":
        return Score(total=None, band=None, band_label=None, risk=cssrs_risk(answers))
    raise ValueError(f"unknown scoring rule {instrument.scoring}")


def cssrs_risk(answers: dict[str, object]) -> Literal["none", "low", "moderate", "high"]:
    """Triage of the screener: intent, a plan or recent behaviour is high risk; thinking about
    a method is moderate; a wish to be dead or thoughts of suicide alone are low."""
    if answers.get("q4") is True or answers.get("q5") is True or answers.get("q6") is True:
        return "high"
    if answers.get("q3") is True:
        return "moderate"
    if answers.get("q1") is True or answers.get("q2") is True:
        return "low"
    return "none"


# --- session and daily items (one catalogue for check-in values) ------------------------------

SEVERITY = ("none", "mild", "moderate", "severe")
SIDE_EFFECTS = ("nausea", "vomiting", "dizziness", "headache", "anxiety", "other")
SEDATION = (
    Option(0, "Responds normally"),
    Option(1, "Drowsy but responds to voice"),
    Option(2, "Responds only to loud voice or touch"),
    Option(3, "Hard to rouse"),
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


MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure("mood", "Mood right now", "scale", 0, 10, low_label="Worst",
                high_label="Best"),
        Measure("dissociation", "Feeling detached or unreal (dissociation)", "scale", 0, 10,
                low_label="Not at all", high_label="Extremely"),
        Measure("sedation", "Sedation (sitter's observation)", "choice", 0, 3, options=SEDATION),
        *(Measure(effect, effect.capitalize(), "severity") for effect in SIDE_EFFECTS),
        Measure("systolic", "Blood pressure, upper (systolic)", "int", 50, 300,
                loinc="8480-6"),
        Measure("diastolic", "Blood pressure, lower (diastolic)", "int", 30, 200,
                loinc="8462-4"),
        Measure("heart_rate", "Pulse", "int", 20, 250, loinc="8867-4"),
        Measure("slept", "Slept well last night", "bool"),
        Measure("residual", "Leftover effects this morning", "severity"),
        Measure("ready_alone", "Ready to be alone", "bool"),
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


SLOTS: dict[str, Slot] = {
    s.key: s
    for s in (
        Slot("pre", "Before the dose", 0, 60, ("mood", "systolic", "diastolic", "heart_rate",
                                                "note")),
        Slot("plus40", "Blood pressure recheck (+40 minutes)", 40, 40,
             ("systolic", "diastolic", "heart_rate", "dissociation", "sedation", *SIDE_EFFECTS,
              "note")),
        Slot("end", "End of session (+2 hours)", 120, 120,
             ("systolic", "diastolic", "heart_rate", "dissociation", "sedation", *SIDE_EFFECTS,
              "ready_alone", "note")),
        Slot("next_morning", "Next-morning check-in", None, 6 * 60,
             ("slept", "residual", "mood", *SIDE_EFFECTS, "note")),
        Slot("daily", "Daily mood", None, 12 * 60, ("mood", "note")),
    )
}
