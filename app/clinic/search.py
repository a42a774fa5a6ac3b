"""The patient list's search, sealed for its address.

A search is a patient's name or email: in `/patients?q=Jordan` it would sit in every proxy's
and browser history's record of the list (and of a flag reviewed from it, as `next`). The form
posts it; the list's address carries it encrypted and authenticated with a key derived from
the app's secret (Fernet: AES-128-CBC with HMAC-SHA256), so paging, going back and reviewing
keep the search without anyone reading it from the address.
"""

import base64
import hashlib
from functools import cache
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken

from app.clinic import service
from app.config import settings
from app.errors import Invalid
from app.i18n import gettext as _


@cache
def _fernet(secret: str) -> Fernet:
    key = hashlib.sha256(b"trochelog patient search\0" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(text: str) -> str:
    """The search as the list's address carries it ("" for no search)."""
    if not text:
        return ""
    return _fernet(settings.secret_key).encrypt(text.encode()).decode()


def unseal(token: str) -> str | None:
    """The search a sealed token holds; None when it cannot be read (made with another secret,
    or altered)."""
    try:
        return _fernet(settings.secret_key).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError, UnicodeError):
        return None


def filters(flag: str, q: str, find: str) -> service.Filters:
    """The list's filters from an address: a sealed search (`find`), or a plain `q` (typed by
    hand, or sent by an API client)."""
    if find:
        opened = unseal(find)
        if opened is None:
            raise Invalid(_("That search can no longer be read. Search again."), field="q")
        q = opened
    return service.parse_filters(flag, q)


def query(filters: service.Filters, page: int = 1) -> str:
    """The list's query string for these filters and this page, the search sealed ("" for the
    first page, unfiltered)."""
    return urlencode({k: v for k, v in (("flag", filters.flag or ""),
                                        ("find", seal(filters.q)),
                                        ("page", str(page) if page > 1 else "")) if v})
