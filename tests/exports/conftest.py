import pytest

from app.seed import seed_demo
from tests.exports.demo import NOW


@pytest.fixture
def demo(db):
    """The demo clinic seeded at the fixed clock (tests/exports/demo.py)."""
    users = seed_demo(db, NOW)
    db.flush()
    return users
