"""The dosing API answers in the shapes /openapi.json declares (app/doses/schemas.py): every
field of a real answer is one the schema names, of the type it names. The phone's offline
gate reads `/api/v1/today` field by field; a field added, renamed or retyped in the route must
be declared too, or these fail."""

import jsonschema_rs
import pytest

from app.doses import schemas
from app.seed import DEMO_PASSWORD

DEMO_PATIENTS = ["patient@demo.test", "patient2@demo.test", "paciente@demo.test",
                 "patient3@demo.test"]


def test_the_schema_names_the_shapes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path, model in (("/api/v1/today", "Today"), ("/api/v1/doses", "DoseList")):
        answer = paths[path]["get"]["responses"]["200"]["content"]["application/json"]
        assert answer["schema"] == {"$ref": f"#/components/schemas/{model}"}


class Declared:
    """An answer checked twice: by the model, and by the JSON Schema /openapi.json publishes,
    formats included, as a generated client (or schemathesis) reads it."""

    def __init__(self, client):
        document = client.get("/openapi.json").json()
        self.components = document["components"]

    def check(self, model, body):
        schema = {"$ref": f"#/components/schemas/{model.__name__}",
                  "components": self.components}
        validator = jsonschema_rs.validator_for(schema, validate_formats=True)
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, errors
        return model.model_validate(body)


def test_today_without_a_protocol_is_as_declared(db, login_as, client):
    login_as("patient")
    body = client.get("/api/v1/today").json()
    today = Declared(client).check(schemas.Today, body)
    assert today.protocol is None and set(body) == {"now", "timezone", "protocol",
                                                    "next_session"}


def test_every_demo_patients_answers_are_as_declared(demo, auth, client):
    """The demo's four patients between them have a hold, a screener waiting, corrected doses
    and a supply: each part of the shapes is met by a real answer."""
    declared = Declared(client)
    met = set()
    for email in DEMO_PATIENTS:
        assert auth.login(email, DEMO_PASSWORD).status_code == 303
        today = declared.check(schemas.Today, client.get("/api/v1/today").json())
        doses = declared.check(schemas.DoseList, client.get("/api/v1/doses").json())
        assert today.protocol is not None and today.safety_state is not None
        met |= {name for name, present in (
            ("holds", today.holds),
            ("screener waiting", today.safety_state.screener_pending_since),
            ("supply", today.ledger),
            ("next session", today.next_session),
            ("recent doses", today.recent_doses),
            ("last dose", today.last_dose),
            ("revisions", any(d.revisions for d in doses.doses)),
        ) if present}
        auth.logout()
    assert met == {"holds", "screener waiting", "supply", "next session", "recent doses",
                   "last dose", "revisions"}


@pytest.mark.parametrize("field", ["now", "protocol"])
def test_a_shape_refuses_what_it_does_not_declare(field):
    """The models are strict, so the tests above fail on drift rather than pass it by."""
    body = {"now": "2026-12-06T03:00:00+00:00", "timezone": "UTC", "protocol": None,
            "next_session": None, "surprise": 1}
    with pytest.raises(ValueError):
        schemas.Today.model_validate(body)
    del body["surprise"]
    schemas.Today.model_validate(body)
    body[field] = {"not": "this"}
    with pytest.raises(ValueError):
        schemas.Today.model_validate(body)
