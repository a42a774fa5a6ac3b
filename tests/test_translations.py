"""Every string a person can read is translated into Spanish (issue 15): the test extracts the
source exactly as `make messages` does (Python, templates and the instrument catalogue's
wording) and fails on any string the committed Spanish catalogue lacks, or whose translation
lost a placeholder, so a new string cannot ship in English only."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app import i18n
from app.checkins.instruments import wording

ROOT = Path(__file__).resolve().parent.parent
ES_PO = i18n.LOCALE_DIR / "es" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]|\{(\w*)\}")


def _make_messages_recipe() -> list[str]:
    """The pybabel command of the Makefile's `messages` target, so the two cannot drift."""
    recipe = (ROOT / "Makefile").read_text().split("\nmessages:", 1)[1]
    line = next(ln for ln in recipe.splitlines() if "pybabel extract" in ln)
    return line.strip().replace("$(BIN)/pybabel", "").split()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    out = tmp_path_factory.mktemp("messages") / "messages.pot"
    args = _make_messages_recipe()
    args[args.index("-o") + 1] = str(out)
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run([str(pybabel), *args], cwd=ROOT, check=True, capture_output=True)
    with out.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def spanish():
    with ES_PO.open("rb") as f:
        return read_po(f, locale="es")


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return bool(strings) and all(s.strip() for s in strings) and not message.fuzzy


def test_every_extracted_string_has_a_spanish_translation(template, spanish):
    missing = [m.id for m in template if m.id and (
        spanish.get(m.id, m.context) is None or not _translated(spanish.get(m.id, m.context)))]
    assert missing == [], (
        f"{len(missing)} string(s) without Spanish: translate them in {ES_PO.relative_to(ROOT)}"
        f" (run `make messages` to see them all): {missing[:20]}")
    assert len(template) > 1000  # the extraction really ran over the whole app


def test_every_spanish_entry_is_for_a_string_the_app_still_has(template, spanish):
    """A string reworded in the source leaves its old Spanish behind; the catalogue keeps only
    what extraction finds. A string shown through a variable must be marked with N_ where it is
    written (app/templating.py), or it would be listed here, and untranslated."""
    extracted = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in template if m.id}
    left = [m.id for m in spanish if m.id and (
        (m.id if isinstance(m.id, str) else m.id[0]), m.context) not in extracted]
    assert left == [], f"{len(left)} Spanish entries for strings no longer in the app: {left[:20]}"


def test_the_instrument_wording_is_extracted_and_translated(template, spanish):
    texts = wording()
    assert "Little interest or pleasure in doing things" in texts  # the walk has teeth
    assert [t for t in texts if t not in template] == []
    i18n.activate("es")
    try:
        same = [t for t in texts if i18n.gettext(t) == t and t not in {"PHQ-9", "GAD-7", "No"}]
    finally:
        i18n.activate("en")
    assert same == []


def _placeholders(text: str) -> list[str]:
    found = ["".join(groups) or "%s" for groups in PLACEHOLDER.findall(text)]
    # A name may stand twice where Spanish needs it to say whom a clause is about ("a Ana se le
    # tomó la presión, y Ana está en un lugar seguro"); an unnamed %s fills by position, so
    # how many there are must stay.
    return sorted({p for p in found if p != "%s"}) + [p for p in found if p == "%s"]


def test_translations_keep_every_placeholder(spanish):
    broken = []
    for m in spanish:
        if not m.id or not m.string:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = _placeholders(ids[-1])
        for s in strings:
            # A singular may spell its number out ("un"), so %(num)s may go; nothing else may.
            got = _placeholders(s)
            if got != wanted and not (len(ids) == 2 and set(got) == set(wanted) - {"num"}):
                broken.append((m.id, s))
    assert broken == []


def test_the_spanish_catalogue_keeps_the_two_form_plural_rule(spanish):
    assert spanish.num_plurals == 2
