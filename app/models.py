"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from app.accounts.models import AuthSession, Invite, LoginFailure, User
from app.careteam.models import CareLink
from app.checkins.models import CheckIn, CheckinSettings, QuestionnaireResponse, SafetyEvent
from app.doses.models import Dose, DoseRevision, GateCheck, LedgerEntry
from app.protocols.models import ProtocolVersion
from app.sync.models import ClientWrite

__all__ = [
    "AuthSession",
    "CareLink",
    "CheckIn",
    "CheckinSettings",
    "ClientWrite",
    "Dose",
    "DoseRevision",
    "GateCheck",
    "Invite",
    "LedgerEntry",
    "LoginFailure",
    "ProtocolVersion",
    "QuestionnaireResponse",
    "SafetyEvent",
    "User",
]
