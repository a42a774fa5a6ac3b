"""The pages a signed-in test client reaches by following links from the start page: what
a person could open, for tests that check every page (or every form) rather than a list."""

import re
from collections import Counter
from collections.abc import Iterator
from html import unescape
from html.parser import HTMLParser
from typing import Any

# Not pages to read: signing out, files, the JSON API, downloads.
_NOT_PAGES = ("/logout", "/static/", "/api/", "/export")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def shape(path: str) -> str:
    """A page's address without its ids and query values: the same page for another dose."""
    return re.sub(r"=[^&#]*", "", _UUID.sub("ID", path.split("#")[0]))


def pages(client, start: str = "/", per_shape: int = 3) -> Iterator[tuple[str, Any]]:
    """Each HTML page reachable from `start` through links (at most `per_shape` of one
    shape), with its answer; a page that does not answer 200 fails the test at once."""
    to_read, seen, shapes = [start], set(), Counter()
    while to_read:
        path = unescape(to_read.pop(0))
        shapes[shape(path)] += 1
        if path in seen or shapes[shape(path)] > per_shape \
                or any(part in path for part in _NOT_PAGES):
            continue
        seen.add(path)
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        if response.headers["content-type"].startswith("text/html"):
            yield path, response
            to_read += re.findall(r'href="(/[^"]*)"', response.text)


class _Forms(HTMLParser):
    """Each POST form of a page: its action and the values it would send as it stands. A form
    inside a <template> is not on the page: the phone copies it in and fills it (offline.js)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._fields: dict[str, str] | None = None
        self._select: str | None = None
        self._templates = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "template":
            self._templates += 1
        elif self._templates:
            return
        elif tag == "form":
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
        if tag == "template":
            self._templates -= 1
        elif self._templates:
            return
        elif tag == "form":
            self._fields = None
        elif tag == "select":
            self._select = None


def post_forms(html: str) -> list[tuple[str, dict[str, str]]]:
    """Each POST form of a page: its action and the values it would send as it stands."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


_FIELD = re.compile(r"<(input|select|textarea)\b[^>]*>")
_TYPED_KINDS = ("textarea", "text", "search", "email", "tel")


def fields(html: str) -> list[tuple[str, str]]:
    """(name, kind) of each field a person fills in: kind is "textarea", "select" or the
    input's type ("text" when it has none). Hidden inputs, buttons and fields with the
    `hidden` attribute (a password manager's username, say) are left out."""
    found = []
    for match in _FIELD.finditer(html):
        tag = match.group(0)
        name = re.search(r'\bname="([^"]+)"', tag)
        kind = match.group(1)
        if kind == "input":
            typed = re.search(r'\btype="([^"]+)"', tag)
            kind = typed.group(1) if typed else "text"
        if name and kind not in ("hidden", "submit", "button") \
                and not re.search(r"\shidden[\s>]", tag):
            found.append((name.group(1), kind))
    return found


def typed_fields(html: str) -> set[str]:
    """The names of the fields a person types words into (text, search, email, tel, text
    areas)."""
    return {name for name, kind in fields(html) if kind in _TYPED_KINDS}
