"""Repeat visits to Today once the service worker controls the page: navigation start to the
largest contentful paint and to DOMContentLoaded (the Performance API), on a phone-sized
Chromium, without throttling and with 4× CPU throttling plus a Slow-4G-like network.

    .venv/bin/python -m bench.repeat_visit                   # 20 visits each way
    REPEAT_VISITS=5 .venv/bin/python -m bench.repeat_visit   # a quick check

Pages are network-first in app/static/sw.js, but an answer slower than 150 ms (none at all
after a page that took over 300 ms) is not waited for with an empty screen: the page's saved
copy shows, marked as such with its forms shut, until the fresh page (the same request) is
swapped in. So two times per visit: Today shown (LCP, the saved copy's when one showed) and
Today up to date (the fresh page in); and the layout shift of the visit (CLS), which the swap
must not add to. The stylesheet, scripts and icons come from the worker's cache. The
throttled network applies to the page and to the worker (its fetch of the page is what the
network carries). The app is started by the production command on a fresh database seeded
with the demo clinic. Writes its section of docs/benchmarks.md (not with BENCH_RECORD=0).
Numbers, never assertions.
"""

import json
import os
import platform
import statistics
import sys
import time

from playwright.sync_api import sync_playwright

from bench import report
from bench.lighthouse import PASSWORD, _chrome_version, seed
from bench.server import AppServer, database_kind, fresh_database

VISITS = int(os.environ.get("REPEAT_VISITS", "20"))
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True,
         "device_scale_factor": 2}
# DevTools' "Slow 4G", as Lighthouse's devtools throttling applies it (150 ms RTT × 3.75,
# 1.6 Mbit/s down × 0.9, 750 kbit/s up × 0.9).
SLOW_4G = {"offline": False, "latency": 562.5, "downloadThroughput": 1.6e6 * 0.9 / 8,
           "uploadThroughput": 750e3 * 0.9 / 8}
CPU_SLOWDOWN = 4

# Read with page.evaluate of a function (the CSP forbids eval in the page; this goes through
# the DevTools protocol).
TIMINGS = """() => new Promise((resolve) => {
  const nav = performance.getEntriesByType("navigation")[0];
  const root = document.documentElement;
  // A saved copy (the network was slow, sw.js) is replaced by the fresh page when it comes
  // (app.js marks "trochelog:fresh"); a page the network answered in time is fresh at once.
  const saved = root.hasAttribute("data-saved-copy") ||
    performance.getEntriesByName("trochelog:fresh").length > 0;
  // Layout shifts (CLS's sum): the saved copy giving way to the fresh page must not move what
  // is being read. All of them: nothing is tapped, and headless Chromium marks a page's shifts
  // "after input" (hadRecentInput) after a navigation started from the DevTools protocol.
  let shifted = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) shifted += entry.value;
  }).observe({ type: "layout-shift", buffered: true });
  let answered = false;
  const done = (lcp) => {
    if (answered) return;
    answered = true;
    const waitFresh = (tries) => {
      if (root.hasAttribute("data-saved-copy") && tries > 0) {
        setTimeout(() => waitFresh(tries - 1), 25);
        return;
      }
      const mark = performance.getEntriesByName("trochelog:fresh")[0];
      // A shift is reported after the frame that drew it: a moment for the swap's.
      setTimeout(() => resolve({
        lcp, dcl: nav.domContentLoadedEventEnd, worker: nav.workerStart > 0, saved,
        fresh: mark ? mark.startTime : lcp, cls: shifted,
        fcp: (performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime || null,
      }), 300);
    };
    waitFresh(400);
  };
  new PerformanceObserver((list) => {
    const entries = list.getEntries();
    done(entries[entries.length - 1].startTime);
  }).observe({ type: "largest-contentful-paint", buffered: true });
  setTimeout(() => done(null), 5000);
})"""


def until(page, expression: str, timeout_s: float = 30) -> None:
    """Poll from Python (never page.wait_for_function with a string: the CSP forbids eval)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {expression}")
        page.wait_for_timeout(100)


class WorkerThrottle:
    """Network conditions for the service worker too: page-level emulation does not reach the
    worker's own fetch of the page. Attached through the browser's DevTools session."""

    def __init__(self, browser):
        self.cdp = browser.new_browser_cdp_session()
        self.sessions: list[str] = []
        self.next_id = 1

    def apply(self, conditions: dict) -> int:
        targets = self.cdp.send("Target.getTargets")["targetInfos"]
        for target in targets:
            if target["type"] != "service_worker":
                continue
            session = self.cdp.send("Target.attachToTarget",
                                    {"targetId": target["targetId"], "flatten": False})
            self.sessions.append(session["sessionId"])
        for session in self.sessions:
            for method, params in (("Network.enable", {}),
                                   ("Network.emulateNetworkConditions", conditions)):
                self.cdp.send("Target.sendMessageToTarget", {"sessionId": session, "message":
                              json.dumps({"id": self.next_id, "method": method,
                                          "params": params})})
                self.next_id += 1
        return len(self.sessions)


def measure(page, visits: int, cold=None) -> list[dict]:
    """`cold`: a DevTools session that stops the service worker before each visit, as the
    browser does after ~30 s idle, so a patient opening the app later meets a stopped one."""
    out = []
    for _ in range(visits):
        if cold is not None:
            cold.send("ServiceWorker.stopAllWorkers")
        page.goto("/today", wait_until="load")
        out.append(page.evaluate(TIMINGS))
    return out


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def main() -> int:
    kind = database_kind()
    results: dict[str, list[dict]] = {}
    workers = 0
    with fresh_database(kind) as url:
        seed(url)
        with AppServer(url) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(base_url=server.origin, **PHONE)
            page = context.new_page()
            page.goto("/login")
            page.get_by_label("Email").fill("patient@demo.test")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/today**")
            page.goto("/today")
            until(page, "navigator.serviceWorker.controller !== null")
            until(page, "document.documentElement.hasAttribute('data-offline-ready')")
            measure(page, 2)  # warm-up: the worker's caches and the HTTP cache are filled
            results["none"] = measure(page, VISITS)
            cdp = context.new_cdp_session(page)
            cdp.send("ServiceWorker.enable")
            results["cold"] = measure(page, VISITS, cold=cdp)
            cdp.send("Network.enable")
            cdp.send("Network.emulateNetworkConditions", SLOW_4G)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
            workers = WorkerThrottle(browser).apply(SLOW_4G)
            results["slow"] = measure(page, VISITS)
            results["slow-cold"] = measure(page, VISITS, cold=cdp)
            browser.close()
    lines = [
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {_chrome_version()} (Playwright), phone viewport "
        f"390×844; database {kind}",
        f"- Command: `REPEAT_VISITS={VISITS} .venv/bin/python -m bench.repeat_visit`; "
        f"{VISITS} visits each way after two warm-up visits, the service worker in control "
        "(pages network-first, their saved copy after 150 ms or at once after a slow answer; "
        "the app shell from its cache)",
        "",
        "| Conditions | Today shown (LCP) median | p95 | DOMContentLoaded median | p95 | "
        "Up to date median | p95 | Saved copy shown first | Layout shift (CLS) median | max |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    slow = (f"CPU {CPU_SLOWDOWN}× + Slow 4G (562.5 ms latency, 1.44 Mbit/s down; also on the "
            f"worker: {workers} attached)")
    labels = {"none": "No throttling, the worker running",
              "cold": "No throttling, the worker stopped before each visit",
              "slow": f"{slow}, the worker running",
              "slow-cold": f"{slow}, the worker stopped before each visit"}
    for key, runs in results.items():
        lcp = [r["lcp"] for r in runs if r["lcp"] is not None]
        dcl = [r["dcl"] for r in runs]
        fresh = [r["fresh"] for r in runs if r["fresh"] is not None]
        (lm, lp), (dm, dp), (fm, fp) = summary(lcp), summary(dcl), summary(fresh)
        served = sum(r["worker"] for r in runs)
        saved = sum(r["saved"] for r in runs)
        cls = [r["cls"] for r in runs]
        lines.append(f"| {labels[key]} ({served}/{len(runs)} through the worker) | "
                     f"**{lm:.0f} ms** | {lp:.0f} ms | {dm:.0f} ms | {dp:.0f} ms | "
                     f"{fm:.0f} ms | {fp:.0f} ms | {saved}/{len(runs)} | "
                     f"{statistics.median(cls):.3f} | {max(cls):.3f} |")
    print("\n".join(lines))
    _record(kind, lines)
    return 0


def _record(database: str, lines: list[str]) -> None:
    report.record(f"repeat-visit:{database}", f"Repeat visit to Today on {database}", lines)


if __name__ == "__main__":
    sys.exit(main())
