"""Every form a demo user can reach, sent back with one field at a time set to what a person
or a broken page could send: nothing, a number past any limit, a date that does not exist, a
time that does not, text far too long. Each answer is a page or a redirect, never a 5xx,
and an error next to a field is our own plain message, never the validation library's English
("Input should be a valid date or datetime, day value is outside expected range").

Reading every form found two 500s (a minimum interval of 1e308 on the protocol form; a form
posted where a passkey's answer goes) and pydantic's wording on the supply and protocol
forms. What each value must produce is each form's own tests' business; this one guards the
floor for forms added later.
"""

from html.parser import HTMLParser

import pytest

from app.seed import DEMO_PASSWORD
from tests.helpers import LIBRARY_WORDING
from tests.web import crawl

HOSTILE = ("", "1e308", "2026-02-30", "25:61", "x" * 5000)
# Not sent: signing out or deleting the account would end the walk.
_NOT_SENT = ("/logout", "/account/delete")


class _Forms(HTMLParser):
    """Each POST form of a page: its action and the values it would send as it stands."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._fields: dict[str, str] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "form":
            self._fields = {}
            if (a.get("method") or "get").lower() == "post":
                self.forms.append((a.get("action") or "", self._fields))
        elif self._fields is None or not name:
            if tag == "option" and self._select and self._fields is not None:
                self._fields.setdefault(self._select, a.get("value") or "")
        elif tag == "select":
            self._select = name
        elif tag == "input" and a.get("type") in ("checkbox", "radio"):
            if "checked" in a:
                self._fields.setdefault(name, a.get("value") or "on")
        elif tag in ("input", "textarea"):
            self._fields.setdefault(name, a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._fields = None
        elif tag == "select":
            self._select = None


@pytest.mark.parametrize("email", ["patient@demo.test", "prescriber@demo.test",
                                   "caregiver@demo.test"])
def test_every_form_answers_odd_values_with_a_page_and_plain_words(demo, auth, client, email):
    assert auth.login(email, DEMO_PASSWORD).status_code == 303
    forms: dict[str, tuple[str, dict[str, str]]] = {}
    for path, response in crawl.pages(client, per_shape=2):
        parser = _Forms()
        parser.feed(response.text)
        for action, fields in parser.forms:
            target = action or path
            if not any(part in target for part in _NOT_SENT):
                forms.setdefault(crawl.shape(target), (target, fields))
    assert len(forms) > 5, forms  # the forms were found
    failures = []
    for target, fields in forms.values():
        for name in [n for n in fields if n != "csrf_token"]:
            for value in HOSTILE:
                response = auth.post(target, {**fields, name: value})
                if response.status_code >= 500:
                    failures.append((target, name, value[:20], response.status_code))
                elif wording := LIBRARY_WORDING.search(response.text):
                    failures.append((target, name, value[:20], wording.group(0)))
    assert failures == [], "\n".join(map(str, failures))
