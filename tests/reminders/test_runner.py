"""Where the dispatcher runs: a thread of the web app (`make run`), or its own process."""

import signal
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from app.config import settings
from app.db import utcnow
from app.main import app
from app.push import service as subscriptions
from app.reminders import dispatcher
from tests import factories
from tests.reminders.worker_process import Worker


def _device_with_test_notification(db, push_service):
    person = factories.user(db)
    info = push_service.subscription(uuid.uuid4().hex)
    device = subscriptions.subscribe(
        db, user=person, endpoint=info["endpoint"], p256dh=info["keys"]["p256dh"],
        auth=info["keys"]["auth"], name="Phone", auth_session_id=None, now=utcnow(),
    )
    db.flush()
    dispatcher.send_test(db, user=person, subscription_id=device.id, now=utcnow())
    db.commit()


def test_the_app_process_dispatches_on_its_own_when_in_process(db, push_service, monkeypatch):
    monkeypatch.setattr(settings, "reminders_dispatcher", "in-process")
    monkeypatch.setattr(settings, "reminders_tick_seconds", 0.2)
    _device_with_test_notification(db, push_service)
    with TestClient(app):  # starts the app's lifespan, as uvicorn does
        assert push_service.wait_for(1, timeout=30)
    assert push_service.errors == []
    assert push_service.received[0].payload["body"].startswith("Test notification")


def test_the_app_process_leaves_it_to_a_worker_when_told(db, push_service, monkeypatch):
    monkeypatch.setattr(settings, "reminders_dispatcher", "worker")
    monkeypatch.setattr(settings, "reminders_tick_seconds", 0.2)
    _device_with_test_notification(db, push_service)
    with TestClient(app):
        time.sleep(1.5)
    assert push_service.received == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_worker_process_sends_and_stops_cleanly_on_a_signal(db, push_service, signum):
    """compose.yml stops it with SIGTERM; Ctrl-C in a terminal sends SIGINT."""
    _device_with_test_notification(db, push_service)
    worker = Worker()
    try:
        assert push_service.wait_for(1, timeout=60)
    finally:
        output = worker.stop(signum)
    worker.assert_stopped_cleanly()
    assert "reminder worker started" in output
    assert f"reminder worker stopping ({signal.Signals(signum).name})" in output
    assert push_service.errors == []
