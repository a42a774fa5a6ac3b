"""Every form a demo user can reach, sent back with one field at a time set to what a person
or a broken page could send: nothing, a number past any limit, a date that does not exist, a
time that does not, text far too long. Each answer is a page or a redirect, never a 5xx,
and an error next to a field is our own plain message, never the validation library's English
("Input should be a valid date or datetime, day value is outside expected range").

Reading every form found two 500s (a minimum interval of 1e308 on the protocol form; a form
posted where a passkey's answer goes) and pydantic's wording on the supply and protocol
forms. Each page, and each page a form comes back as, also passes `page_problems`: ids once,
references that resolve, no error folded away in a closed <details>. A form sent back refused
(for another field left as the page had it) keeps the words typed into it. What each value
must produce is each form's own tests' business; this one guards the floor for forms added
later.
"""

import pytest

from app.seed import DEMO_PASSWORD
from tests.helpers import LIBRARY_WORDING
from tests.web import crawl
from tests.web.page_checks import page_problems

HOSTILE = ("", "1e308", "2026-02-30", "25:61", "x" * 5000)
# Not sent: signing out or deleting the account would end the walk.
_NOT_SENT = ("/logout", "/account/delete")
# Sent only by passkeys.js, with the browser's WebAuthn answer; as a plain form it is refused.
_SCRIPT_ONLY = ("/account/passkeys",)


@pytest.mark.parametrize("email", ["patient@demo.test", "prescriber@demo.test",
                                   "caregiver@demo.test"])
def test_every_form_answers_odd_values_with_a_page_and_plain_words(demo, auth, client, email):
    assert auth.login(email, DEMO_PASSWORD).status_code == 303
    forms: dict[str, tuple[str, dict[str, str]]] = {}
    failures, typed = [], set()
    for path, response in crawl.pages(client, per_shape=2):
        failures += [(path, problem) for problem in page_problems(response.text)]
        typed |= crawl.typed_fields(response.text)
        for action, fields in crawl.post_forms(response.text):
            target = action or path
            if not any(part in target for part in _NOT_SENT):
                forms.setdefault(crawl.shape(target), (target, fields))
    assert len(forms) > 5, forms  # the forms were found
    for target, fields in forms.values():
        for name in [n for n in fields if n != "csrf_token"]:
            for value in HOSTILE:
                response = auth.post(target, {**fields, name: value})
                if response.status_code >= 500:
                    failures.append((target, name, value[:20], response.status_code))
                elif wording := LIBRARY_WORDING.search(response.text):
                    failures.append((target, name, value[:20], wording.group(0)))
                elif response.headers.get("content-type", "").startswith("text/html"):
                    failures += [(target, name, value[:20], problem)
                                 for problem in page_problems(response.text)]
            if name in typed and target not in _SCRIPT_ONLY:
                # Refused (another field as the page had it, say), the form comes back with
                # the words typed in it: unless it is gone (its dose marked in error meanwhile).
                words = "Words typed 0417"
                response = auth.post(target, {**fields, name: words})
                if response.status_code == 422 and f'action="{target}"' in response.text \
                        and words not in response.text:
                    failures.append((target, name, "typed words lost"))
    assert failures == [], "\n".join(map(str, failures))
