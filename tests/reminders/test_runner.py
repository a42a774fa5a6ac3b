"""Where the dispatcher runs: a thread of the web app (`make run`), or its own process."""

import os
import signal
import subprocess
import sys
import time
import uuid

from fastapi.testclient import TestClient

from app.config import ROOT, settings
from app.db import utcnow
from app.main import app
from app.push import service as subscriptions
from app.reminders import dispatcher
from tests import factories


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


def test_the_worker_process_sends_and_stops_cleanly_on_sigterm(db, push_service):
    _device_with_test_notification(db, push_service)
    env = {**os.environ, "REMINDERS_TICK_SECONDS": "0.2", "REMINDERS_DISPATCHER": "worker"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.reminders.worker"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert push_service.wait_for(1, timeout=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert "reminder worker started" in output
    assert push_service.errors == []
