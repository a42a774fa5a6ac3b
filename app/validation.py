"""Turn pydantic validation errors into one readable message per field."""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.errors import Invalid
from app.i18n import gettext as _

M = TypeVar("M", bound=BaseModel)


def _message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return _("This is required.")
    if kind == "extra_forbidden":
        return _("This field is not recognised.")
    if kind in ("int_parsing", "int_from_float"):
        return _("Enter a whole number.")
    if kind in ("decimal_parsing", "float_parsing", "finite_number"):
        return _("Enter a number.")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        ctx = error.get("ctx", {})
        for key, text in (
            ("ge", _("Enter %(v)s or more.")),
            ("gt", _("Enter more than %(v)s.")),
            ("le", _("Enter %(v)s or less.")),
            ("lt", _("Enter less than %(v)s.")),
        ):
            if key in ctx:
                return text % {"v": ctx[key]}
    if kind == "value_error":
        # Our own validators raise ValueError with an already translated message.
        return str(error.get("ctx", {}).get("error", error.get("msg", "")))
    return str(error.get("msg", _("This value is not valid.")))


def parse(model: type[M], data: dict[str, Any], *, prefix: str = "") -> M:
    """Validate `data` into `model`, or raise Invalid carrying a message per field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ())]
            name = prefix + ("_".join(loc) if loc else "__all__")
            errors.setdefault(name, _message(error))
        raise Invalid(errors=errors) from None
