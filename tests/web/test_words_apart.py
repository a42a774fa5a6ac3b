"""Words stay apart on every page: text from two template lines, or two badges side by side,
never runs together ("CorrectedNot the prescribed amount"), which a screen reader reads as one
made-up word and a sighted reader sees glued when the styles do not load.

The templates trim the newline after a block tag and the indentation before one (trim_blocks,
lstrip_blocks in app/templating.py), so two inline pieces on consecutive lines that each sit
inside `{% if %}` touch unless a space is written inside one of them. These tests read each
page's text as a browser lays it out (inline elements add no space, blocks do) and look for a
lower-case letter followed by a capital inside one word, or a sentence's end followed at once
by the next one.
"""

import re
from html.parser import HTMLParser

import pytest

from app.accounts.models import Role
from app.db import utcnow
from app.seed import DEMO_PASSWORD
from tests import factories
from tests.web import crawl

# Elements that start a new line of text (or are not text at all); everything else is inline.
_BLOCKS = frozenset({
    "p", "li", "div", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "dt", "dd", "label",
    "legend", "button", "summary", "section", "header", "footer", "nav", "main", "form",
    "fieldset", "ul", "ol", "table", "tr", "br", "option", "select", "textarea", "article",
    "aside", "figure", "figcaption", "details", "dialog", "caption", "hr", "input", "img"})
_SKIP = frozenset({"script", "style", "template", "title", "svg"})

# One word with a capital inside: a letter, a capital, a letter ("CorrectedNot").
_GLUED_WORDS = re.compile(r"[a-záéíóúñü][A-ZÁÉÍÓÚÑÜ][a-záéíóúñü]")
# A sentence's end with the next one at once behind it ("100 mg.20 minutes").
_GLUED_SENTENCES = re.compile(r"[a-záéíóúñü)][.!?][A-ZÁÉÍÓÚÑÜ¿¡0-9]")
# Words that have a capital inside by right.
_CAMEL_CASE = re.compile(r"TrocheLog|JavaScript|mmHg|iPhone|iPad|iOS|macOS")


class _Lines(HTMLParser):
    """A page's text, one entry per block, inline pieces joined as a browser joins them."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._pieces: list[str] = []
        self._skip = 0

    def _end_line(self) -> None:
        line = " ".join("".join(self._pieces).split())
        self._pieces = []
        if line:
            self.lines.append(line)

    def handle_starttag(self, tag, attrs):
        if tag in _BLOCKS:
            self._end_line()
        self._skip += tag in _SKIP

    def handle_startendtag(self, tag, attrs):
        if tag in _BLOCKS:
            self._end_line()

    def handle_endtag(self, tag):
        if tag in _BLOCKS:
            self._end_line()
        self._skip -= tag in _SKIP

    def handle_data(self, data):
        if not self._skip:
            self._pieces.append(data)


def run_together(html: str) -> list[str]:
    """Each place on the page where two words or two sentences touch, with its context."""
    parser = _Lines()
    parser.feed(html)
    parser._end_line()
    found = []
    for line in parser.lines:
        for pattern in (_GLUED_WORDS, _GLUED_SENTENCES):
            for match in pattern.finditer(_CAMEL_CASE.sub("x", line)):
                found.append(line[max(0, match.start() - 30):match.end() + 30])
    return found


def test_the_reading_finds_words_run_together_and_only_those():
    assert run_together('<p>Dose <span class="badge">Corrected</span>'
                        '<span class="badge">Not the prescribed amount</span></p>')
    assert run_together("<p>Dose taken at 10:51 AM. 100 mg.<span>20 minutes</span></p>")
    assert not run_together('<p>Dose <span class="badge">Corrected</span> '
                            '<span class="badge">Not the prescribed amount</span></p>')
    assert not run_together("<ul><li>Corrected</li><li>Not the prescribed amount</li></ul>")
    assert not run_together("<p>TrocheLog needs JavaScript. BP 120/80 mmHg, 1.5 troches.</p>")


_ACCOUNTS = ("patient@demo.test", "paciente@demo.test", "prescriber@demo.test",
             "caregiver@demo.test")


@pytest.fixture
def demo_and_invited(demo, db):
    # Beside the demo's: a patient invited with their protocol already set, who has not yet
    # chosen a password (the list shows their phase beside "Invite pending").
    invited = factories.user(db, role=Role.PATIENT, display_name="Ines Invited",
                             with_password=False)
    factories.protocol(db, demo["prescriber@demo.test"], invited,
                       starts_on=utcnow().date().isoformat())
    db.commit()


@pytest.mark.parametrize("email", _ACCOUNTS)
def test_no_words_run_together_on_any_page_a_demo_user_reaches(demo_and_invited, auth, client,
                                                                email):
    assert auth.login(email, DEMO_PASSWORD).status_code == 303
    read = list(crawl.pages(client))
    assert len(read) > 10  # the pages were read, not just the first
    glued = {path: found for path, response in read if (found := run_together(response.text))}
    assert glued == {}
