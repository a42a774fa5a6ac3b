"""Passkeys (WebAuthn): an optional sign-in for everyone, and a way to confirm it is you.

Rules and storage only (HTTP lives in passkey_routes.py). The ceremonies come from py_webauthn:
the server hands the browser options with a fresh challenge, the browser's authenticator answers,
and the answer is verified here against the challenge, the relying party and the stored key.

- A challenge is single use and lives 5 minutes; it is bound to the browser that asked for it
  (a hash of its signed-in session, or of its anonymous cookie) and to a purpose, so an answer
  made for one browser or one ceremony is refused in any other.
- Passkeys are discoverable (resident keys) with user verification required: the phone's lock
  (face, fingerprint, PIN) is the second factor a passkey sign-in stands on.
- The user handle given to authenticators is the account's random UUID, never the email.

Services flush, never commit, and take `now`. A refused answer raises PasskeyRefused before
anything is written except the consumed challenge, so the route may commit the refusal (the
spent challenge, the counted failure, the audit entry) without committing anything else.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, delete, func, select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.accounts.models import AuthChallenge, Passkey, User
from app.config import settings
from app.errors import AppError, Invalid, NotFound
from app.i18n import gettext as _

CHALLENGE_TTL = timedelta(minutes=5)
# What the browser is told (a hint it may ignore); the challenge's own life is CHALLENGE_TTL.
CEREMONY_TIMEOUT_MS = 2 * 60 * 1000
NAME_MAX = 60
MAX_PASSKEYS = 20
RP_NAME = "TrocheLog"
_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)

REGISTER, SIGN_IN, REAUTH = "register", "sign_in", "reauth"


class PasskeyRefused(AppError):
    """An answer that cannot be accepted; `reason` is a code for the audit trail."""

    status_code = 400

    def __init__(self, message: str, *, reason: str, user: User | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.user = user  # the account the credential belongs to, when it is known


@dataclass(frozen=True)
class RelyingParty:
    id: str  # a domain ("clinic.example", "localhost"), never a port or a scheme
    origin: str  # what the browser puts in clientDataJSON: "https://clinic.example"


def relying_party(request_origin: str) -> RelyingParty:
    """WEBAUTHN_ORIGIN / WEBAUTHN_RP_ID when set, else PUBLIC_ORIGIN, else the request's own.

    Deriving from the request is safe for sign-in (an authenticator only answers for the RP id
    its credential was made for), but behind a proxy set PUBLIC_ORIGIN so the id is stable."""
    origin = (settings.webauthn_origin or settings.public_origin or request_origin).rstrip("/")
    rp_id = settings.webauthn_rp_id or urlsplit(origin).hostname or "localhost"
    return RelyingParty(id=rp_id, origin=origin)


def browser_key(kind: str, value: str) -> str:
    """What binds a challenge to one browser: a hash of its session id or anonymous cookie."""
    return hashlib.sha256(f"passkey:{kind}:{value}".encode()).hexdigest()


def clean_name(raw: str) -> str:
    name = " ".join("".join(ch for ch in raw if ch.isprintable() or ch.isspace()).split())
    if not name:
        raise Invalid(_("Give this passkey a name, like “My phone”."), field="name")
    if len(name) > NAME_MAX:
        raise Invalid(_("Use at most %(n)s characters.", n=NAME_MAX), field="name")
    return name


# --- challenges -------------------------------------------------------------------------------


def _new_challenge(
    session: Session, *, purpose: str, key: str, user: User | None, now: datetime
) -> bytes:
    # Expired challenges go whenever a new one is made, and so does this browser's earlier one
    # for the same ceremony: the table stays small.
    session.exec(delete(AuthChallenge).where(col(AuthChallenge.expires_at) <= now))
    session.exec(
        delete(AuthChallenge).where(
            col(AuthChallenge.browser_key) == key, col(AuthChallenge.purpose) == purpose
        )
    )
    challenge = uuid.uuid4().bytes + uuid.uuid4().bytes  # 32 random bytes
    session.add(
        AuthChallenge(
            purpose=purpose,
            browser_key=key,
            challenge=bytes_to_base64url(challenge),
            user_id=user.id if user else None,
            expires_at=now + CHALLENGE_TTL,
        )
    )
    session.flush()
    return challenge


def _expired() -> PasskeyRefused:
    return PasskeyRefused(
        _("This passkey request has expired or was already used. Please try again."),
        reason="challenge",
    )


def _unreadable() -> PasskeyRefused:
    return PasskeyRefused(_("The passkey's answer could not be read. Please try again."),
                          reason="malformed")


def _sent_challenge(credential: Any) -> str:
    """The challenge the browser signed, read from clientDataJSON (verified again later)."""
    try:
        client_data = json.loads(base64url_to_bytes(credential["response"]["clientDataJSON"]))
        sent = client_data["challenge"]
    except (KeyError, TypeError, ValueError, UnicodeDecodeError):
        raise _unreadable() from None
    if not isinstance(sent, str) or not sent.isascii() or len(sent) > 128:
        raise _unreadable()
    return sent


def _take_challenge(
    session: Session, *, purpose: str, key: str, credential: Any, now: datetime
) -> AuthChallenge:
    """The challenge this answer was made for, deleted so it can never be used again."""
    row = session.exec(
        select(AuthChallenge).where(
            AuthChallenge.purpose == purpose,
            AuthChallenge.browser_key == key,
            AuthChallenge.challenge == _sent_challenge(credential),
        )
    ).first()
    if row is None:
        raise _expired()
    # Conditional delete: of two answers racing with one challenge, only one gets it.
    taken = session.exec(  # type: ignore[call-overload]
        delete(AuthChallenge).where(col(AuthChallenge.id) == row.id)
    )
    session.flush()
    if taken.rowcount != 1 or now >= row.expires_at:
        raise _expired()
    return row


# --- adding and removing ----------------------------------------------------------------------


def list_passkeys(session: Session, user: User) -> list[Passkey]:
    return list(
        session.exec(
            select(Passkey).where(Passkey.user_id == user.id).order_by(col(Passkey.created_at))
        ).all()
    )


def count_passkeys(session: Session, user_id: uuid.UUID) -> int:
    return session.exec(select(func.count()).where(Passkey.user_id == user_id)).one()


def _descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(p.credential_id),
            transports=[AuthenticatorTransport(t) for t in p.transports if t in _TRANSPORTS],
        )
        for p in passkeys
    ]


def registration_options(
    session: Session, user: User, *, rp: RelyingParty, key: str, name: str, now: datetime
) -> str:
    """Options for navigator.credentials.create(), as JSON. The name is checked now, so a bad
    one is said before the person touches their authenticator."""
    clean_name(name)
    existing = list_passkeys(session, user)
    if len(existing) >= MAX_PASSKEYS:
        raise Invalid(_("You have %(n)s passkeys, the most an account can have. Remove one "
                        "first.", n=MAX_PASSKEYS), field="name")
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=RP_NAME,
        user_id=user.id.bytes,
        user_name=user.email,
        user_display_name=user.display_name,
        challenge=_new_challenge(session, purpose=REGISTER, key=key, user=user, now=now),
        timeout=CEREMONY_TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        # The same authenticator twice would be two rows for one key.
        exclude_credentials=_descriptors(existing),
    )
    return options_to_json(options)


def add_passkey(
    session: Session,
    user: User,
    *,
    rp: RelyingParty,
    key: str,
    credential: Any,
    name: str,
    now: datetime,
) -> Passkey:
    """Verify the authenticator's attestation and keep its public key."""
    name = clean_name(name)
    challenge = _take_challenge(session, purpose=REGISTER, key=key, credential=credential, now=now)
    if challenge.user_id != user.id:
        raise _expired()
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge.challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError):
        raise PasskeyRefused(
            _("This passkey could not be added. Please try again."), reason="attestation"
        ) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if session.exec(select(Passkey.id).where(Passkey.credential_id == credential_id)).first():
        raise PasskeyRefused(_("This passkey is already added."), reason="duplicate")
    response = credential.get("response") if isinstance(credential, dict) else None
    sent = response.get("transports") if isinstance(response, dict) else None
    sent = sent if isinstance(sent, list) else []
    transports = sorted({t for t in sent if isinstance(t, str) and t in _TRANSPORTS})
    passkey = Passkey(
        user_id=user.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports,
        name=name,
        created_at=now,
    )
    session.add(passkey)
    session.flush()
    return passkey


def remove_passkey(session: Session, user: User, passkey_id: uuid.UUID) -> Passkey:
    """Someone else's passkey is NotFound, the same as one that does not exist."""
    passkey = session.get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != user.id:
        raise NotFound()
    session.delete(passkey)
    session.flush()
    return passkey


# --- signing in and confirming it is you ------------------------------------------------------


def sign_in_options(session: Session, *, rp: RelyingParty, key: str, now: datetime) -> str:
    """Options for navigator.credentials.get() with no account named: the authenticator offers
    the passkeys it holds for this site (discoverable credentials)."""
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=_new_challenge(session, purpose=SIGN_IN, key=key, user=None, now=now),
        timeout=CEREMONY_TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options)


def reauth_options(
    session: Session, user: User, *, rp: RelyingParty, key: str, now: datetime
) -> str:
    """Options that only this person's own passkeys can answer."""
    passkeys = list_passkeys(session, user)
    if not passkeys:
        raise NotFound(_("You have no passkeys on this account."))
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=_new_challenge(session, purpose=REAUTH, key=key, user=user, now=now),
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=_descriptors(passkeys),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options)


def credential_owner(session: Session, credential: Any) -> tuple[Passkey, User] | None:
    """The stored passkey and its account for an answer's credential id, if there is one."""
    credential_id = credential.get("id") if isinstance(credential, dict) else None
    if not (isinstance(credential_id, str) and credential_id.isascii()
            and 0 < len(credential_id) <= 1400):
        return None
    passkey = session.exec(select(Passkey).where(Passkey.credential_id == credential_id)).first()
    if passkey is None:
        return None
    user = session.get(User, passkey.user_id)
    return (passkey, user) if user is not None else None


def _verify_assertion(
    session: Session,
    *,
    purpose: str,
    rp: RelyingParty,
    key: str,
    credential: Any,
    now: datetime,
    expected_user: User | None = None,
) -> tuple[Passkey, User]:
    challenge = _take_challenge(session, purpose=purpose, key=key, credential=credential, now=now)
    owner = credential_owner(session, credential)
    if owner is None:
        raise PasskeyRefused(
            _("This passkey is not set up for TrocheLog, or it was removed. Sign in with your "
              "password."),
            reason="unknown_credential",
        )
    passkey, user = owner
    if (expected_user is not None and user.id != expected_user.id) or (
        challenge.user_id is not None and challenge.user_id != user.id
    ):
        raise PasskeyRefused(_("This passkey belongs to another account."),
                             reason="other_account", user=expected_user)
    if not user.is_active:
        raise PasskeyRefused(_("This account cannot sign in."), reason="inactive", user=user)
    handle = credential.get("response", {}).get("userHandle")
    if handle and handle != bytes_to_base64url(user.id.bytes):
        raise PasskeyRefused(_("This passkey belongs to another account."),
                             reason="user_handle", user=user)
    invalid = PasskeyRefused(_("This passkey's answer was not valid. Please try again."),
                             reason="assertion", user=user)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge.challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            # 0: the library would judge the counter before the signature; judged below, after
            # it, so a forged answer is called forged, not a copied passkey.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError):
        raise invalid from None
    if passkey.sign_count and verified.new_sign_count and (
        verified.new_sign_count <= passkey.sign_count
    ):
        # The counter went backwards (or stood still): the key may have been copied to another
        # device. A counter of 0 means the authenticator does not count (synced passkeys).
        raise PasskeyRefused(
            _("This passkey may have been copied, so it was not accepted. Remove it and add "
              "it again, or sign in with your password."),
            reason="sign_count",
            user=user,
        )
    passkey.sign_count = max(passkey.sign_count, verified.new_sign_count)
    passkey.last_used_at = now
    session.add(passkey)
    session.flush()
    return passkey, user


def sign_in(
    session: Session, *, rp: RelyingParty, key: str, credential: Any, now: datetime
) -> tuple[Passkey, User]:
    """The account behind a valid answer to this browser's sign-in challenge."""
    return _verify_assertion(session, purpose=SIGN_IN, rp=rp, key=key, credential=credential,
                             now=now)


def reauthenticate(
    session: Session, user: User, *, rp: RelyingParty, key: str, credential: Any, now: datetime
) -> Passkey:
    """The signed-in person proved it is them with one of their own passkeys."""
    passkey, _user = _verify_assertion(session, purpose=REAUTH, rp=rp, key=key,
                                       credential=credential, now=now, expected_user=user)
    return passkey
