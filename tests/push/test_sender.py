"""Sending one message to the fake push service and reading its answer as the dispatcher will."""

import base64
import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import http_ece
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from app.config import settings
from app.push import sender, vapid
from app.push.models import PushSubscription
from tests.push.fake_service import FakePushService

# Stands in for what must never leave the server in clear or show up in a log line.
SECRET = "Ketamine 200 mg, PHQ-9 item 9"
PAYLOAD = {
    "title": "TrocheLog",
    "body": "You have a scheduled reminder.",
    "tag": "tl-1",
    "url": "/today",
    "id": "1",
    "kind": "session",
    "secret_marker": SECRET,
}
TOPIC = "0123456789abcdef0123456789abcdef"  # an occurrence id's hex: 32 characters


@pytest.fixture
def keys(db, push_service):
    result = vapid.keys(db)
    db.commit()
    return result


def _send(subscription, keys, **overrides):
    options = {"ttl": 3600, "urgency": "normal", "topic": TOPIC, "timeout": 5.0}
    options.update(overrides)
    return sender.send(subscription, PAYLOAD, keys=keys, **options)


def test_a_message_arrives_signed_encrypted_and_labelled(push_service, keys):
    subscription = push_service.subscription("phone")
    result = _send(subscription, keys, ttl=7200, urgency="high")

    assert result == sender.SendResult("sent", 201, None, "201 Created")
    [received] = push_service.wait_for(1)
    assert push_service.errors == []
    assert received.payload == PAYLOAD
    assert received.claims["sub"] == settings.vapid_subject
    assert received.claims["aud"] == push_service.origin
    assert (received.ttl, received.urgency, received.topic) == (7200, "high", TOPIC)
    assert received.headers["authorization"].startswith("vapid t=")
    assert SECRET.encode() not in received.body


def test_each_message_is_signed_for_its_own_push_service(push_service, keys):
    # pywebpush keeps the first `aud` in a reused claims dict: a second push service would
    # then refuse every message. Each call gets its own claims.
    with FakePushService(expected_public_key=keys.public_key) as other_service:
        assert _send(push_service.subscription("a"), keys).outcome == "sent"
        assert _send(other_service.subscription("b"), keys).outcome == "sent"
        assert _send(push_service.subscription("c"), keys).outcome == "sent"
        assert other_service.errors == []
        assert other_service.received[0].claims["aud"] == other_service.origin
    assert push_service.errors == []
    assert [r.claims["aud"] for r in push_service.received] == [push_service.origin] * 2


def test_a_stored_subscription_row_can_be_sent_to(push_service, keys):
    info = push_service.subscription("row")
    row = PushSubscription(
        user_id=None, endpoint=info["endpoint"], p256dh=info["keys"]["p256dh"],
        auth=info["keys"]["auth"], name="Phone", created_at=datetime.now(UTC),
        updated_at=datetime.now(UTC),
    )
    assert _send(row, keys).outcome == "sent"
    assert push_service.received[0].payload == PAYLOAD
    assert push_service.errors == []


@pytest.mark.parametrize("status", [404, 410])
def test_an_unsubscribed_device_is_gone(push_service, keys, status):
    subscription = push_service.subscription("old")
    push_service.respond("old", status)
    result = _send(subscription, keys)
    assert (result.outcome, result.status_code, result.retry_after_seconds) == (
        "gone", status, None
    )


def test_too_many_requests_waits_the_seconds_it_was_told(push_service, keys):
    subscription = push_service.subscription("busy")
    push_service.respond("busy", 429, {"Retry-After": "120"})
    result = _send(subscription, keys)
    assert (result.outcome, result.status_code, result.retry_after_seconds) == ("retry", 429, 120)


def test_too_many_requests_with_a_date_waits_until_then(push_service, keys):
    subscription = push_service.subscription("busy")
    later = datetime.now(UTC) + timedelta(hours=1)
    push_service.respond("busy", 429, {"Retry-After": format_datetime(later, usegmt=True)})
    result = _send(subscription, keys)
    assert result.outcome == "retry"
    assert result.status_code == 429
    # About an hour: the date has one-second precision and a moment passed since.
    assert 3500 <= result.retry_after_seconds <= 3600


def test_retry_after_parsing():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert sender.retry_after("30", now) == 30
    assert sender.retry_after("Tue, 01 Dec 2026 12:05:00 GMT", now) == 300
    assert sender.retry_after("Tue, 01 Dec 2026 11:00:00 GMT", now) == 0  # already past
    assert sender.retry_after("999999999", now) == sender.MAX_RETRY_AFTER_SECONDS
    assert sender.retry_after("soon", now) is None
    assert sender.retry_after(None, now) is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_retried(push_service, keys, status):
    subscription = push_service.subscription("flaky")
    push_service.respond("flaky", status)
    result = _send(subscription, keys)
    assert (result.outcome, result.status_code, result.retry_after_seconds) == (
        "retry", status, None
    )
    # The next attempt goes through.
    assert _send(subscription, keys).outcome == "sent"


def test_a_server_error_with_retry_after_passes_it_on(push_service, keys):
    subscription = push_service.subscription("maintenance")
    push_service.respond("maintenance", 503, {"Retry-After": "600"})
    assert _send(subscription, keys).retry_after_seconds == 600


@pytest.mark.parametrize("status", [400, 401, 403, 413, 422])
def test_a_refusal_is_not_retried(push_service, keys, status):
    subscription = push_service.subscription("refused")
    push_service.respond("refused", status)
    result = _send(subscription, keys)
    assert (result.outcome, result.status_code) == ("refused", status)
    assert result.detail.startswith(str(status))


def test_a_closed_port_is_retried(keys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens there any more: the connection is refused.
    subscription = _subscription_for(f"http://127.0.0.1:{port}/push/x")
    result = _send(subscription, keys, timeout=2.0)
    assert (result.outcome, result.status_code, result.retry_after_seconds) == (
        "retry", None, None
    )
    assert result.detail == "ConnectionError"


def test_a_push_service_that_never_answers_is_retried(keys):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections (the kernel does) but never replies
        port = silent.getsockname()[1]
        subscription = _subscription_for(f"http://127.0.0.1:{port}/push/x")
        result = _send(subscription, keys, timeout=0.3)
    assert (result.outcome, result.status_code) == ("retry", None)
    assert result.detail == "ReadTimeout"


def test_the_detail_never_carries_the_payload(push_service, keys):
    # Some push services explain a refusal in the body, quoting what they were sent: the
    # detail (kept in push_attempts and logs) is the status line alone.
    subscription = push_service.subscription("any")
    for status in (201, 400, 410, 429, 500):
        push_service.respond("any", status, body=f"your message: {SECRET}".encode())
        result = _send(subscription, keys)
        assert SECRET not in result.detail
        assert len(result.detail) <= 80
    assert push_service.errors == []


def test_a_passed_requests_session_is_used(push_service, keys):
    subscription = push_service.subscription("pooled")
    with requests.Session() as http:
        calls = []
        original = http.post

        def post(*args, **kwargs):
            calls.append(kwargs["timeout"])
            return original(*args, **kwargs)

        http.post = post
        assert _send(subscription, keys, requests_session=http, timeout=4.0).outcome == "sent"
    assert calls == [4.0]


def test_unusable_subscription_keys_are_refused_without_sending(push_service, keys):
    subscription = push_service.subscription("broken")
    subscription["keys"]["p256dh"] = "AAAA"
    result = _send(subscription, keys)
    assert result == sender.SendResult("refused", None, None, "invalid subscription keys")
    assert push_service.received == []


@pytest.mark.parametrize(
    "overrides",
    [{"topic": "x" * 33}, {"topic": "not/base64url"}, {"topic": ""}, {"urgency": "urgent"},
     {"ttl": -1}],
)
def test_a_malformed_topic_urgency_or_ttl_is_a_programming_error(push_service, keys, overrides):
    with pytest.raises(ValueError):
        _send(push_service.subscription("x"), keys, **overrides)
    assert push_service.received == []


def test_prepare_alone_builds_a_message_the_browser_can_read(keys):
    # The benchmark's baseline: encryption and signing without the network.
    device = ec.generate_private_key(ec.SECP256R1())
    auth = b"0123456789abcdef"
    subscription = _subscription_for("https://push.example.net/send/abc", device, auth)
    headers, body = sender.prepare(
        subscription, PAYLOAD, keys=keys, ttl=60, urgency="low", topic="t1"
    )
    assert headers["Content-Encoding"] == "aes128gcm"
    assert (headers["TTL"], headers["Urgency"], headers["Topic"]) == ("60", "low", "t1")
    assert headers["Authorization"].startswith("vapid t=")
    assert headers["Authorization"].endswith(f"k={keys.public_key}")
    plain = http_ece.decrypt(body, private_key=device, auth_secret=auth, version="aes128gcm")
    assert json.loads(plain) == PAYLOAD


def _subscription_for(endpoint, device=None, auth=b"0123456789abcdef"):
    device = device or ec.generate_private_key(ec.SECP256R1())
    point = device.public_key().public_numbers()
    raw = b"\x04" + point.x.to_bytes(32, "big") + point.y.to_bytes(32, "big")
    return {
        "endpoint": endpoint,
        "keys": {
            "p256dh": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
            "auth": base64.urlsafe_b64encode(auth).rstrip(b"=").decode(),
        },
    }
