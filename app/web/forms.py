"""Small helpers for HTML forms: client UUIDs, re-rendering with errors, safe redirects."""

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from app.errors import AppError
from app.templating import render


def new_client_id() -> str:
    """The UUID a form carries so a double submit or an offline replay writes once."""
    return str(uuid.uuid4())


def parse_client_id(value: str | None) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        # A missing id still writes exactly once: this submission just cannot be replayed.
        return uuid.uuid4()


def form_error(
    request: Request,
    session: Session,
    template: str,
    error: AppError,
    values: dict[str, Any],
    context: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The same form again, with the user's values and the message next to its field.

    Rolls back first: whatever the service did before it refused must not be committed.
    """
    session.rollback()
    errors = getattr(error, "errors", None) or {error.field or "__all__": error.message}
    return render(
        request,
        template,
        {"values": values, "errors": errors, **(context or {})},
        status_code=error.status_code,
    )


def see_other(url: str) -> RedirectResponse:
    """Post/Redirect/Get."""
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None, default: str = "/") -> str:
    """Only local paths: never bounce a signed-in user to another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default
