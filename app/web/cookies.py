"""The session and anonymous (CSRF) cookies: one place decides their names and attributes.

Over https they carry the `__Host-` prefix: the browser then accepts them only with Secure,
Path=/ and no Domain, so a sibling subdomain (or a man in the middle on plain http) cannot plant
or overwrite them (session fixation). Over plain http (development, tests) the prefix would be
refused by the browser, so the plain name is used. A cookie under the other name is ignored:
accepting the unprefixed one over https would give up exactly that protection.
"""

from starlette.requests import HTTPConnection
from starlette.responses import Response

from app.config import settings

HOST_PREFIX = "__Host-"


def is_https(request: HTTPConnection) -> bool:
    """Served over https: the request's own scheme (after uvicorn's proxy headers) or the
    configured public origin."""
    return request.url.scheme == "https" or settings.public_origin.startswith("https://")


def _name(request: HTTPConnection, base: str) -> str:
    return HOST_PREFIX + base if is_https(request) else base


def session_name(request: HTTPConnection) -> str:
    return _name(request, settings.session_cookie)


def anon_name(request: HTTPConnection) -> str:
    return _name(request, settings.anon_cookie)


def is_session_name(name: str) -> bool:
    return name in (settings.session_cookie, HOST_PREFIX + settings.session_cookie)


def read_session(request: HTTPConnection) -> str | None:
    return request.cookies.get(session_name(request))


def read_anon(request: HTTPConnection) -> str | None:
    return request.cookies.get(anon_name(request))


def _set(request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",  # required by __Host-, and never a Domain
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def set_session(request: HTTPConnection, response: Response, token: str,
                max_age: int | None = None) -> None:
    _set(request, response, session_name(request), token,
         max_age or settings.session_absolute_days * 86400)


def set_anon(request: HTTPConnection, response: Response, value: str) -> None:
    _set(request, response, anon_name(request), value, 7 * 24 * 3600)


def delete_session(request: HTTPConnection | None, response: Response) -> None:
    # Without a request (an older caller), the plain name, as before.
    https = request is not None and is_https(request)
    response.delete_cookie(
        HOST_PREFIX + settings.session_cookie if https else settings.session_cookie,
        path="/",
        secure=https,  # a __Host- cookie is only replaced by one that is Secure too
        httponly=True,
        samesite="lax",
    )
