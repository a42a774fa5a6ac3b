"""Lighthouse (npm `lighthouse@12.2.3`, Debian's Chromium, mobile form factor, simulated
throttling: Lighthouse's defaults) on the pages each role opens, signed in through the real
form in the browser Lighthouse then drives (SignedInChromium), against the app started by the
production command on a fresh database seeded with the demo clinic.

    .venv/bin/python -m bench.lighthouse                    # 3 runs per page, the median kept
    LIGHTHOUSE_RUNS=1 .venv/bin/python -m bench.lighthouse  # a quick check
    LIGHTHOUSE_PAGES=today,trends .venv/bin/python -m bench.lighthouse   # some pages only
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python -m bench.lighthouse

Lighthouse is installed on first use into LIGHTHOUSE_CACHE (default
~/.cache/trochelog-bench), outside the repository; no browser is ever downloaded (CHROME_PATH,
default /usr/bin/chromium). LIGHTHOUSE_KEEP=folder keeps each run's JSON report there (for the
diagnostics: critical request chains, render-blocking resources). Writes its section of
docs/benchmarks.md (not with BENCH_RECORD=0). Numbers, never assertions.
"""

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from bench import report
from bench.server import (
    BIN,
    ROOT,
    AppServer,
    database_kind,
    fresh_database,
    server_env,
    stop_process,
)

VERSION = "12.2.3"
RUNS = int(os.environ.get("LIGHTHOUSE_RUNS", "3"))
CACHE = Path(os.environ.get("LIGHTHOUSE_CACHE", Path.home() / ".cache" / "trochelog-bench"))
CHROME = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking "
                "--disable-component-update --disable-sync --no-first-run")
KEEP = os.environ.get("LIGHTHOUSE_KEEP", "")
PASSWORD = "demo-pass-2026"  # noqa: S105 - the published demo password (app/seed.py)
CATEGORIES = ("performance", "accessibility", "best-practices")
METRICS = (("largest-contentful-paint", "LCP"), ("first-contentful-paint", "FCP"),
           ("cumulative-layout-shift", "CLS"), ("total-blocking-time", "TBT"))


@dataclass(frozen=True)
class Page:
    key: str
    label: str
    account: str | None  # None: signed out
    path: str  # "{patient}": the first demo patient's id


PAGES = (
    Page("login", "Sign-in", None, "/login"),
    Page("today", "Today (patient)", "patient@demo.test", "/today"),
    Page("trends", "Trends (patient)", "patient@demo.test", "/trends"),
    Page("history", "History (patient)", "patient@demo.test", "/doses"),
    Page("checkin", "Daily check-in form (patient)", "patient@demo.test", "/checkins/daily"),
    Page("supporting", "People I support (caregiver)", "caregiver@demo.test", "/supporting"),
    Page("patients", "Patient list (prescriber)", "prescriber@demo.test", "/patients"),
    Page("timeline", "Patient timeline (prescriber)", "prescriber@demo.test",
         "/patients/{patient}"),
)


def lighthouse_bin() -> Path:
    """The Lighthouse CLI, installed with npm into the cache folder when missing."""
    binary = CACHE / "node_modules" / ".bin" / "lighthouse"
    package = CACHE / "node_modules" / "lighthouse" / "package.json"
    if binary.exists() and json.loads(package.read_text()).get("version") == VERSION:
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    if not (CACHE / "package.json").exists():
        (CACHE / "package.json").write_text('{"private": true}\n')
    print(f"installing lighthouse@{VERSION} into {CACHE}", file=sys.stderr)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", f"lighthouse@{VERSION}"],  # noqa: S603,S607
                   cwd=CACHE, check=True, env={**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"})
    return binary


def seed(url: str) -> None:
    """Migrate and seed the demo clinic (production never seeds: bootstrap in development)."""
    subprocess.run([str(BIN / "python"), "-m", "app.cli", "bootstrap"], cwd=ROOT, check=True,  # noqa: S603
                   env=server_env(url, APP_ENV="development"), stdout=subprocess.DEVNULL)


def first_patient_id(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            value = conn.execute(text("SELECT id FROM users WHERE email = :e"),
                                 {"e": "patient@demo.test"}).scalar_one()
    finally:
        engine.dispose()
    return str(uuid.UUID(str(value)))  # SQLite keeps 32 hex digits, PostgreSQL a uuid


class SignedInChromium:
    """A Chromium of our own for one Lighthouse run, signed in through the real form, which
    Lighthouse then drives (--port). Lighthouse resets the origin's storage before it loads
    the page, but never its cookies, so the page and everything it fetches go as a signed-in
    phone's do. With `--extra-headers` instead, only the page's own requests carried the
    cookie: the service worker's warm-up fetches were refused, logged a failed request
    (best practices 96) and held the run about 45 s waiting for the network to settle."""

    def __init__(self, origin: str, email: str):
        self.origin, self.email = origin, email

    def __enter__(self) -> int:
        self._profile = tempfile.TemporaryDirectory(prefix="trochelog-lh-chrome-")
        self._process = subprocess.Popen(  # noqa: S603 - Debian's Chromium
            [CHROME, *CHROME_FLAGS.split(), "--remote-debugging-port=0",
             f"--user-data-dir={self._profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = self._port()
            self._sign_in(port)
        except BaseException:
            self.__exit__()
            raise
        return port

    def __exit__(self, *_exc) -> None:
        stop_process(self._process)
        self._profile.cleanup()

    def _port(self) -> int:
        # Chromium writes the port it chose here once it listens.
        active = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if active.exists() and (first := active.read_text().split("\n")[0]).isdigit():
                return int(first)
            time.sleep(0.05)
        raise RuntimeError("Chromium did not open its debugging port")

    def _sign_in(self, port: int) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
            page = browser.contexts[0].new_page()  # the default context: Lighthouse's
            page.goto(self.origin + "/login")
            page.get_by_label("Email").fill(self.email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/login" not in url)
            page.close()


def run_lighthouse(binary: Path, url: str, account: str | None, origin: str,
                   keep_as: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="trochelog-lh-") as folder:
        report_file = Path(folder) / "report.json"
        command = [str(binary), url, "--output=json", f"--output-path={report_file}", "--quiet",
                   f"--only-categories={','.join(CATEGORIES)}"]
        # Lighthouse now and then fails to record its trace (NO_NAVSTART): that run again.
        for attempt in range(3):
            if account is None:
                done = subprocess.run(  # noqa: S603
                    [*command, f"--chrome-flags={CHROME_FLAGS}"],
                    env={**os.environ, "CHROME_PATH": CHROME}, stdout=subprocess.DEVNULL)
            else:
                with SignedInChromium(origin, account) as port:
                    done = subprocess.run([*command, f"--port={port}"],  # noqa: S603
                                          stdout=subprocess.DEVNULL)
            if done.returncode == 0:
                break
            print(f"lighthouse on {url} failed (exit {done.returncode}), attempt {attempt + 1}")
        else:
            raise RuntimeError(f"lighthouse on {url} failed three times")
        data = json.loads(report_file.read_text())
        if KEEP:
            Path(KEEP).mkdir(parents=True, exist_ok=True)
            (Path(KEEP) / f"{keep_as}.json").write_text(report_file.read_text())
    if data.get("runtimeError"):
        raise RuntimeError(f"lighthouse on {url}: {data['runtimeError']}")
    if data.get("finalDisplayedUrl", url).split("?")[0] != url.split("?")[0]:
        raise RuntimeError(f"{url} ended on {data.get('finalDisplayedUrl')}: not signed in?")
    return data


def figures(data: dict) -> dict[str, float]:
    out = {c: data["categories"][c]["score"] * 100 for c in CATEGORIES}
    for audit, name in METRICS:
        out[name] = data["audits"][audit]["numericValue"]
    out["bytes"] = data["audits"]["total-byte-weight"]["numericValue"]
    out["requests"] = len(data["audits"]["network-requests"]["details"]["items"])
    blocking = data["audits"]["render-blocking-resources"].get("details", {}).get("items", [])
    out["blocking"] = len(blocking)
    return out


def main() -> int:
    binary = lighthouse_bin()
    wanted = {k for k in os.environ.get("LIGHTHOUSE_PAGES", "").split(",") if k}
    pages = [p for p in PAGES if not wanted or p.key in wanted]
    kind = database_kind()
    results: dict[str, dict[str, float]] = {}
    with fresh_database(kind) as url:
        seed(url)
        patient = first_patient_id(url)
        with AppServer(url) as server:
            for page in pages:
                target = server.origin + page.path.format(patient=patient)
                runs = []
                for n in range(RUNS):
                    began = time.monotonic()
                    data = run_lighthouse(binary, target, page.account, server.origin,
                                          f"{page.key}-{n + 1}")
                    runs.append(figures(data))
                    print(f"{page.key} run {n + 1}: "
                          + ", ".join(f"{k} {v:g}" for k, v in runs[-1].items())
                          + f" ({time.monotonic() - began:.0f} s)", file=sys.stderr)
                results[page.key] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    lines = [
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; Lighthouse {VERSION}, "
        f"{_chrome_version()}; database {kind}",
        f"- Command: `LIGHTHOUSE_RUNS={RUNS} .venv/bin/python -m bench.lighthouse` (mobile form "
        "factor, simulated throttling: Lighthouse's defaults; the app started by the production "
        "command on the demo clinic, signed in through the sign-in form in the browser "
        "Lighthouse drives)",
        f"- Median of {RUNS} run{'s' if RUNS != 1 else ''} per page; scores are performance / "
        "accessibility / best practices",
        "",
        "| Page | Scores | LCP | FCP | CLS | TBT | Transfer | Requests | Render-blocking |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for page in pages:
        r = results[page.key]
        lines.append(
            f"| {page.label} `{page.path.replace('{patient}', '{id}')}` | "
            f"{r['performance']:.0f} / {r['accessibility']:.0f} / {r['best-practices']:.0f} | "
            f"**{r['LCP'] / 1000:.2f} s** | {r['FCP'] / 1000:.2f} s | {r['CLS']:.3f} | "
            f"{r['TBT']:.0f} ms | {r['bytes'] / 1024:.1f} KiB | {r['requests']:.0f} | "
            f"{r['blocking']:.0f} |")
    print("\n".join(lines))
    _record(kind, lines)
    return 0


def _chrome_version() -> str:
    try:
        out = subprocess.run([CHROME, "--version"], capture_output=True, text=True,  # noqa: S603
                             timeout=30).stdout
    except OSError:
        return "Chromium"
    found = re.search(r"Chromium [\d.]+", out)
    return found.group(0) if found else "Chromium"


def _record(database: str, lines: list[str]) -> None:
    report.record(f"lighthouse:{database}", f"Lighthouse on {database}", lines)


if __name__ == "__main__":
    sys.exit(main())
