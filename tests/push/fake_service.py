"""A push service on 127.0.0.1 that checks what a real one (and the browser) would check.

Each subscription it hands out has its own P-256 key pair and auth secret, kept here so every
message can be decrypted as the browser would. Every request's VAPID token is verified: ES256
signature by the app's key, `aud` = this service's origin, `exp` in the future and within 24
hours, `sub` = the configured contact. Anything that fails lands in `.errors` (tests assert it
stays empty) and gets the answer a real service gives (403 for VAPID, 400 for the body).

    with FakePushService(expected_public_key=key) as push:
        sub = push.subscription("alice-phone")    # endpoint + keys, as PushSubscription.toJSON()
        push.respond("alice-phone", 410)          # the next answer for that token
        ...
        push.wait_for(1)
        push.received[0].payload["title"]
"""

import base64
import contextlib
import http.server
import json
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid.jwt import decode as decode_jwt

from app.config import settings


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    token: str
    status_answered: int
    headers: dict[str, str]  # lower-case names
    claims: dict[str, Any]
    payload: dict | None
    ttl: int | None
    urgency: str | None
    topic: str | None
    body: bytes = b""  # as it arrived (encrypted)


@dataclass
class _Device:
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    script: deque = field(default_factory=deque)  # of (status, headers)

class _Server(http.server.ThreadingHTTPServer):
    # The default listen backlog (5) refuses connections when several dispatchers open their
    # pools at once; a real push service does not.
    request_queue_size = 128



class FakePushService:
    def __init__(
        self,
        *,
        expected_public_key: str | None = None,
        subject: str | None = None,
        verify: bool = True,
    ) -> None:
        # The app's VAPID public key: the k= in each request must be this one and the token
        # must verify with it. None trusts k= (signature still checked against k=).
        self.expected_public_key = expected_public_key
        self.subject = subject
        self.verify = verify  # False skips decryption (benchmarks measure the sender)
        self.received: list[Received] = []
        self.errors: list[str] = []
        self._devices: dict[str, _Device] = {}
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._connections: set[socket.socket] = set()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "FakePushService":
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the sender's pooled session expects
            timeout = 30  # an idle kept-alive connection's thread ends eventually

            def setup(self) -> None:
                super().setup()
                with service._lock:
                    service._connections.add(self.connection)

            def finish(self) -> None:
                with service._lock:
                    service._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:  # http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, answer = service._handle(
                    self.path, dict(self.headers.items()), body
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet test output

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits up to one interval
            name="fake-push-service",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # wake handler threads waiting on kept-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._server = None

    def __enter__(self) -> "FakePushService":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests use -----------------------------------------------------------------------

    @property
    def origin(self) -> str:
        assert self._server is not None, "start the service first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def endpoint(self, token: str) -> str:
        return f"{self.origin}/push/{token}"

    def subscription(self, token: str) -> dict:
        """A fresh subscription (as the browser's PushSubscription.toJSON()) for `token`."""
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        with self._lock:
            self._devices[token] = _Device(private_key=key, auth=auth)
        public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint(token),
            "keys": {"p256dh": _b64url(public), "auth": _b64url(auth)},
        }

    def respond(
        self,
        token: str,
        status: int,
        headers: dict[str, str] | None = None,
        times: int = 1,
        body: bytes = b"",
    ) -> None:
        """The next `times` answers for `token` (afterwards: 201 Created, empty body)."""
        with self._lock:
            device = self._devices[token]
            for _ in range(times):
                device.script.append((status, dict(headers or {}), body))

    def for_token(self, token: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.token == token]

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `n` requests arrived; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"fake push service got {len(self.received)} of {n} messages"
                    )
                self._arrived.wait(left)
            return list(self.received)

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.errors.clear()

    # --- the checks ---------------------------------------------------------------------------

    def _error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def _handle(self, path: str, raw_headers: dict[str, str], body: bytes):
        headers = {name.lower(): value for name, value in raw_headers.items()}
        token = path.rsplit("/", 1)[-1] if path.startswith("/push/") else ""
        with self._lock:
            device = self._devices.get(token)
        if device is None:
            self._error(f"{token or path}: unknown subscription")
            return self._record(token, 404, headers, {}, None, body)

        claims, problem = self._check_vapid(headers.get("authorization", ""))
        if problem:
            self._error(f"{token}: {problem}")
            return self._record(token, 403, headers, claims, None, body)

        payload = None
        for name in ("ttl", "urgency", "topic"):
            if name not in headers:
                self._error(f"{token}: no {name.upper()} header")
        if headers.get("content-encoding") != "aes128gcm":
            self._error(f"{token}: content-encoding is not aes128gcm")
            return self._record(token, 400, headers, claims, None, body)
        if self.verify:
            try:
                plain = http_ece.decrypt(
                    body, private_key=device.private_key, auth_secret=device.auth,
                    version="aes128gcm",
                )
                payload = json.loads(plain)
            except Exception as exc:  # any failure is a finding
                self._error(f"{token}: body does not decrypt to JSON ({type(exc).__name__})")
                return self._record(token, 400, headers, claims, None, body)
        with self._lock:
            status, extra, answer = device.script.popleft() if device.script else (201, {}, b"")
        return self._record(token, status, headers, claims, payload, body, extra, answer)

    def _check_vapid(self, authorization: str) -> tuple[dict, str | None]:
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            return {}, "Authorization is not a vapid token"
        parts = {}
        for part in params.split(","):
            name, _, value = part.strip().partition("=")
            parts[name] = value
        jwt, key = parts.get("t", ""), parts.get("k", "")
        if not jwt or not key:
            return {}, "Authorization lacks t= or k="
        if self.expected_public_key is not None and key != self.expected_public_key:
            return {}, "k= is not the app's VAPID public key"
        try:
            header = json.loads(_b64url_decode(jwt.split(".", 1)[0]))
            claims = decode_jwt(jwt, key)
        except Exception as exc:  # bad signature, base64, JSON
            return {}, f"VAPID token does not verify ({type(exc).__name__})"
        if header.get("alg") != "ES256":
            return claims, "VAPID token is not ES256"
        if claims.get("aud") != self.origin:
            return claims, f"aud {claims.get('aud')!r} is not {self.origin!r}"
        now = time.time()
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= now:
            return claims, "exp is missing or in the past"
        if exp > now + 24 * 3600:
            return claims, "exp is more than 24 hours ahead"
        subject = self.subject or settings.vapid_subject
        if claims.get("sub") != subject:
            return claims, f"sub {claims.get('sub')!r} is not {subject!r}"
        return claims, None

    def _record(self, token, status, headers, claims, payload, body, extra=None, answer=b""):
        ttl = headers.get("ttl")
        received = Received(
            token=token,
            status_answered=status,
            headers=headers,
            claims=claims,
            payload=payload,
            ttl=int(ttl) if ttl and ttl.isdigit() else None,
            urgency=headers.get("urgency"),
            topic=headers.get("topic"),
            body=body,
        )
        with self._arrived:
            self.received.append(received)
            self._arrived.notify_all()
        return status, extra or {}, answer
