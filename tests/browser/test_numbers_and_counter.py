"""Issue 12 items 7 and 8 in a phone's browser: C-SSRS questions are numbered by their place on
screen, and a note's counter says how far over the limit a pasted text is (nothing is cut)."""

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from app.accounts.models import Role
from app.db import engine
from app.doses.models import LedgerEntry
from tests import factories
from tests.browser.signing import ANY_PAGE, sign_in

pytestmark = pytest.mark.browser


def _patient() -> str:
    with Session(engine, expire_on_commit=False) as db:
        patient = factories.user(db, role=Role.PATIENT, timezone="UTC")
        factories.link(db, patient, factories.user(db, role=Role.PRESCRIBER))
        db.commit()
    return patient.email


def _shown_numbers(page: Page) -> list[str]:
    return [n.strip() for n in page.locator("fieldset.item:visible .item-number").all_inner_texts()]


def test_cssrs_numbers_follow_what_is_shown(page: Page):
    sign_in(page, _patient(), factories.PASSWORD, lands_on=ANY_PAGE)
    page.goto("/questionnaires/cssrs")
    # The scripts that hide the follow-up questions run after the first paint (boot.js).
    expect(page.locator("fieldset.item:visible .item-number")).to_have_count(3)
    assert _shown_numbers(page) == ["1.", "2.", "3."]
    page.locator('#item-q6 input[value="yes"]').check()
    assert _shown_numbers(page) == ["1.", "2.", "3.", "3a."]
    page.locator('#item-q2 input[value="yes"]').check()
    assert _shown_numbers(page) == ["1.", "2.", "3.", "4.", "5.", "6.", "6a."]
    expect(page.locator(".asked-if-hint:visible")).to_have_count(0)


def test_a_long_note_is_counted_not_cut(page: Page):
    sign_in(page, _patient(), factories.PASSWORD, lands_on=ANY_PAGE)
    page.goto("/checkins/daily")
    note = page.locator("textarea[name=note]")
    expect(page.locator("#note-limit")).to_have_text("1000 characters left")
    note.fill("x" * 1005)
    expect(page.locator("#note-limit")).to_have_text("5 characters over the limit")
    assert len(note.input_value()) == 1005


def test_a_count_with_a_half_troche_is_saved(page: Page):
    """The hint says halves count as 0.5, the server keeps halves, and the browser refused
    16.5 ("the two nearest valid values are 16 and 17"): online nothing was sent, offline
    nothing was kept and nothing said so. A patient would round, and record a false shortfall."""
    with Session(engine, expire_on_commit=False) as db:
        _, patient, _ = factories.patient_with_protocol(db)
        db.commit()
    sign_in(page, patient.email, factories.PASSWORD, lands_on=ANY_PAGE)
    page.goto("/supply")
    page.fill("#count_count", "16.5")
    assert page.locator("#count_count").evaluate("e => e.checkValidity()")
    page.fill("#fill_strength_mg", "12.5")  # a strength in halves of a mg is a strength too
    assert page.locator("#fill_strength_mg").evaluate("e => e.checkValidity()")
    page.get_by_role("button", name="Save count").click()
    expect(page.locator("main")).to_contain_text("16.5")
    with Session(engine) as db:
        counts = db.exec(select(LedgerEntry).where(LedgerEntry.patient_id == patient.id)).all()
        assert [str(c.count) for c in counts] in (["16.5"], ["16.50"])
