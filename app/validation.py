"""Turn pydantic validation errors into one readable message per field; the shared input types
and checks that keep hostile input out (times at the ends of the calendar, text that is not
Unicode, JSON nested or sized beyond reason)."""

import math
import re
import types
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import AfterValidator, AwareDatetime, BaseModel, ValidationError, model_validator

from app.errors import Invalid
from app.i18n import gettext as _
from app.i18n import ngettext

M = TypeVar("M", bound=BaseModel)


# The error type of a query's day or instant that is neither (app/web/ranges.py).
DAY_OR_INSTANT = "day_or_instant"


def error_message(error: Any) -> str:
    """One validation error (pydantic's or FastAPI's) as a person should read it, in their
    language: never the library's own English ("Input should be a valid date…")."""
    kind = error.get("type", "")
    ctx = error.get("ctx", {})
    if kind == "missing":
        return _("This is required.")
    if kind == "extra_forbidden":
        return _("This field is not recognised.")
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return _("Enter a whole number.")
    if kind in ("decimal_parsing", "decimal_type", "float_parsing", "float_type",
                "finite_number"):
        return _("Enter a number.")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        for key, text in (
            ("ge", _("Enter %(v)s or more.")),
            ("gt", _("Enter more than %(v)s.")),
            ("le", _("Enter %(v)s or less.")),
            ("lt", _("Enter less than %(v)s.")),
        ):
            if key in ctx:
                return text % {"v": ctx[key]}
    if kind in ("date_parsing", "date_type", "date_from_datetime_parsing",
                "date_from_datetime_inexact"):
        return _("Enter a date as YYYY-MM-DD.")
    if kind in ("time_parsing", "time_type"):
        return _("Enter a time like %(example)s", example="10:00") + "."  # 10:00 ends no sentence
    if kind in ("datetime_parsing", "datetime_type", "datetime_from_date_parsing",
                "timezone_aware"):
        return _("Enter a date and time.")
    if kind == "string_too_long":
        return _("Use at most %(n)s characters.", n=ctx.get("max_length"))
    if kind == "string_too_short" and ctx.get("min_length", 1) <= 1:
        return _("This is required.")
    if kind in ("enum", "literal_error"):
        return _("Choose one of the options.")
    if kind in ("bool_parsing", "bool_type"):
        return _("Answer yes or no.")
    if kind in ("uuid_parsing", "uuid_type", "string_type", "string_unicode", "list_type",
                "dict_type", "model_type", "model_attributes_type"):
        # Only a client with a bug sends these (a form sends text, the phone's outbox the
        # right types): plain words, never the library's.
        return _("This value is not valid.")
    if kind in ("decimal_max_digits", "decimal_whole_digits"):
        return _("Enter a smaller number.")
    if kind == "decimal_max_places":
        places = ctx.get("decimal_places", 2)
        return ngettext("Use at most %(num)s digit after the decimal point.",
                        "Use at most %(num)s digits after the decimal point.", places)
    if kind == "too_long" and "max_length" in ctx:
        return ngettext("Send at most %(num)s item.", "Send at most %(num)s items.",
                        int(ctx["max_length"]))
    if kind == "json_invalid":
        return _("This is not valid JSON.")
    if kind == DAY_OR_INSTANT:
        return _("Use a day as YYYY-MM-DD, or a date-time with an offset.")
    if kind == "value_error":
        # Our own validators raise ValueError with an already translated message.
        return str(ctx.get("error", error.get("msg", "")))
    # Any other kind: plain words in the reader's language, never the library's English.
    return _("This value is not valid.")


# --- numbers as a person writes them ----------------------------------------------------------

# Put in place of a number field's value that no person would mean as that number, so the field's
# own validation refuses it with its own words ("Enter a whole number.", "Enter a number of mg.").
_NOT_A_NUMBER = "not a number"


def _is_number_type(annotation: Any) -> tuple[bool, bool]:
    """(a number, a list of numbers) for a field's annotation, through Optional and Annotated."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_number_type(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        found = [_is_number_type(a) for a in get_args(annotation)]
        return any(f[0] for f in found), any(f[1] for f in found)
    if origin is list:
        return False, _is_number_type(get_args(annotation)[0])[0]
    return annotation in (int, float, Decimal), False


def _unmeant_number(value: Any) -> bool:
    """True for what pydantic's lax numbers take but no person types as a number: true / false
    (read as 1 and 0: a fill of `true` troches was saved as one), Python's own literal
    underscores ("1_00" saved as 100 mg), an exponent in text ("1e3" saved as 1000 troches; a
    JSON number in that notation is the sender's own) and a signalling NaN ("sNaN": Decimal
    parses it, and the first comparison with it raises: a 500 on a dose correction)."""
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        text = value.strip().lower().lstrip("+-")
        if text in ("nan", "inf", "infinity"):
            return False  # each field's own rule refuses these in its own words
        # An exponent ("1e3" was saved as a count of 1000 troches) is a typo, not a count.
        return "_" in text or "e" in text or text.startswith("snan")
    return False


class ClientInput(BaseModel):
    """The base of the models that read what a phone or a form sent: every number field, and
    every list of numbers, refuses `_unmeant_number` values with its own error, in one place
    (pydantic has no setting for it; `strict` would refuse the form's "120" too)."""

    @model_validator(mode="before")
    @classmethod
    def _numbers_as_meant(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        cleaned = None
        for name, info in cls.model_fields.items():
            if name not in data:
                continue
            number, numbers = _is_number_type(info.annotation)
            value = data[name]
            if number and _unmeant_number(value):
                cleaned = cleaned or dict(data)
                cleaned[name] = _NOT_A_NUMBER
            elif numbers and isinstance(value, list) and any(map(_unmeant_number, value)):
                cleaned = cleaned or dict(data)
                cleaned[name] = [_NOT_A_NUMBER if _unmeant_number(v) else v for v in value]
        return cleaned if cleaned is not None else data


def parse(model: type[M], data: dict[str, Any], *, prefix: str = "") -> M:
    """Validate `data` into `model`, or raise Invalid carrying a message per field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(errors=field_errors(exc, prefix=prefix)) from None


def field_errors(exc: ValidationError, *, prefix: str = "") -> dict[str, str]:
    """One readable message per field. Names and messages can carry the sender's input (an
    unknown key, the character a UUID choked on): they are made printable and short."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        name = prefix + ("_".join(loc) if loc else "__all__")
        errors.setdefault(printable(name, limit=64), printable(error_message(error), limit=300))
    return errors


# --- times within reason ----------------------------------------------------------------------

# Every time and date the app accepts lies in [EARLIEST, LATEST): far beyond any real entry on
# both sides, and well inside what datetime can convert between zones without overflowing.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)


def datetime_range_problem(value: datetime) -> str | None:
    """A message when an aware `value` is outside [EARLIEST, LATEST) (or cannot even be
    converted to UTC, as 0001-01-01T00:00+01:00 cannot); None when it is fine."""
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        return _("Enter a date and time between %(first)s and %(last)s.",
                 first=EARLIEST.year, last=LATEST.year - 1)
    return None


def date_range_problem(value: date) -> str | None:
    if not EARLIEST.date() <= value < LATEST.date():
        return _("Enter a date between %(first)s and %(last)s.",
                 first=EARLIEST.year, last=LATEST.year - 1)
    return None


def _sane_datetime(value: datetime) -> datetime:
    problem = datetime_range_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _sane_date(value: date) -> date:
    problem = date_range_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# A timezone-aware instant between 2000 and 2100 (services add their own, narrower checks).
SaneDatetime = Annotated[AwareDatetime, AfterValidator(_sane_datetime)]
# A calendar date between 2000 and 2100.
SaneDate = Annotated[date, AfterValidator(_sane_date)]


# --- text and JSON that can be stored -----------------------------------------------------------

_UNSAVABLE = re.compile("[\x00\ud800-\udfff]")


def savable_text(value: str) -> bool:
    """False for text that is not valid Unicode (a lone surrogate, which no encoder will write
    and every later read of the row chokes on) or holds NUL (PostgreSQL cannot store it)."""
    return _UNSAVABLE.search(value) is None


def printable(text: str, *, limit: int | None = None) -> str:
    """`text` safe to echo in a message: control characters and lone surrogates become U+FFFD,
    and it is cut at `limit` characters."""
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return "".join(
        "\ufffd" if unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n" else ch
        for ch in text
    )


def json_problem(value: Any, *, max_depth: int, max_size: int,
                 depth: int = 1) -> tuple[str, str | None] | None:
    """Why a decoded JSON value cannot be stored, or None when it can.

    Returns (code, key): code is "unsavable_text" (see savable_text, in a string or a key),
    "not_finite" (NaN or infinity, which JSON columns refuse), "too_deep" (objects and arrays
    nested more than `max_depth`, counting `value` itself as level `depth`) or "too_large"
    (more than about `max_size` characters as JSON); key is the top-level key of `value` under
    which the problem was found (None when `value` is not an object). Iterative, so any depth
    is safe to inspect.
    """
    size = 0
    stack: list[tuple[Any, int, str | None]] = [(value, depth, None)]
    while stack:
        node, level, top = stack.pop()
        if isinstance(node, str):
            size += len(node) + 2
            if not savable_text(node):
                return "unsavable_text", top
        elif isinstance(node, float) and not math.isfinite(node):
            return "not_finite", top
        elif isinstance(node, dict | list | tuple):
            if level > max_depth:
                return "too_deep", top
            size += 2
            pairs = node.items() if isinstance(node, dict) else ((None, v) for v in node)
            for key, child in pairs:
                child_top = top
                if key is not None:
                    key = str(key)
                    child_top = key if level == depth else top
                    size += len(key) + 4
                    if not savable_text(key):
                        return "unsavable_text", child_top
                stack.append((child, level + 1, child_top))
                if size > max_size:
                    return "too_large", child_top
        else:
            size += 8  # a number, true, false or null
        if size > max_size:
            return "too_large", top
    return None
