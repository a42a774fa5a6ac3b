import unicodedata
import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, LargeBinary, String, event
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow

# users.name_key's length: the key is cut here, since a fold can lengthen a name far beyond
# its 120 characters (ß is ss; NFKD spells some characters out in up to 18).
NAME_KEY_MAX = 480


class Role(StrEnum):
    PATIENT = "patient"
    CAREGIVER = "caregiver"
    PRESCRIBER = "prescriber"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=254, unique=True)  # stored lower-case
    display_name: str = Field(max_length=120)
    # name_key(display_name), kept by the listeners below: the prescriber's patient list sorts,
    # pages and searches by it in SQL, compared byte-wise (code points, as Python compares
    # strings), so "Ángela" sorts among the A's and "lucia" finds Lucía on both databases
    # (SQLite's lower() folds ASCII only and neither database sets accents aside by default).
    name_key: str = Field(default="", max_length=NAME_KEY_MAX)
    role: Role = Field(sa_type=String(20))
    timezone: str = Field(max_length=64)
    # None until the person accepts their invite and chooses a password.
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A prescriber's clinic phone number, shown to their patients beside the crisis lines
    # ("Call my clinic"); None until the prescriber sets it.
    clinic_phone: str | None = Field(default=None, max_length=40)
    # The optional app lock (patients and caregivers): a PIN's Argon2 hash, checked by the
    # server, asked for again once the phone has been away this many minutes.
    app_lock_pin_hash: str | None = Field(default=None, max_length=255)
    app_lock_minutes: int | None = Field(default=None)
    # The language the app speaks to this person ("en", "es"; app/i18n.py): pages, push, mail
    # and exports made for them. None follows the browser's (the phone's) language.
    language: str | None = Field(default=None, max_length=8)

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None


# Letters Unicode does not decompose into a base letter and a mark, written as a keyboard
# without them writes them (Søren is soren, Łukasz is lukasz, Ægir is aegir).
_UNDECOMPOSED = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t",
                               "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"})


def name_key(display_name: str) -> str:
    """What the patient list sorts and searches a name by: case-folded (Straße is strasse) with
    its accents set aside (Lucía is lucia, Ñandú is nandu, Søren is soren), as a prescriber
    types a name on a keyboard without them. The display name keeps them."""
    decomposed = unicodedata.normalize("NFKD", display_name.casefold())
    # Folded again: decomposing can bring capitals back ("ℌ" is "H"), and PostgreSQL's LIKE,
    # unlike SQLite's, tells cases apart.
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return bare.translate(_UNDECOMPOSED)[:NAME_KEY_MAX]


@event.listens_for(User, "before_insert")
@event.listens_for(User, "before_update")
def _keep_name_key(_mapper, _connection, user: User) -> None:
    # ORM flushes only: bulk inserts (bench/dataset.py, bench/push_fanout.py) set it themselves.
    user.name_key = name_key(user.display_name)


class AuthSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "auth_sessions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    # What the "signed-in devices" page calls it ("Chrome on Android"), from the User-Agent at
    # sign-in; never the raw header.
    device: str | None = Field(default=None, max_length=80)
    # Last time the person proved it was them in this session (password, passkey): exports and
    # consent changes ask again when this is too old.
    reauthenticated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set when the app lock is due (the phone was away too long); cleared by the right PIN.
    locked: bool = Field(default=False)
    # How this session was opened: "password", "passkey", "invite", "reset".
    method: str | None = Field(default=None, max_length=20)


class PasswordReset(SQLModel, table=True):
    """A one-time link to choose a new password. Only the token's SHA-256 is stored."""

    __tablename__ = "password_resets"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Passkey(SQLModel, table=True):
    """A WebAuthn credential: an optional sign-in for everyone (app/accounts/passkeys.py)."""

    __tablename__ = "passkeys"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    credential_id: str = Field(max_length=1400, unique=True)  # base64url
    public_key: bytes = Field(sa_type=LargeBinary)
    sign_count: int = Field(default=0)
    transports: list = Field(default_factory=list, sa_type=JSON)
    name: str = Field(max_length=60)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuthChallenge(SQLModel, table=True):
    """A WebAuthn challenge waiting for its answer: single use, short-lived, bound to the
    browser that asked (its session, or its anonymous cookie) by a hash."""

    __tablename__ = "auth_challenges"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    purpose: str = Field(max_length=20)  # "register", "sign_in", "reauth"
    browser_key: str = Field(max_length=64, index=True)
    challenge: str = Field(max_length=128)  # base64url
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE")
    expires_at: datetime = Field(sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """One failed sign-in, keyed by a hash of the account or the address (never the raw values)."""

    __tablename__ = "login_failures"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    key: str = Field(max_length=64, index=True)
    failed_at: datetime = Field(sa_type=UTCDateTime, index=True)


class InviteKind(StrEnum):
    PATIENT = "patient"
    CAREGIVER = "caregiver"


class Invite(SQLModel, table=True):
    """A one-time link that lets a new person in; there is no open sign-up.

    The id is the client UUID of the form that created it, so a double submit creates one invite.
    """

    __tablename__ = "invites"

    id: uuid.UUID = Field(primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    kind: InviteKind = Field(sa_type=String(20))
    email: str = Field(max_length=254)
    display_name: str = Field(max_length=120)
    # The patient the invite concerns: the invitee for a patient invite, the one to support for a
    # caregiver invite.
    patient_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    created_by_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A caregiver invite carries the patient's choice of what the caregiver will see and until
    # when; accepting it makes the link with both. NULL for patient invites.
    scope: str | None = Field(default=None, sa_type=String(20))
    ends_on: date | None = Field(default=None)
