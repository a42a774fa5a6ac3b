"""Every form on Today, in each state Today can be in, sent with one field at a time set to a
value it refuses. The page that comes back shows why, where the patient looks: a field's error
is not folded away in a closed <details> (a hold's "I have already taken a dose" or "Take it
anyway"), no id is on the page twice, and every error is tied to an element that is there.

The walk of every form (tests/web/test_every_form.py) sees Today only as the demo has it; a
reason over 500 characters in the record of a dose taken during a hold came back inside the
closed record form, so the patient saw the hold and nothing wrong, and the record was not
saved."""

import re

import pytest

from app.doses import reasons
from app.doses.routes import SHOWN_BY_FIELD, TODAY_FIELDS
from tests import factories
from tests.doses.test_routes import gate, new_protocol
from tests.safety.test_safety_hold import high_risk_screen
from tests.web import crawl
from tests.web.page_checks import page_problems

REFUSED = ("1e308", "9999-12-31T23:59", "x" * 600)
# An error the patient can see: beside a field, above the forms, or a refusal's own heading.
SHOWN = re.compile(r'class="field-error"|class="alert alert-error"|>Not logged yet<')


def _due(db, auth, client, patient):
    pass


def _passed(db, auth, client, patient):
    gate(client)


def _hold(db, auth, client, patient):
    gate(client, systolic=165)


def _hold_taken_anyway(db, auth, client, patient):
    new_protocol(db, patient, overridable_holds=["bp_hold"])
    gate(client, systolic=165)


def _emergency(db, auth, client, patient):
    gate(client, systolic=185, diastolic=110)


def _standing_hold(db, auth, client, patient):
    high_risk_screen(auth)


STATES = {"due": _due, "passed": _passed, "hold": _hold,
          "hold, may be taken anyway": _hold_taken_anyway, "emergency": _emergency,
          "safety review": _standing_hold}


@pytest.mark.parametrize("state", STATES)
def test_every_today_form_shows_its_error_where_the_patient_looks(db, auth, client, login_as,
                                                                  state):
    def fresh() -> list[tuple[str, dict[str, str]]]:
        """A new patient with a session now, in this state: Today's forms as they stand."""
        client.cookies.clear()
        patient = login_as("patient")
        factories.protocol(db, factories.user(db, role="prescriber"), patient,
                           **factories.session_now_protocol(patient))
        db.commit()
        STATES[state](db, auth, client, patient)
        page = client.get("/today")
        assert page_problems(page.text) == []
        return [(action, fields) for action, fields in crawl.post_forms(page.text)
                if action.startswith("/today/")]

    forms = fresh()
    assert forms  # the state has something to send
    failures, refused = [], 0
    for i in range(len(forms)):
        for name in [n for n in forms[i][1] if n != "csrf_token"]:
            for value in REFUSED:
                action, fields = forms[i]
                response = auth.post(action, {**fields, name: value})
                if response.status_code in (302, 303):
                    forms = fresh()  # it was taken as valid and wrote: start again
                    continue
                refused += 1
                if response.status_code >= 500:
                    failures.append((action, name, value[:12], response.status_code))
                elif not SHOWN.search(response.text):
                    failures.append((action, name, value[:12], "no error shown"))
                failures += [(action, name, value[:12], p) for p in page_problems(response.text)]
    assert refused > 10  # the walk sent values that were refused
    assert failures == [], "\n".join(map(str, failures))


def test_every_field_on_today_is_one_whose_error_has_a_place(db, auth, client, login_as):
    """Which folded form opens for an error, and which errors show beside their field, is read
    from one list of Today's fields (doses/routes.py TODAY_FIELDS): a field added to a form
    must be in it, and a field in it must still be on the page."""
    seen: set[str] = set()
    for state, arrange in STATES.items():
        client.cookies.clear()
        patient = login_as("patient")
        factories.protocol(db, factories.user(db, role="prescriber"), patient,
                           **factories.session_now_protocol(patient))
        db.commit()
        arrange(db, auth, client, patient)
        shown = ({name for name, _kind in crawl.fields(client.get("/today").text)}
                 - set(reasons.checklist_labels()))
        assert shown - SHOWN_BY_FIELD == set(), state
        seen |= shown
    assert SHOWN_BY_FIELD - seen == set()
    assert set().union(*TODAY_FIELDS.values()) == SHOWN_BY_FIELD
    assert TODAY_FIELDS["dose_details"] <= TODAY_FIELDS["dose"]
