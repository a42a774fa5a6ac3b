"""Nothing a Spanish reader is shown falls back to English (issue 15).

`tests/test_translations.py` checks that every string extraction finds has Spanish. That
misses the strings extraction cannot see: a label looked up at run time (`_(o.label)`,
`_(k.capitalize())`), or a call Babel reads wrongly (`_({...}.get(code))` was extracted as one
joined string, so the Spanish PDF's ledger said "Count differs"). Here the demo clinic's
Spanish-speaking patient, caregiver and prescriber open every page their links reach, and the
exports, while each lookup in the Spanish catalogue that finds nothing is recorded.
"""

import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest
from sqlmodel import select

from app import i18n
from app.accounts.models import User
from app.seed import DEMO_PASSWORD

# Words that read the same in both languages, asked for by code (instrument abbreviations).
SAME_IN_SPANISH = {"PHQ-9", "GAD-7", "C-SSRS", "PIN"}
HREF = re.compile(r'href="([^"#]+)')
# Links that leave the pages or act: sign-out is a form, these are files or feeds.
SKIP = re.compile(r"^/(static|sw\.js|manifest|logout|api/)")
MAX_PAGES = 400


@pytest.fixture
def misses(monkeypatch):
    """Every message looked up in Spanish that the catalogue does not have."""
    spanish = i18n.translations_for("es")
    catalogue = spanish._catalog  # GNUTranslations: msgid, (msgid, n), "ctx\x04msgid"
    missed: set[str] = set()

    def speaking_spanish() -> bool:
        return i18n._active() is spanish

    def note(key, shown: str) -> None:
        if speaking_spanish() and key not in catalogue and shown not in SAME_IN_SPANISH:
            missed.add(shown)

    real, real_in, real_plural = i18n.translated, i18n.translated_in, i18n.translated_plural

    def translated(message):
        note(message, message)
        return real(message)

    def translated_in(context, message):
        note(f"{context}\x04{message}", f"{context}|{message}")
        return real_in(context, message)

    def translated_plural(singular, plural, n):
        note((singular, 0), singular)
        return real_plural(singular, plural, n)

    monkeypatch.setattr(i18n, "translated", translated)
    monkeypatch.setattr(i18n, "translated_in", translated_in)
    monkeypatch.setattr(i18n, "translated_plural", translated_plural)
    return missed


def _crawl(client, start: str) -> list[str]:
    """Every page reachable from `start` by links, once each (query strings included)."""
    seen, queue, visited = {start}, deque([start]), []
    while queue and len(visited) < MAX_PAGES:
        path = queue.popleft()
        response = client.get(path)
        assert response.status_code < 500, path
        visited.append(path)
        if response.is_redirect:
            links = [response.headers["location"]]
        elif "text/html" in response.headers.get("content-type", ""):
            links = HREF.findall(response.text)
        else:
            continue
        for href in links:
            url = urlsplit(urljoin(path, href.replace("&amp;", "&")))
            if url.netloc and url.netloc != "testserver":
                continue
            target = url.path + (f"?{url.query}" if url.query else "")
            if target not in seen and not SKIP.match(target):
                seen.add(target)
                queue.append(target)
    return visited


@pytest.mark.parametrize("email", ["paciente@demo.test", "caregiver@demo.test",
                                   "prescriber@demo.test"])
def test_every_page_and_export_reads_in_spanish(db, demo, client, auth, misses, email):
    user = db.exec(select(User).where(User.email == email)).one()
    user.language = "es"
    db.add(user)
    db.commit()
    assert auth.login(email, DEMO_PASSWORD).status_code == 303

    visited = _crawl(client, "/")

    assert len(visited) > 10, visited  # the crawl really walked the pages
    assert sorted(misses) == [], f"shown in English to a Spanish reader ({email}): {sorted(misses)}"
