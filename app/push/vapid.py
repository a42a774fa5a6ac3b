"""The server's VAPID key pair: from settings when the operator manages it, otherwise made on
first use and kept in `server_keys`, so every app instance and worker signs with the same key
(a browser subscribed with one public key refuses pushes signed by another).

Keys are stored as raw base64url (the 32-byte private scalar; the 65-byte uncompressed public
point): pywebpush and py_vapid read raw base64url or DER, not PEM.
"""

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from app.config import settings
from app.push.models import ServerKey

PRIVATE_NAME = "vapid_private"
PUBLIC_NAME = "vapid_public"
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


@dataclass(frozen=True)
class VapidKeys:
    private_key: Vapid  # signs the Authorization header (py_vapid's RFC 8292 Vapid02)
    public_key: str  # base64url of the uncompressed point: the browser's applicationServerKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; ValueError for anything else."""
    if not _B64URL.match(text):
        raise ValueError("not base64url")
    text = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def public_point(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def raw_private(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def _load_private(text: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from raw base64url (32 bytes), PEM or base64 DER."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            data = b64url_decode(text.replace("\n", "").replace("+", "-").replace("/", "_"))
            if len(data) == 32:
                key = ec.derive_private_key(int.from_bytes(data, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        # Never echo the key itself: this message ends up in logs.
        raise ValueError(
            "VAPID_PRIVATE_KEY is not a P-256 private key (raw base64url, PEM or DER)"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
        key.curve, ec.SECP256R1
    ):
        raise ValueError("VAPID_PRIVATE_KEY must be an EC key on the P-256 curve")
    return key


@lru_cache(maxsize=8)
def _parsed(private_text: str) -> VapidKeys:
    # Parsing and deriving the public point costs a scalar multiplication: once per key string.
    key = _load_private(private_text)
    return VapidKeys(private_key=Vapid(key), public_key=public_point(key))


def _from_settings() -> VapidKeys:
    parsed = _parsed(settings.vapid_private_key)
    configured = settings.vapid_public_key.strip()
    if configured and configured.rstrip("=") != parsed.public_key:
        raise ValueError(
            "VAPID_PUBLIC_KEY does not belong to VAPID_PRIVATE_KEY: set the public key derived "
            "from the private key (or leave VAPID_PUBLIC_KEY empty to derive it)"
        )
    return parsed


def _insert_ignoring_conflict(session: Session, rows: list[dict]) -> None:
    """Insert the rows unless another process already did (it wins; we read its pair)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # ON CONFLICT DO NOTHING waits for a concurrent uncommitted insert of the same name and
    # then skips: no savepoint, and the transaction stays usable for the re-read.
    session.execute(insert(ServerKey).values(rows).on_conflict_do_nothing(index_elements=["name"]))


def _from_database(session: Session) -> VapidKeys:
    stored = session.exec(select(ServerKey).where(ServerKey.name == PRIVATE_NAME)).first()
    if stored is None:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        _insert_ignoring_conflict(
            session,
            [
                {"name": PRIVATE_NAME, "value": raw_private(key), "created_at": now},
                # Kept beside it for operators (to copy into settings); the private key rules.
                {"name": PUBLIC_NAME, "value": public_point(key), "created_at": now},
            ],
        )
        stored = session.exec(select(ServerKey).where(ServerKey.name == PRIVATE_NAME)).one()
    return _parsed(stored.value)


def check_settings() -> None:
    """Raise ValueError for VAPID settings that cannot work (callable at startup, no database):
    an unreadable private key, a public key that is not its pair or stands alone, a subject
    push services refuse (Apple wants a real mailto: or https: contact)."""
    subject = settings.vapid_subject
    if not (
        re.match(r"^mailto:[^@\s]+@[^@\s]+$", subject) or re.match(r"^https://[^\s/]+", subject)
    ):
        raise ValueError("VAPID_SUBJECT must be a mailto: address or an https: URL")
    if settings.vapid_private_key.strip():
        _from_settings()
    elif settings.vapid_public_key.strip():
        raise ValueError("VAPID_PUBLIC_KEY is set without VAPID_PRIVATE_KEY: set both or neither")


def keys(session: Session) -> VapidKeys:
    """The pair to sign with. Raises ValueError when the settings cannot work (check_settings)."""
    check_settings()
    if settings.vapid_private_key.strip():
        return _from_settings()
    return _from_database(session)


def public_key(session: Session) -> str:
    return keys(session).public_key
