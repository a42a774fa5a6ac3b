"""The Spanish demo patient in a phone browser set to English (issue 15): her account's
language wins, through the boosted sign-in and on a full load, and the account page's setting
(a plain form) hands the choice back to the phone."""

import re

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import Page, expect

from app import i18n
from tests.browser.waiting import until

pytestmark = pytest.mark.browser


def test_the_spanish_demo_patient_sees_today_in_spanish(new_context, demo, sign_in):
    page: Page = new_context(locale="en-US").new_page()
    sign_in(page, "paciente@demo.test")  # the sign-in page follows the browser: English

    expect(page).to_have_url(re.compile(r"/today(\?.*)?$"))
    # A boosted sign-in swaps the page wrapper in; <html lang> follows it once scripts run.
    expect(page.locator(".page")).to_have_attribute("lang", "es")
    until(page, "document.documentElement.lang === 'es'")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hoy")
    expect(page.get_by_role("heading", name="Próxima sesión")).to_be_visible()
    expect(page.get_by_role("banner").get_by_role("link", name="¿Necesita ayuda ahora?")) \
        .to_be_visible()

    page.reload()  # a full load says it in <html lang> itself
    assert page.evaluate("document.documentElement.getAttribute('lang')") == "es"
    expect(page.get_by_role("heading", level=1)).to_have_text("Hoy")

    page.goto("/account")
    expect(page.get_by_role("radio", name="Español")).to_be_checked()
    page.get_by_role("radio", name="Usar el idioma de mi teléfono").check()
    page.locator('form[action="/account/language"] button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/account\?changed=language$"))
    assert page.evaluate("document.documentElement.getAttribute('lang')") == "en"
    expect(page.get_by_role("heading", level=1)).to_have_text("Account")


# --- nothing left in English ------------------------------------------------------------------

ES_PO = i18n.LOCALE_DIR / "es" / "LC_MESSAGES" / "messages.po"


def _english_sentences() -> list[str]:
    """Every English source text of two words or more whose Spanish differs, without
    placeholders (a rendered page holds them filled in)."""
    with ES_PO.open("rb") as f:
        catalog = read_po(f, locale="es")
    found = []
    for message in catalog:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for text in ids:
            if (text and " " in text.strip() and len(text) >= 10 and "%" not in text
                    and "{" not in text and "<" not in text and message.string
                    and text not in (message.string if isinstance(message.string, tuple)
                                     else (message.string,))):
                found.append(text)
    return found


def _english_on(page: Page, sentences: list[str]) -> list[str]:
    shown = page.evaluate("document.body.innerText")
    return [s for s in sentences if s in shown]


def _pick(page: Page, item: str, value: str) -> None:
    page.locator(f'#item-{item} input[value="{value}"]').check()


def test_today_check_ins_questionnaires_and_the_crisis_screen_are_wholly_spanish(
        new_context, demo, sign_in):
    """The Spanish demo patient's Today, check-ins, PHQ-9 (official Spanish wording), C-SSRS and
    crisis screen: no English sentence of the catalogue anywhere on them, and the crisis lines'
    Spanish options (988: press 2; text AYUDA)."""
    sentences = _english_sentences()
    assert "Little interest or pleasure in doing things" in sentences  # the list has teeth
    page: Page = new_context(locale="en-US").new_page()
    sign_in(page, "paciente@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hoy")
    page.reload()
    assert _english_on(page, sentences) == []

    for path in ("/checkins", "/checkins/daily"):  # the check-ins and the daily one's form
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).not_to_have_text(re.compile("[Cc]heck"))
        assert _english_on(page, sentences) == [], path

    page.goto("/questionnaires/phq9")
    expect(page.get_by_text("Poco interés o placer en hacer cosas")).to_be_visible()
    assert _english_on(page, sentences) == []
    for n in range(1, 9):
        _pick(page, f"q{n}", "1")
    _pick(page, "q9", "2")
    page.locator("form button[type=submit].primary").click()

    expect(page).to_have_url(re.compile(r"/questionnaires/cssrs"))
    assert _english_on(page, sentences) == []
    for item in ("q1", "q2"):
        _pick(page, item, "yes")
    for item, value in (("q3", "yes"), ("q4", "yes"), ("q5", "no"), ("q6", "no")):
        if page.locator(f"#item-{item}").count():
            _pick(page, item, value)
    page.locator("form button[type=submit].primary").click()

    expect(page.get_by_role("link", name=re.compile("988"))).to_have_count(2)
    assert _english_on(page, sentences) == []
    expect(page.get_by_role("link", name=re.compile("oprima 2"))).to_have_attribute(
        "href", "tel:988")
    expect(page.get_by_role("link", name=re.compile("AYUDA.*988"))).to_have_attribute(
        "href", "sms:988?body=AYUDA")
    expect(page.get_by_role("link", name=re.compile("741741"))).to_have_attribute(
        "href", "sms:741741?body=AYUDA")
