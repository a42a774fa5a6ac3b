"""Static files under content-hashed names, kept a year, compressed once.

`static_url("app.css")` gives `/static/app.<hash>.css`: the hash of the file's bytes, read once
at startup, so a deploy that changes a file changes its address and every browser (and the
service worker, whose cache version is derived from these hashes) fetches it again, while an
unchanged file is never asked for twice. The hashed names answer with an immutable year-long
Cache-Control; the plain names (pages cached before this, the offline gate's test page) still
answer, revalidated each time. Text files are gzipped once here, not per request.
"""

import base64
import gzip
import hashlib
import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import rjsmin
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.config import settings

STATIC = Path(__file__).resolve().parent.parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
# Plain names may change under the same address: always ask (cheap, 304 with the ETag).
REVALIDATE = "no-cache"
COMPRESSIBLE = {".js", ".css", ".svg", ".json", ".webmanifest", ".txt", ".html"}
# Served by app/pwa.py at the root (its scope must cover every page), never under a hash.
NOT_HASHED = {"sw.js"}
_OLD_HASH = re.compile(r"(.+)\.[0-9a-f]{10}(\.[^./]+)")
_CSS_URL = re.compile(r"""url\(\s*(['"]?)/static/([^'")?#\s]+)\1\s*\)""")

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("application/manifest+json", ".webmanifest")


@dataclass(frozen=True)
class Asset:
    name: str  # "icons/icon-192.png"
    hashed: str  # "icons/icon-192.1a2b3c4d5e.png"
    digest: str
    body: bytes
    gzipped: bytes | None
    media_type: str


def minified_script(name: str, text: str) -> str:
    """Our scripts as sent: without comments and spaces (rjsmin: it keeps strings, template
    literals and regular expressions as written), a third smaller compressed. A vendored
    `.min.js` is already, and in development the page's scripts stay readable."""
    if name.endswith(".min.js") or settings.app_env == "development":
        return text
    return rjsmin.jsmin(text)


def _hashed_name(name: str, digest: str) -> str:
    path = PurePosixPath(name)  # "htmx-4.0.1.min.js" keeps its version: htmx-4.0.1.min.<h>.js
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


def _asset(name: str, body: bytes) -> Asset:
    digest = hashlib.sha256(body).hexdigest()[:10]
    suffix = PurePosixPath(name).suffix
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type == "application/javascript":
        media_type += "; charset=utf-8"
    zipped = None
    if suffix in COMPRESSIBLE:
        # mtime=0: the same bytes every start, so the ETag of the compressed copy is stable.
        candidate = gzip.compress(body, compresslevel=9, mtime=0)
        zipped = candidate if len(candidate) < len(body) else None
    return Asset(name, _hashed_name(name, digest), digest, body, zipped, media_type)


def _scan() -> tuple[dict[str, Asset], float]:
    files = sorted(p for p in STATIC.rglob("*") if p.is_file() and not p.name.startswith("."))
    names = [p.relative_to(STATIC).as_posix() for p in files]
    stamp = max((p.stat().st_mtime for p in files), default=0.0)
    by_name: dict[str, Asset] = {}
    # Stylesheets last: their url(/static/…) references are rewritten to hashed names first,
    # so a changed icon changes the stylesheet's hash too.
    for name in sorted(names, key=lambda n: n.endswith(".css")):
        if name in NOT_HASHED:
            continue
        body = (STATIC / name).read_bytes()
        if name.endswith(".css"):
            text = body.decode()
            body = _CSS_URL.sub(lambda m: f"url({_url(by_name, m.group(2))})", text).encode()
        elif name.endswith(".js"):
            body = minified_script(name, body.decode()).encode()
        by_name[name] = _asset(name, body)
    return by_name, stamp


def _url(by_name: dict[str, Asset], name: str) -> str:
    asset = by_name.get(name)
    return f"/static/{asset.hashed if asset else name}"


_by_name, _stamp = _scan()
_by_path: dict[str, Asset] = {}


def _index() -> None:
    _by_path.clear()
    for asset in _by_name.values():
        _by_path[asset.hashed] = asset
        _by_path[asset.name] = asset


_index()


def _fresh() -> None:
    """In development a file edited while the server runs gets a new hash at once."""
    global _by_name, _stamp
    if settings.app_env != "development":
        return
    newest = max(
        (os.stat(os.path.join(root, f)).st_mtime for root, _, fs in os.walk(STATIC) for f in fs),
        default=0.0,
    )
    if newest != _stamp:
        _by_name, _stamp = _scan()
        _index()


# Inline in every page's <head> (base.html), allowed by its hash in the CSP (app/main.py): the
# script that loads the others after the first paint, so nothing is fetched before that paint
# but the stylesheet. Read once: a change to it needs a restart, like the CSP it must match.
INLINE_SCRIPT = (STATIC / "boot.js").read_text(encoding="utf-8")
INLINE_SCRIPT_CSP = "'sha256-{}'".format(
    base64.b64encode(hashlib.sha256(INLINE_SCRIPT.encode("utf-8")).digest()).decode())


def static_url(name: str) -> str:
    """The address of a file under app/static: hashed, so it can be cached for a year."""
    _fresh()
    asset = _by_name.get(name)
    if asset is None:
        raise KeyError(f"no static file {name!r}")  # a typo fails the page's test, not later
    return f"/static/{asset.hashed}"


def version() -> str:
    """One short hash of every hashed file: changes whenever any of them does."""
    _fresh()
    joined = "".join(f"{a.name}:{a.digest};" for a in _by_name.values())
    return hashlib.sha256(joined.encode()).hexdigest()[:10]


def _accepts_gzip(headers: Headers) -> bool:
    for part in headers.get("accept-encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class StaticAssets(StaticFiles):
    """StaticFiles that answers the known files from memory, hashed names kept a year."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC)

    async def get_response(self, path: str, scope: Scope) -> Response:
        _fresh()
        path = PurePosixPath(path).as_posix()
        asset = _by_path.get(path)
        if asset is None and (old := _OLD_HASH.fullmatch(path)):
            # A page cached before a deploy names the previous hash: today's file, revalidated.
            asset = _by_name.get(old.group(1) + old.group(2))
        if asset is None or scope["method"] not in ("GET", "HEAD"):
            # Anything else (an unknown name, a POST): Starlette's own answer (404, 405).
            response = await super().get_response(path, scope)
            if response.status_code in (200, 304):
                response.headers["Cache-Control"] = REVALIDATE
            return response
        request_headers = Headers(scope=scope)
        zipped = asset.gzipped is not None and _accepts_gzip(request_headers)
        body = asset.gzipped if zipped else asset.body
        etag = f'"{asset.digest}{"-gz" if zipped else ""}"'
        headers = {
            "Cache-Control": IMMUTABLE if path == asset.hashed else REVALIDATE,
            "ETag": etag,
        }
        if asset.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
        if zipped:
            headers["Content-Encoding"] = "gzip"
        if etag in request_headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if scope["method"] == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(status_code=200, headers=headers, media_type=asset.media_type)
        return Response(body, headers=headers, media_type=asset.media_type)
