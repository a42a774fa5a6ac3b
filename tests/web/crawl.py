"""The pages a signed-in test client reaches by following links from the start page: what
a person could open, for tests that check every page (or every form) rather than a list."""

import re
from collections import Counter
from collections.abc import Iterator
from html import unescape
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
