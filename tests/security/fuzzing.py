"""Schemathesis against /openapi.json, in process (ASGI), signed out and as each role.

For each operation, cases fitting the schema (positive) and cases that do not (negative) are
sent with the role's session cookie and CSRF header. Checks: no 5xx, the status code is one the
schema documents, the body matches the documented schema, the content type is the documented
one; signed out, an operation that needs sign-in never answers 2xx. Failures are collected (not
shrunk) so one run reports them all; `run` returns the counts.
"""

import re
from dataclasses import dataclass, field

import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlmodel import Session

from app.db import engine
from app.main import app
from tests import factories

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
ROLES = ("signed out", "patient", "caregiver", "prescriber")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Outcome:
    cases: int = 0
    failures: list[str] = field(default_factory=list)


def load_schema():
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _people() -> dict[str, str]:
    """A small clinic: a prescriber, their patient, the patient's caregiver (emails)."""
    with Session(engine, expire_on_commit=False) as db:
        prescriber, patient, _ = factories.patient_with_protocol(db)
        caregiver = factories.user(db, role="caregiver")
        factories.link(db, patient, caregiver)
        db.commit()
        return {"patient": patient.email, "caregiver": caregiver.email,
                "prescriber": prescriber.email}


def client_for(role: str, emails: dict[str, str]) -> ASGIClient:
    """A requests-style client on the app, signed in through the real form (or not), with the
    CSRF header its session (or anonymous cookie) needs, as the service worker sends it."""
    client = ASGIClient(app)
    client.__enter__()
    page = client.get("/login")
    token = _CSRF.search(page.text).group(1)
    if role != "signed out":
        response = client.post("/login", allow_redirects=False, data={
            "email": emails[role], "password": factories.PASSWORD, "csrf_token": token})
        assert response.status_code == 303, response.text
        token = client.get("/api/v1/me").json()["csrf_token"]
    client.headers["X-CSRF-Token"] = token
    return client


def _needs_sign_in(operation) -> bool:
    return "401" in operation.definition.raw.get("responses", {})


def run(max_examples: int, roles=ROLES) -> Outcome:
    schema = load_schema()
    outcome = Outcome()
    emails = _people()
    operations = [result.ok() for result in schema.get_all_operations()]
    for role in roles:
        client = client_for(role, emails)
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, client, role, max_examples, outcome)
    return outcome


def _fuzz(operation, mode, client, role, max_examples, outcome: Outcome) -> None:
    settings = hypothesis_settings(
        max_examples=max_examples,
        derandomize=True,  # the same cases every run: a failure reproduces
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # collect, do not shrink
        suppress_health_check=list(HealthCheck),
    )

    @settings
    @given(case=operation.as_strategy(generation_mode=mode))
    def one(case) -> None:
        outcome.cases += 1
        response = case.call(session=client)
        label = f"{role} {mode.value} {operation.label}"
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as failure:
            outcome.failures.append(f"{label}: {str(failure)[:1500]}")
        if role == "signed out" and _needs_sign_in(operation) and response.status_code < 400:
            outcome.failures.append(f"{label}: answered {response.status_code} signed out")

    try:
        one()
    except Unsatisfiable:
        # Nothing can be wrong with an operation that has no inputs (negative mode).
        if mode is GenerationMode.POSITIVE:
            raise
