"""A questionnaire sent with questions unanswered, in a phone's browser: every unanswered
question is marked beside it in words (never "q2"), whether the browser's own check stops it
(online or offline) or the server refuses it; the server's summary takes focus."""

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests import factories
from tests.browser.signing import sign_in
from tests.browser.waiting import under_the_service_worker

pytestmark = pytest.mark.browser

CHOOSE = "Choose an answer for this question."


@pytest.fixture
def patient(new_patient):
    # Shadows tests/conftest.py's `patient` (signed in on a TestClient, no use in a browser).
    return new_patient()


def _errors(page: Page) -> dict[str, str]:
    return {el.get_attribute("data-answer-key"): el.locator(".field-error").inner_text()
            for el in page.locator("fieldset.item[aria-invalid=true]").all()}


def _answer_only_the_first_and_send(page: Page) -> None:
    page.goto("/questionnaires/phq9")
    page.locator("#item-q1").get_by_label("Several days", exact=True).check()
    page.get_by_role("button", name="Submit").click()


def _every_other_item_is_marked(page: Page) -> None:
    expect(page.locator("fieldset.item .field-error")).to_have_count(8)
    assert _errors(page) == {f"q{n}": CHOOSE for n in range(2, 10)}
    for n in range(2, 10):
        expect(page.locator(f"#item-q{n}")).to_have_attribute("aria-describedby", f"q{n}-error")
    assert not re.search(r"\bq\d", page.locator("main").inner_text())
    expect(page.locator("#item-q1").get_by_label("Several days", exact=True)).to_be_checked()


def test_the_browsers_own_check_marks_every_unanswered_question(page: Page, patient):
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    _answer_only_the_first_and_send(page)
    _every_other_item_is_marked(page)
    expect(page).to_have_url(re.compile(r"/questionnaires/phq9$"))  # nothing was sent
    # The browser takes the patient to the first unanswered question.
    expect(page.locator("#item-q2 input").first).to_be_focused()
    # An answer clears its own question's error, and only that one.
    page.locator("#item-q2").get_by_label("Not at all", exact=True).check()
    expect(page.locator("#item-q2 .field-error")).to_have_count(0)
    expect(page.locator("#item-q2")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("fieldset.item .field-error")).to_have_count(7)


def test_the_servers_refusal_marks_every_question_and_its_summary_takes_focus(
        page: Page, patient, console_errors):
    console_errors.expect(r"status of 422")  # the refusal, on purpose
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    page.goto("/questionnaires/phq9")
    page.locator("form.questionnaire").evaluate("(form) => form.noValidate = true")
    page.locator("#item-q1").get_by_label("Several days", exact=True).check()
    page.get_by_role("button", name="Submit").click()
    summary = page.locator(".error-summary")
    expect(summary).to_have_text("8 questions need an answer. Each one is marked below.")
    expect(summary).to_be_focused()
    _every_other_item_is_marked(page)


def test_offline_the_same_words_mark_every_question(context: BrowserContext, page: Page,
                                                    patient):
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    under_the_service_worker(page)
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    context.set_offline(True)
    _answer_only_the_first_and_send(page)
    _every_other_item_is_marked(page)
    expect(page.locator("header [data-outbox-count]")).to_be_hidden()  # nothing kept
    expect(page.locator("#item-q2 input").first).to_be_focused()


def _crisis_call_on_the_phq9(page: Page, patient):
    """The PHQ-9 opened by the patient, and its crisis line's link beside item 9."""
    sign_in(page, patient.email, factories.PASSWORD, lands_on="Today")
    page.goto("/questionnaires/phq9")
    return page.locator("#q9-crisis").get_by_role(
        "link", name="Call 988 (Suicide & Crisis Lifeline)")


def test_item_9_above_0_shows_the_crisis_resources_as_soon_as_it_is_chosen(page: Page,
                                                                          patient):
    """Before any other answer and before sending: a patient who stops there has seen them."""
    call = _crisis_call_on_the_phq9(page, patient)
    expect(call).to_be_hidden()
    page.locator("#item-q9").get_by_label("Several days", exact=True).check()
    expect(call).to_be_visible()
    page.locator("#item-q9").get_by_label("Not at all", exact=True).check()
    expect(call).to_be_hidden()
    # Back to the page after leaving it: the answer the browser kept shows them again.
    page.locator("#item-q9").get_by_label("More than half the days", exact=True).check()
    page.goto("/today")
    page.go_back()
    expect(page.locator("#item-q9").get_by_label("More than half the days", exact=True)
           ).to_be_checked()
    expect(call).to_be_visible()


def test_item_9_shows_the_crisis_resources_without_javascript(new_context, patient):
    """Without JavaScript the browser's own check stops a partly answered form before the
    server can answer with them: they show as the answer is chosen (CSS)."""
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    call = _crisis_call_on_the_phq9(page, patient)
    expect(call).to_be_hidden()
    page.locator("#item-q9").get_by_label("Nearly every day", exact=True).check()
    expect(call).to_be_visible()
