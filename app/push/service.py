"""Each person's push subscriptions (one per browser that turned reminders on).

Rules: an endpoint belongs to one person at a time (the browser's push address; a phone handed
to someone else who signs in and subscribes moves to them); signing out on a device stops its
reminders; a push service's 404/410 deletes the subscription it was about.
"""

import ipaddress
import re
import uuid
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.config import settings
from app.errors import Conflict, Invalid, NotFound
from app.i18n import gettext as _
from app.push.models import PushSubscription
from app.push.vapid import b64url, b64url_decode
from app.validation import savable_text

MAX_ENDPOINT = 1024
MAX_NAME = 80
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


# --- validation -------------------------------------------------------------------------------


def _bad_endpoint() -> Invalid:
    return Invalid(
        _("This browser's push address cannot be used. Turn reminders off and on again."),
        field="endpoint",
    )


def check_endpoint(endpoint: str) -> str:
    """The endpoint if this server may POST to it: https on a named host (the browsers' push
    services), or a local test service outside production. Raises Invalid(field="endpoint")."""
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > MAX_ENDPOINT:
        raise _bad_endpoint()
    if not endpoint.isascii() or any(ch.isspace() or not ch.isprintable() for ch in endpoint):
        raise _bad_endpoint()
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise _bad_endpoint() from None
    # No user info, IPv6 brackets or empty host: the VAPID `aud` is this origin, and py_vapid
    # only signs scheme://host[:port].
    if not host or not _HOST_PORT.match(parts.netloc):
        raise _bad_endpoint()
    local = host in _LOCAL_HOSTS and settings.app_env != "production"
    if parts.scheme == "http" and local:
        return endpoint
    if parts.scheme != "https":
        raise _bad_endpoint()
    if local:
        return endpoint
    # The server POSTs to whatever address is stored here: refuse addresses inside the
    # server's own network (an IP literal, a single-label name, localhost).
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise _bad_endpoint()
    if "." not in host.strip(".") or host == "localhost" or host.endswith(".localhost"):
        raise _bad_endpoint()
    return endpoint


def _key(value: str, *, field: str, size: int, first: int | None = None) -> str:
    message = _("The browser sent a subscription key that is not valid. Try again.")
    if not isinstance(value, str) or len(value) > 200:
        raise Invalid(message, field=field)
    try:
        data = b64url_decode(value.strip())
    except ValueError:
        raise Invalid(message, field=field) from None
    if len(data) != size or (first is not None and data[0] != first):
        raise Invalid(message, field=field)
    return b64url(data)  # stored in one spelling: unpadded base64url


def check_p256dh(value: str) -> str:
    key = _key(value, field="p256dh", size=65, first=0x04)
    # A point that is not on the P-256 curve would fail every encryption later: refuse it now.
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
    except ValueError:
        raise Invalid(
            _("The browser sent a subscription key that is not valid. Try again."), field="p256dh"
        ) from None
    return key


def check_auth(value: str) -> str:
    return _key(value, field="auth", size=16)


def check_name(name: str | None) -> str | None:
    if name is None:
        return None
    name = " ".join(name.split())
    if not name:
        return None
    if not savable_text(name):
        raise Invalid(_("The name contains a character that cannot be saved."), field="name")
    if len(name) > MAX_NAME:
        raise Invalid(
            _("Keep the name to %(n)s characters or fewer.") % {"n": MAX_NAME}, field="name"
        )
    return name


# --- device names -----------------------------------------------------------------------------

# Checked in order: several browsers also claim to be Chrome and Safari in their User-Agent.
_BROWSERS = (
    ("Edg", "Edge"),
    ("EdgiOS", "Edge"),
    ("EdgA", "Edge"),
    ("SamsungBrowser", "Samsung Internet"),
    ("OPR", "Opera"),
    ("FxiOS", "Firefox"),
    ("Firefox", "Firefox"),
    ("CriOS", "Chrome"),
    ("Chrome", "Chrome"),
    ("Chromium", "Chromium"),
    ("Safari", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("CrOS", "ChromeOS"),
    ("Macintosh", "Mac"),
    ("Mac OS X", "Mac"),
    ("Linux", "Linux"),
)


def device_name(user_agent: str | None) -> str:
    """A readable name for a device from its User-Agent: "Chrome on Android"."""
    agent = user_agent or ""
    tokens = {part.split("/", 1)[0] for part in agent.split()}
    browser = next((name for token, name in _BROWSERS if token in tokens), None)
    system = next((name for token, name in _SYSTEMS if token in agent), None)
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return _("This browser")


# --- subscriptions ----------------------------------------------------------------------------


def _by_endpoint(session: Session, endpoint: str) -> PushSubscription | None:
    return session.exec(
        select(PushSubscription)
        .where(PushSubscription.endpoint == endpoint)
        .execution_options(populate_existing=True)
    ).first()


def _insert(session: Session, values: dict) -> bool:
    """Insert a subscription unless its endpoint exists by now (another request, such as a
    second tab re-checking the same subscription, won the race). True when inserted."""
    session.flush()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = session.execute(
        insert(PushSubscription).values(**values).on_conflict_do_nothing(
            index_elements=["endpoint"]
        )
    )
    return result.rowcount == 1


def subscribe(
    session: Session,
    *,
    user: User,
    endpoint: str,
    p256dh: str,
    auth: str,
    name: str | None,
    auth_session_id: uuid.UUID | None,
    now: datetime,
    old_endpoint: str | None = None,
    user_agent: str | None = None,
    language: str | None = None,
) -> PushSubscription:
    """Save this browser's subscription for `user` (insert or update by endpoint).

    `old_endpoint` is the subscription the browser replaced (pushsubscriptionchange): that row
    becomes this one when it is the same person's, so its pending deliveries follow the device.
    `name` None keeps a stored name; a new row is then named from `user_agent`.
    """
    endpoint = check_endpoint(endpoint)
    p256dh = check_p256dh(p256dh)
    auth = check_auth(auth)
    name = check_name(name)

    row = _by_endpoint(session, endpoint)
    if old_endpoint and old_endpoint != endpoint:
        old = _by_endpoint(session, old_endpoint)
        if old is not None and old.user_id == user.id:
            if row is None:
                row = old
                row.endpoint = endpoint
            else:
                session.delete(old)
        # Another person's old endpoint is left alone: it is not this request's to change.

    if row is not None and row.user_id != user.id:
        # The device changed hands. A new row (new id): deliveries queued for the previous
        # person lose their subscription (SET NULL) instead of reaching the new one's phone.
        session.delete(row)
        session.flush()
        row = None

    if row is None:
        new_id = uuid.uuid4()
        values = {
            "id": new_id,
            "user_id": user.id,
            "endpoint": endpoint,
            "p256dh": p256dh,
            "auth": auth,
            "name": name or device_name(user_agent),
            "auth_session_id": auth_session_id,
            "created_at": now,
            "updated_at": now,
            "language": language,
        }
        if _insert(session, values):
            inserted = session.get(PushSubscription, new_id)
            assert inserted is not None
            return inserted
        # Another request saved this endpoint between our read and our insert (two tabs
        # re-checking the same subscription as the app opens): update what it saved.
        row = _by_endpoint(session, endpoint)
        if row is None or row.user_id != user.id:
            raise Conflict(_("This device is being set up by another request. Try again."))

    row.p256dh = p256dh
    row.auth = auth
    if name:
        row.name = name
    row.auth_session_id = auth_session_id
    row.updated_at = now
    row.language = language
    session.add(row)
    session.flush()
    return row


def devices(session: Session, user: User) -> list[PushSubscription]:
    return list(
        session.exec(
            select(PushSubscription)
            .where(PushSubscription.user_id == user.id)
            .order_by(col(PushSubscription.created_at), col(PushSubscription.id))
        ).all()
    )


def remove(session: Session, *, user: User, subscription_id: uuid.UUID) -> None:
    row = session.get(PushSubscription, subscription_id)
    if row is None or row.user_id != user.id:
        raise NotFound(_("We could not find that device."))
    session.delete(row)
    session.flush()


def remove_endpoint(session: Session, *, user: User, endpoint: str) -> bool:
    """Forget this person's subscription at `endpoint` (the browser unsubscribed). Idempotent:
    False when there was none."""
    if not savable_text(endpoint):
        # No stored endpoint holds NUL or a lone surrogate, and PostgreSQL refuses NUL even in
        # a query's parameter (a 500): refuse it as any other unusable endpoint.
        raise _bad_endpoint()
    result = session.execute(
        delete(PushSubscription).where(
            col(PushSubscription.endpoint) == endpoint, col(PushSubscription.user_id) == user.id
        )
    )
    return result.rowcount > 0


def forget_session(session: Session, auth_session_id: uuid.UUID) -> int:
    """Sign-out on a device: its subscriptions go, so the next person to pick up that phone sees
    no reminders for the one who left. Returns how many were removed."""
    result = session.execute(
        delete(PushSubscription).where(col(PushSubscription.auth_session_id) == auth_session_id)
    )
    return result.rowcount


def forget_user(session: Session, user: User) -> int:
    """Every device of this person: a changed password signs out every browser, so no device
    keeps receiving their reminders until they sign in there and turn reminders on again."""
    result = session.execute(
        delete(PushSubscription).where(col(PushSubscription.user_id) == user.id)
    )
    return result.rowcount


def gone(session: Session, subscription_id: uuid.UUID, endpoint: str) -> bool:
    """The push service said 404/410 for this subscription: delete it, unless it was updated to
    another endpoint meanwhile (the browser renewed it; the new one still works)."""
    result = session.execute(
        delete(PushSubscription).where(
            col(PushSubscription.id) == subscription_id,
            col(PushSubscription.endpoint) == endpoint,
        )
    )
    return result.rowcount > 0

