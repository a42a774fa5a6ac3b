"""Accessibility checks shared by the browser tests (axe-core through axe-playwright-python)."""

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page


def serious_violations(page: Page) -> list[str]:
    """axe-core violations of impact serious or critical on the current page, readable."""
    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in ("serious", "critical"):
            targets = [", ".join(map(str, node["target"])) for node in violation["nodes"]]
            found.append(
                f"{violation['id']} ({violation['impact']}) {violation['help']}: {targets}"
            )
    return found
