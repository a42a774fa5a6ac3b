"""Signing a browser page in through the real form, as a person would."""

from playwright.sync_api import Page, expect

from app.seed import DEMO_PASSWORD

# For `lands_on`: any page but the sign-in form again (a refused sign-in stays on the form).
ANY_PAGE = "*"


def sign_in(page: Page, email: str, password: str = DEMO_PASSWORD, *,
            lands_on: str | None = None) -> None:
    """Fill in and send the sign-in form. With `lands_on`, wait until the page it leads to has
    loaded: its main heading reads `lands_on`, or, with ANY_PAGE, no longer "Sign in"; without
    it, return at once (a test of a refused sign-in reads the form itself)."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    heading = page.get_by_role("heading", level=1)
    if lands_on == ANY_PAGE:
        expect(heading).not_to_have_text("Sign in")
    elif lands_on is not None:
        expect(heading).to_have_text(lands_on)
