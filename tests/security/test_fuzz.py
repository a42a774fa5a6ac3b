"""Schemathesis over the whole JSON API, signed out and as each role (tests/security/fuzzing.py).

A small derandomized sample in every run; `make security-report` sets SECURITY_FULL=1 for many
more examples per operation. The counts go to the security figures.
"""

import os

import pytest

from tests import figures
from tests.security import fuzzing

FULL = bool(os.environ.get("SECURITY_FULL"))
EXAMPLES = 40 if FULL else 4


@pytest.mark.parametrize("role", fuzzing.ROLES)
def test_schemathesis_finds_no_failure(role):
    outcome = fuzzing.run(EXAMPLES, roles=[role])
    figures.add("schemathesis cases", outcome.cases)
    figures.add("schemathesis failures", len(outcome.failures))
    assert outcome.cases > 0
    assert not outcome.failures, "\n\n".join(outcome.failures[:10])
