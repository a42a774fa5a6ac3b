"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from app.accounts.models import (
    AuthChallenge,
    AuthSession,
    Invite,
    LoginFailure,
    Passkey,
    PasswordReset,
    User,
)
from app.alerts.models import Alert
from app.audit.models import AuditEvent
from app.careteam.models import CareLink
from app.checkins.models import CheckIn, CheckinSettings, QuestionnaireResponse, SafetyEvent
from app.clinic.models import FlagReview, FlagSummary
from app.doses.models import Dose, DoseRevision, GateCheck, LedgerEntry
from app.protocols.models import ProtocolVersion
from app.push.models import PushSubscription, ServerKey
from app.reminders.models import (
    PushAttempt,
    PushDelivery,
    ReminderOccurrence,
    ReminderPreferences,
)
from app.sync.models import ClientWrite

__all__ = [
    "Alert",
    "AuditEvent",
    "AuthChallenge",
    "AuthSession",
    "CareLink",
    "CheckIn",
    "CheckinSettings",
    "ClientWrite",
    "Dose",
    "DoseRevision",
    "FlagReview",
    "FlagSummary",
    "GateCheck",
    "Invite",
    "LedgerEntry",
    "LoginFailure",
    "Passkey",
    "PasswordReset",
    "ProtocolVersion",
    "PushAttempt",
    "PushDelivery",
    "PushSubscription",
    "QuestionnaireResponse",
    "ReminderOccurrence",
    "ReminderPreferences",
    "SafetyEvent",
    "ServerKey",
    "User",
]
