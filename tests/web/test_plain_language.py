"""Plain language on the patient's and the sitter's screens (issue 15): about a 6th–8th grade
reading level, measured with the Flesch–Kincaid grade (textstat) over what each page says in
its main content: every paragraph, list item, label, heading, button and link counts as one
sentence. The questionnaires are left out: their clinical wording stays exact."""

import re
from html.parser import HTMLParser

import textstat

from app.seed import DEMO_PASSWORD

MAX_GRADE = 8.0
PATIENT_PAGES = ["/today", "/checkins", "/checkins/daily", "/help", "/doses", "/supply",
                 "/more", "/trends", "/care-team", "/account"]


class _Sentences(HTMLParser):
    """The text inside <main>, one sentence per block (scripts, templates, selects skipped)."""

    BLOCKS = frozenset({"p", "li", "label", "h1", "h2", "h3", "h4", "legend", "button", "a",
                        "dt", "dd", "td", "th", "summary", "caption"})
    SKIP = frozenset({"script", "style", "template", "select"})

    def __init__(self) -> None:
        super().__init__()
        self.sentences: list[str] = []
        self._words: list[str] = []
        self._skip = 0
        self._main = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in self.SKIP
        self._main += tag == "main"
        if tag in self.BLOCKS:
            self._flush()

    def handle_endtag(self, tag):
        if tag in self.BLOCKS:
            self._flush()
        self._skip -= tag in self.SKIP
        self._main -= tag == "main"

    def handle_data(self, data):
        if self._main and not self._skip:
            self._words.append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self._words).split())
        self._words = []
        if text:
            self.sentences.append(text if text[-1] in ".?!:" else text + ".")


def reading_grade(html: str) -> tuple[float, int]:
    parser = _Sentences()
    parser.feed(html)
    parser._flush()
    text = " ".join(parser.sentences)
    return textstat.flesch_kincaid_grade(text), len(text.split())


def test_the_measure_tells_plain_from_dense():
    plain = ("<main><p>Take your blood pressure. If it is high, wait and call your clinic.</p>"
             "</main>")
    dense = ("<main><p>Contemporaneous sphygmomanometric determinations notwithstanding, "
             "pharmacokinetic variability necessitates individualized therapeutic "
             "monitoring considerations.</p></main>")
    assert reading_grade(plain)[0] <= MAX_GRADE < reading_grade(dense)[0]


def test_the_patients_screens_read_at_8th_grade_or_below(demo, auth, client):
    assert auth.login("patient@demo.test", DEMO_PASSWORD).status_code == 303
    grades = {}
    for path in PATIENT_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        grades[path] = reading_grade(response.text)
    assert all(words > 20 for _grade, words in grades.values()), grades  # pages were read
    assert {p: g for p, (g, _w) in grades.items() if g > MAX_GRADE} == {}


def test_the_sitters_screens_read_at_8th_grade_or_below(demo, auth, client):
    assert auth.login("caregiver@demo.test", DEMO_PASSWORD).status_code == 303
    supporting = client.get("/supporting").text
    patient = re.search(r'href="(/supporting/[0-9a-f-]+)"', supporting).group(1)
    for path in ("/supporting", patient, "/help"):
        response = client.get(path)
        assert response.status_code == 200, path
        grade, words = reading_grade(response.text)
        assert words > 20 and grade <= MAX_GRADE, (path, grade)
