"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from app.accounts.models import AuthSession, Invite, LoginFailure, User
from app.careteam.models import CareLink

__all__ = ["AuthSession", "CareLink", "Invite", "LoginFailure", "User"]
