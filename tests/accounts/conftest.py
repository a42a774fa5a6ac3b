"""Fixtures the sign-in tests share."""

import pytest

from app.db import utcnow


@pytest.fixture
def still_clock(monkeypatch):
    """The sign-in route's clock, stopped for the test. The first wait after the free misses
    is 2 s; on a loaded machine (two test runs side by side) one sign-in took 3 s, so the wait
    was over before the next try and a right password got in where the test expected it
    slowed. These tests show the rule at one instant; the waits' lengths are tested in
    test_login.py with `now` passed in."""
    from app.accounts import routes

    now = utcnow()
    monkeypatch.setattr(routes, "utcnow", lambda: now)
