"""Domain errors: services raise these, never HTTPException; handlers make pages or JSON."""

from app.i18n import gettext as _


class AppError(Exception):
    status_code = 400

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or self.default_message()
        self.field = field
        super().__init__(self.message)

    def default_message(self) -> str:
        return _("Something is not right with that request.")


class NotFound(AppError):
    status_code = 404

    def default_message(self) -> str:
        return _("We could not find that page.")


class Forbidden(AppError):
    status_code = 403

    def default_message(self) -> str:
        return _("You do not have access to this page.")


class NotAuthenticated(AppError):
    status_code = 401

    def default_message(self) -> str:
        return _("Please sign in to continue.")


class Conflict(AppError):
    status_code = 409


class Invalid(AppError):
    """Bad input: shown next to `field` (or each field of `errors`) in a form, 422 in the API."""

    status_code = 422

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        errors: dict[str, str] | None = None,
    ) -> None:
        if errors and message is None:
            message = "; ".join(f"{name}: {text}" for name, text in errors.items())
        super().__init__(message, field=field)
        self.errors = errors or ({field: self.message} if field else {})


class TooManyAttempts(AppError):
    status_code = 429

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
