"""Which language a request speaks: the signed-in person's setting, then the browser's
Accept-Language, then English (app/i18n.py).

Applied twice on purpose: by a dependency before the route runs (so messages the route makes are
in that language) and again by `render` (an error page rendered outside the route, or after a
404 with no route at all, still speaks it). The middleware sends it as Content-Language.
"""

from fastapi import Request

from app import i18n


def resolve(request: Request) -> str:
    signed_in = getattr(request.state, "signed_in", None)
    setting = signed_in.user.language if signed_in is not None else None
    return i18n.resolve_language(setting, request.headers.get("accept-language"))


def apply(request: Request) -> str:
    """Speak the request's language from here on; remembered for the response's headers."""
    language = i18n.activate(resolve(request))
    request.state.language = language
    return language
