"""Small helpers for HTML forms: client UUIDs, re-rendering with errors, safe redirects."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from app.errors import AppError
from app.sync.ids import new_client_id, parse_client_id
from app.templating import render

__all__ = [
    "form_error",
    "form_values",
    "new_client_id",
    "parse_client_id",
    "safe_next",
    "see_other",
]


def form_values(form) -> dict[str, str]:
    """What the person typed, to show the form again (never the CSRF token)."""
    return {k: str(v) for k, v in form.items() if k != "csrf_token"}


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
