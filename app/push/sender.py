"""Send one Web Push message to one subscription and say what the push service answered.

`prepare` does the CPU work (VAPID signature, aes128gcm encryption) and `send` adds the HTTP
POST. Neither touches the database: the dispatcher calls `send` outside any transaction and
records the SendResult itself.

pywebpush traps avoided here: its `webpush()` mutates the claims dict it is given and defaults
to TTL 0 and no timeout, so we build a fresh claims dict per message and always pass both.
"""

import json
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from pywebpush import WebPusher

from app.config import settings
from app.push.models import PushSubscription
from app.push.vapid import VapidKeys

Outcome = Literal["sent", "retry", "gone", "refused"]
URGENCIES = frozenset({"very-low", "low", "normal", "high"})
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# The VAPID token must expire within 24 hours (RFC 8292); 12 leaves room for clock skew.
TOKEN_LIFETIME_SECONDS = 12 * 3600
# A Retry-After beyond a day is treated as a day: the dispatcher still gets a bounded delay.
MAX_RETRY_AFTER_SECONDS = 24 * 3600

_local = threading.local()


class UnusableSubscription(ValueError):
    """The subscription's keys cannot encrypt a message (corrupt or not a P-256 point)."""


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    status_code: int | None
    retry_after_seconds: int | None
    # Short and free of the payload: "410 Gone", "ConnectTimeout".
    detail: str


def _subscription_info(subscription: PushSubscription | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(subscription, PushSubscription):
        return {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
    return {"endpoint": subscription["endpoint"], "keys": dict(subscription["keys"])}


def audience(endpoint: str) -> str:
    """The JWT `aud`: the push service's origin."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def prepare(
    subscription: PushSubscription | Mapping[str, Any],
    payload: dict,
    *,
    keys: VapidKeys,
    ttl: int,
    urgency: str,
    topic: str,
) -> tuple[dict[str, str], bytes]:
    """The request's headers and encrypted body for one message (no network).

    Raises ValueError for an urgency, topic or TTL the push protocol does not allow (the
    caller's bug) and UnusableSubscription for keys that cannot be used (the device's).
    """
    if urgency not in URGENCIES:
        raise ValueError(f"urgency must be one of {sorted(URGENCIES)}")
    if not _TOPIC.match(topic):
        # Push services refuse a longer Topic; a repeat with the same Topic replaces an
        # undelivered one, so it must identify the occurrence (its id in hex fits).
        raise ValueError("topic must be 1 to 32 base64url characters")
    if ttl < 0:
        raise ValueError("ttl must not be negative")
    info = _subscription_info(subscription)
    endpoint = info["endpoint"]
    # A fresh dict every call: signing must never see claims left over from another message.
    claims = {
        "sub": settings.vapid_subject,
        "aud": audience(endpoint),
        "exp": int(datetime.now(UTC).timestamp()) + TOKEN_LIFETIME_SECONDS,
    }
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        encoded = WebPusher(info).encode(data, content_encoding="aes128gcm")
    except Exception as exc:  # WebPushException, binascii.Error, ValueError from the keys
        raise UnusableSubscription("the subscription's keys cannot be used") from exc
    headers = {
        **keys.private_key.sign(claims),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(int(ttl)),
        "Urgency": urgency,
        "Topic": topic,
    }
    return headers, encoded["body"]


def _http() -> requests.Session:
    # One connection pool per thread: requests.Session is not documented as thread-safe.
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def retry_after(value: str | None, now: datetime | None = None) -> int | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = math.ceil((when - (now or datetime.now(UTC))).total_seconds())
    return min(max(seconds, 0), MAX_RETRY_AFTER_SECONDS)


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return "sent"
    if status in (404, 410):
        return "gone"  # the browser unsubscribed or the subscription expired
    if status == 429 or status >= 500:
        return "retry"
    # 400 malformed, 401/403 VAPID refused, 413 too large, other 4xx and stray 3xx: sending
    # the same request again would get the same answer.
    return "refused"


def _short(text: str, limit: int = 80) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def send(
    subscription: PushSubscription | Mapping[str, Any],
    payload: dict,
    *,
    keys: VapidKeys,
    ttl: int,
    urgency: str,
    topic: str,
    timeout: float,
    requests_session: requests.Session | None = None,
) -> SendResult:
    """Encrypt, sign and POST one message. Never raises for what the network or the push
    service did; a subscription with unusable keys comes back as "refused"."""
    try:
        headers, body = prepare(
            subscription, payload, keys=keys, ttl=ttl, urgency=urgency, topic=topic
        )
    except UnusableSubscription:
        return SendResult("refused", None, None, "invalid subscription keys")
    endpoint = _subscription_info(subscription)["endpoint"]
    http = requests_session or _http()
    try:
        response = http.post(
            endpoint, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.RequestException as exc:
        # A timeout, a refused connection, a TLS failure: the device may still be reachable
        # later. The class name says which without echoing URLs or bodies.
        return SendResult("retry", None, None, type(exc).__name__)
    status = response.status_code
    response.close()
    outcome = classify(status)
    wait = retry_after(response.headers.get("Retry-After")) if outcome == "retry" else None
    detail = _short(f"{status} {response.reason or ''}".strip())
    return SendResult(outcome, status, wait, detail)
