"""Outgoing email through SMTP (stdlib smtplib): today, password reset links only.

Settings: SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, SMTP_FROM, SMTP_STARTTLS. With no
SMTP_HOST, development prints the message to the console and tests keep it in `captured`;
production refuses to pretend it sent anything.
"""

import logging
import smtplib
from email.message import EmailMessage

from app.config import settings

log = logging.getLogger("trochelog.mail")

# Messages "sent" in the test environment without an SMTP server (read by tests).
captured: list[EmailMessage] = []


class MailNotConfigured(RuntimeError):
    pass


def build(*, to: str, subject: str, body: str, language: str | None = None) -> EmailMessage:
    """A plain-text message; write subject and body in the recipient's language first
    (`with i18n.using(i18n.language_for(user)):`) and name it here."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if language:  # after set_content, which clears every Content-* header
        message["Content-Language"] = language
    return message


def send(message: EmailMessage) -> None:
    """Deliver one message. Raises on SMTP errors; the caller decides what a failure means."""
    if not settings.smtp_host:
        if settings.app_env == "development":
            # The ONLY place a reset token may reach a log: development without SMTP, so the
            # developer can follow the link. Never in test or production.
            log.warning("email not sent (no SMTP_HOST); to follow it:\n%s",
                        message.get_content())
            return
        if settings.app_env == "test":
            captured.append(message)
            return
        raise MailNotConfigured("SMTP_HOST is not set")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                      timeout=settings.smtp_timeout_seconds) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(message)


def send_quietly(message: EmailMessage) -> None:
    """For a background task after the response: a failure is logged (by type only, never the
    address or the link) and goes no further."""
    try:
        send(message)
    except Exception as exc:  # nothing above us to tell
        log.error("mail: sending failed (%s)", type(exc).__name__)
