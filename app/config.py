"""One place for settings: environment variables (or a .env file) → `settings`."""

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET = "dev-only-secret-change-me"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_env: Literal["development", "test", "production"] = "development"
    secret_key: str = DEFAULT_SECRET
    database_url: str = f"sqlite:///{ROOT / 'var' / 'trochelog.db'}"
    # The address people use (e.g. https://clinic.example). Links in emails and invites are
    # built from it. Required in production: derived from the request's Host header instead,
    # anyone could ask for a victim's reset email whose link points at their own server.
    # Empty in development: derived from the request.
    public_origin: str = ""

    # Sessions: a patient's phone stays signed in through a treatment week, but not forever.
    session_idle_hours: int = 7 * 24
    session_absolute_days: int = 30
    # A prescriber's browser shows many patients' records: short sessions (issue 13).
    prescriber_idle_minutes: int = 30
    prescriber_absolute_hours: int = 12
    # Exports and consent changes ask for the password (or a passkey) again after this long.
    reauth_minutes: int = 10
    # The optional app lock (patients, caregivers): how long the phone may be away before the
    # PIN is asked again (the choices offered), and wrong PINs before the session ends.
    app_lock_minute_choices: list[int] = [5, 15, 60]
    app_lock_max_wrong_pins: int = 5
    # Password reset links: how long one works, and how many an address may ask for per hour.
    password_reset_valid_minutes: int = 60
    password_reset_per_hour: int = 3
    # Outgoing email (password reset links). Empty SMTP_HOST in development: the link is
    # printed to the console instead.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "TrocheLog <no-reply@trochelog.example>"
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = 10.0
    # Proxies whose X-Forwarded-For uvicorn believes (comma-separated addresses or networks);
    # passed as --forwarded-allow-ips by `make run` and the container. The sign-in throttle
    # keys on the address uvicorn resolved, never on a header the app reads itself.
    forwarded_allow_ips: str = "127.0.0.1"
    # Passkeys (WebAuthn): the relying party id (a domain, e.g. clinic.example) and the origin
    # the browser reports. Empty: taken from PUBLIC_ORIGIN, else from the request.
    webauthn_rp_id: str = ""
    webauthn_origin: str = ""
    session_cookie: str = "tl_session"
    anon_cookie: str = "tl_anon"

    # Login throttling, counted in the database so every instance sees the same numbers.
    login_window_minutes: int = 15
    login_max_failures_per_address: int = 20
    # Growing delays per (account, address): after this many failures, 2, 4, 8 … seconds,
    # capped. An account attacked from many addresses only gets a short pause per failure.
    login_free_failures: int = 3
    login_max_delay_seconds: int = 15 * 60
    login_account_ceiling: int = 50
    login_account_delay_seconds: int = 10

    invite_valid_hours: int = 72

    # Password hashing cost (argon2-cffi's defaults). Never lower these in production.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    default_timezone: str = "America/New_York"

    # Web Push (VAPID). Empty keys: a pair is generated on first start and kept in the database
    # (shared by every instance); set both in production to manage them yourself. The private
    # key is raw base64url (32 bytes) or PEM; the public key is the uncompressed point,
    # base64url. The subject is the contact push services use: a real mailto: or https: URL.
    vapid_private_key: str = ""
    vapid_public_key: str = ""
    vapid_subject: str = "mailto:clinic@trochelog.example"
    push_timeout_seconds: float = 10.0
    # Where a dispatcher runs: "in-process" under `make run` (the embedded default), or "worker"
    # when `python -m app.reminders.worker` runs beside several app instances on PostgreSQL.
    reminders_dispatcher: Literal["in-process", "worker", "off"] = "in-process"
    # Requests inside the app at once, per process (app/web/admission.py); the rest wait in
    # the event loop, up to admission_wait_seconds, then get a 503. Below the thread pool (40)
    # and the connection pool (db_pool_size + 10 overflow), so a request that holds a
    # connection can always get a thread to finish and commit.
    max_requests_in_flight: int = 10
    admission_wait_seconds: float = 10.0
    db_pool_size: int = 10
    reminders_tick_seconds: float = 5.0
    # A repeat visit on a slow network: the service worker shows a page's saved copy once the
    # network has not answered in this many ms (app/static/sw.js). Negative: never while the
    # network may still answer (the test suite, whose page timings are the machine's, not a
    # phone's; tests/browser/test_saved_copy.py turns it on).
    saved_copy_after_ms: int = 150
    # Clinic-wide timing: an unacknowledged alert goes to the next contact after this long; a
    # caregiver who accepted alerts is told when a session's dose or +40 minute check-in has
    # not been logged this long after it was due; a PHQ-9 item 9 left without its screener
    # becomes an alert after this long.
    alert_repeat_minutes: int = 15
    caregiver_escalation_minutes: int = 60
    screener_unanswered_minutes: int = 30

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> "Settings":
        if self.app_env == "production" and (
            self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production"
            )
        if self.app_env == "production" and (
            self.argon2_time_cost < 2 or self.argon2_memory_kib < 19456
        ):
            # OWASP's floor for Argon2id: 19 MiB of memory and two passes.
            raise ValueError("ARGON2_* costs are below the safe minimum for production")
        if self.app_env == "production":
            parts = urlsplit(self.public_origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
                raise ValueError(
                    "PUBLIC_ORIGIN must be set in production to the address people use, such "
                    "as https://clinic.example: password reset and invite links are built from "
                    "it, never from the request's Host header")
        return self

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def seeds_demo(self) -> bool:
        return self.app_env != "production"


settings = Settings()
