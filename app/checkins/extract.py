"""`make messages` for the instrument catalogue: its wording is data (app/checkins/instruments.py),
shown through gettext where it is displayed (`_(item.text)`), so the extractor must see it too.
Wired in babel.cfg; the Python strings of the module are extracted as usual first."""

from collections.abc import Iterator
from typing import Any

from babel.messages.extract import extract_python

NOTE = "Instrument wording: use the validated (official) translation; never paraphrase."


def extract(fileobj, keywords, comment_tags, options) -> Iterator[tuple[int, Any, Any, list]]:
    yield from extract_python(fileobj, keywords, comment_tags, options)
    from app.checkins.instruments import wording

    for text in wording():
        yield 0, None, text, [NOTE]
