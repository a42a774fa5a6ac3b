"""Accessibility checks shared by the browser tests (axe-core through axe-playwright-python)."""

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

# WCAG 2.2 level A and AA, and axe's best practices (headings in order, one main landmark,
# everything inside a landmark, ...).
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

_AXE = Axe()


def _readable(violation: dict) -> str:
    targets = [", ".join(map(str, node["target"])) for node in violation["nodes"]]
    return f"{violation['id']} ({violation['impact']}) {violation['help']}: {targets}"


def violations(page: Page) -> list[str]:
    """Every axe-core violation (any impact) of WCAG 2.2 AA and best practice, readable."""
    options = {"runOnly": {"type": "tag", "values": WCAG_22_AA}, "resultTypes": ["violations"]}
    results = _AXE.run(page, options=options)
    return [_readable(v) for v in results.response["violations"]]


def serious_violations(page: Page) -> list[str]:
    """axe-core violations of impact serious or critical on the current page, readable."""
    results = _AXE.run(page)
    return [_readable(v) for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


# Headings and landmarks beyond what axe checks: exactly one visible h1, no level skipped
# going down (h2 then h4), one main, and the header, main menu and footer where the page has
# them. Evaluated through DevTools (the page's CSP does not govern it).
_STRUCTURE = """
() => {
  const problems = [];
  const shown = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")].filter(shown);
  const h1s = headings.filter((h) => h.tagName === "H1");
  if (h1s.length !== 1) problems.push(`${h1s.length} visible h1`);
  let level = 0;
  for (const h of headings) {
    const n = Number(h.tagName[1]);
    if (n > level + 1) problems.push(`h${n} after h${level}: ${h.textContent.trim().slice(0, 40)}`);
    level = n;
  }
  if (document.querySelectorAll("main").length !== 1) problems.push("not exactly one main");
  if (!document.querySelector("header")) problems.push("no header");
  if (document.querySelector("[data-user]")) {
    if (!document.querySelector("nav[aria-label]")) problems.push("no labelled nav");
    if (!document.querySelector("footer")) problems.push("no footer");
  }
  if (!document.documentElement.lang) problems.push("no lang");
  return problems;
}
"""


def structure_problems(page: Page) -> list[str]:
    return page.evaluate(_STRUCTURE)
