"""Page-weight budgets (issue 14), in bytes sent over the wire, never in time.

A patient on a cheap phone with one bar of signal: the JavaScript a page loads stays within
50 KB compressed, the first view of Today (HTML, CSS, JS, icons, manifest) within 100 KB, an
htmx response within 10 KB, no web fonts; compressed responses really are compressed, and the
hashed static addresses are kept a year while the plain ones are revalidated.
Measured as the demo patient on the demo data (app/seed.py).
"""

import inspect
import json
import re
from dataclasses import dataclass

import pytest

from app.main import app
from app.seed import DEMO_PASSWORD
from app.templating import HTMX_FILE
from app.web import assets
from app.web.assets import IMMUTABLE, STATIC, static_url
from app.web.nav import menu
from tests.conftest import Auth
from tests.helpers import another_client

KB = 1024
JS_BUDGET = 50 * KB
FIRST_VIEW_BUDGET = 100 * KB
HTMX_BUDGET = 10 * KB
GZIP = {"Accept-Encoding": "gzip"}
SCRIPT = re.compile(r'<script src="([^"]+)"')
STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)"')
ICON = re.compile(r'<link rel="(?:icon|apple-touch-icon)" href="([^"]+)"')
MANIFEST = re.compile(r'<link rel="manifest" href="([^"]+)"')
SW_STATIC = re.compile(r'"(/static/[^"]+)"')


@dataclass
class Fetched:
    url: str
    body: int  # bytes of the body as sent (compressed when it was)
    headers: int  # bytes of the status line and headers, roughly as HTTP/1.1 sends them
    encoding: str | None

    @property
    def total(self) -> int:
        return self.body + self.headers


def fetch(client, url: str, **headers) -> Fetched:
    response = client.get(url, headers={**GZIP, **headers})
    assert response.status_code == 200, (url, response.status_code)
    head = len("HTTP/1.1 200 OK\r\n\r\n") + sum(
        len(k) + len(v) + 4 for k, v in response.headers.multi_items()
    )
    # num_bytes_downloaded counts the body before httpx decodes it: what the network carried.
    return Fetched(
        url, response.num_bytes_downloaded, head, response.headers.get("content-encoding")
    )


@pytest.fixture
def patient_client(demo, client):
    assert Auth(client).login("patient@demo.test", DEMO_PASSWORD).status_code == 303
    return client


def _today(client) -> str:
    response = client.get("/today", headers=GZIP)
    assert response.status_code == 200
    return response.text


def _scripts(client, html: str) -> list[Fetched]:
    # The page's scripts, and the service worker it registers (which imports outbox.js, one of
    # the page's own).
    urls = SCRIPT.findall(html)
    assert len(urls) >= 5, urls
    return [fetch(client, url) for url in [*urls, "/sw.js"]]


def _kb(n: int) -> str:
    return f"{n / KB:.1f} KB"


def test_javascript_a_page_loads_fits_the_budget(patient_client, record_property):
    scripts = _scripts(patient_client, _today(patient_client))
    for script in scripts:
        assert script.encoding == "gzip", f"{script.url} was sent uncompressed"
    total = sum(s.body for s in scripts)
    record_property("js_gzip_bytes", total)
    print(f"\nJavaScript, compressed: {_kb(total)} in {len(scripts)} files")
    assert total <= JS_BUDGET, {s.url: s.body for s in scripts}


def test_first_view_of_today_fits_the_budget(patient_client, record_property):
    client = patient_client
    page = client.get("/today", headers=GZIP)
    html = page.text
    fetched = [fetch(client, "/today")]
    fetched += [fetch(client, url) for url in STYLESHEET.findall(html)]
    fetched += _scripts(client, html)
    (manifest_url,) = MANIFEST.findall(html)
    fetched.append(fetch(client, manifest_url))
    manifest = json.loads(client.get(manifest_url).text)
    icons = set(ICON.findall(html)) | {icon["src"] for icon in manifest["icons"]}
    fetched += [fetch(client, url) for url in sorted(icons)]
    total = sum(f.total for f in fetched)
    record_property("today_first_view_bytes", total)
    print(
        f"\nToday, first view: {_kb(total)} in {len(fetched)} responses "
        f"(HTML {_kb(fetched[0].total)})"
    )
    assert total <= FIRST_VIEW_BUDGET, {f.url: f.total for f in fetched}


def test_no_web_fonts():
    """System fonts only: a font file is the heaviest thing a slow phone could wait for."""
    css = (STATIC / "app.css").read_text()
    assert "@font-face" not in css
    assert not re.search(r"url\([^)]*\.(woff2?|ttf|otf|eot)", css, re.I)
    fonts = [
        p
        for p in STATIC.rglob("*")
        if p.suffix.lower() in (".woff", ".woff2", ".ttf", ".otf", ".eot")
    ]
    assert fonts == []


def test_no_page_links_a_font(patient_client):
    html = _today(patient_client)
    assert "font" not in " ".join(re.findall(r"<link[^>]+>", html)).lower()


def _htmx_paths() -> list[str]:
    """What htmx asks this patient for: every place in their menu (boosted navigation), and
    every route that answers htmx with a named block (`render(..., block=...)`)."""
    paths = [item.href for item in menu("patient", "/today")] + ["/more"]
    for route in app.routes:
        endpoint = getattr(route, "endpoint", None)
        if not inspect.isfunction(endpoint) or "{" in route.path:
            continue
        if "GET" in route.methods and "block=" in inspect.getsource(endpoint):
            paths.append(route.path)
    return sorted(set(paths))


def test_htmx_responses_fit_the_budget(patient_client, record_property):
    sizes = {}
    for path in _htmx_paths():
        response = patient_client.get(path, headers={**GZIP, "HX-Request": "true"})
        if response.status_code != 200:
            continue  # not this patient's page (a route for the care team)
        sizes[path] = response.num_bytes_downloaded
    assert "/today" in sizes and "/doses" in sizes, sizes
    largest = max(sizes, key=sizes.get)
    record_property("largest_htmx_response", f"{largest} {sizes[largest]}")
    print(f"\nhtmx responses, compressed: largest {largest} {_kb(sizes[largest])}")
    assert all(size <= HTMX_BUDGET for size in sizes.values()), sizes


def test_pages_api_and_static_text_are_compressed(patient_client):
    client = patient_client
    page = client.get("/today", headers=GZIP)
    assert page.headers["content-encoding"] == "gzip"
    assert page.num_bytes_downloaded < len(page.content) / 2
    vary = [v.strip() for v in page.headers["vary"].split(",")]
    assert {"Accept-Encoding", "HX-Request", "Cookie"} <= set(vary)
    assert len(vary) == len(set(vary))
    api = client.get("/api/v1/today", headers=GZIP)
    assert api.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in api.headers["vary"]
    # A browser (or a proxy) that does not take gzip gets the same page, uncompressed.
    plain = client.get("/today", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text.count("<main") == page.text.count("<main") == 1
    css = client.get(static_url("app.css"), headers=GZIP)
    assert css.headers["content-encoding"] == "gzip"
    assert css.text == (STATIC / "app.css").read_text()
    raw_css = client.get(static_url("app.css"), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw_css.headers
    assert raw_css.content == (STATIC / "app.css").read_bytes()
    assert "Accept-Encoding" in raw_css.headers["vary"]


def test_already_compressed_files_are_sent_as_they_are(demo, patient_client):
    """PNGs, zips and PDFs are not compressed again (CPU for nothing), and exports stream."""
    icon = patient_client.get(static_url("icons/icon-512.png"), headers=GZIP)
    assert icon.status_code == 200 and "content-encoding" not in icon.headers
    with another_client() as prescriber:
        assert Auth(prescriber).login("prescriber@demo.test", DEMO_PASSWORD).status_code == 303
        patient_id = demo["patient@demo.test"].id
        one = prescriber.get(f"/api/v1/patients/{patient_id}/export?format=csv", headers=GZIP)
        assert one.status_code == 200, one.text
        assert one.headers["content-type"] == "application/zip"
        assert "content-encoding" not in one.headers
        assert one.content[:2] == b"PK"
        with prescriber.stream("GET", "/api/v1/export?format=csv", headers=GZIP) as panel:
            assert panel.status_code == 200
            assert "content-encoding" not in panel.headers
            assert "content-length" not in panel.headers  # streamed, not gathered first
            assert b"".join(panel.iter_bytes())[:2] == b"PK"


def test_hashed_static_addresses_are_kept_a_year(patient_client):
    client = patient_client
    html = _today(client)
    manifest = json.loads(client.get("/manifest.webmanifest").text)
    worker = client.get("/sw.js").text
    urls = (
        set(SCRIPT.findall(html))
        | set(STYLESHEET.findall(html))
        | set(ICON.findall(html))
        | {icon["src"] for icon in manifest["icons"]}
        | set(SW_STATIC.findall(worker))
    )
    assert static_url("htmx-4.0.1.min.js") in urls  # the vendored version stays in the name
    assert len(urls) >= 12, urls
    for url in sorted(urls):
        assert re.search(r"\.[0-9a-f]{10}\.[a-z]+$", url), f"{url} is not hashed"
        response = client.get(url, headers=GZIP)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == IMMUTABLE, url
    # The worker's caches are named after the files' hashes: a deploy renews them.
    assert re.search(rf'const VERSION ?= ?"v7-{assets.version()}";', worker), worker[:300]
    assert client.get("/sw.js").headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/static/app.css",
        "/static/htmx-4.0.1.min.js",
        "/static/icons/icon-192.png",
        "/static/app.0000000000.css",
    ],
)
def test_plain_and_outdated_static_addresses_still_answer_but_are_revalidated(client, path):
    """A page cached before a deploy names the plain file or an older hash: it still loads,
    but nothing keeps it for long."""
    response = client.get(path, headers=GZIP)
    assert response.status_code == 200
    cache = response.headers["cache-control"]
    assert cache == "no-cache" and "immutable" not in cache and "max-age" not in cache
    assert response.headers["etag"]
    again = client.get(path, headers={**GZIP, "If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_an_unknown_static_file_is_still_a_404(client):
    assert client.get("/static/nope.0123456789.js").status_code == 404
    assert client.get("/static/nope.js").status_code == 404


def test_our_scripts_are_sent_without_their_comments(client, monkeypatch):
    source = (STATIC / "app.js").read_text()
    served = client.get(static_url("app.js")).text
    assert "// A saved copy of this page" in source
    assert "// " not in served and "saved copy" not in served
    assert len(served) < 0.7 * len(source)
    # What the code says is kept: its strings and its template literals.
    assert '"X-Trochelog-Fresh"' in served
    worker = client.get("/sw.js").text
    assert "`shell-${VERSION}`" in worker and "// " not in worker
    # The vendored htmx is sent as it came; in development our scripts stay readable.
    assert client.get(static_url(HTMX_FILE)).content == (STATIC / HTMX_FILE).read_bytes()
    monkeypatch.setattr(assets.settings, "app_env", "development")
    assert assets.minified_script("app.js", source) == source
