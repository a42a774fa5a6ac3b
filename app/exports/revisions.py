"""A dose's correction in words, field by field, as the PDF and the FHIR export both say it:
"Amount: 150 mg → 100 mg; Time taken: … → …"."""

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.doses.corrections import RevisionView
from app.i18n import gettext as _
from app.web.formats import format_number


def change_words(name: str, before: Any, after: Any, at_words: Callable[[datetime], str]) -> str:
    """One corrected field as "Amount: 150 mg → 100 mg"; times by `at_words` (the PDF's
    clock, the FHIR export's ISO 8601 with the patient's offset)."""
    def one(v: Any) -> str:
        if v is None:
            return "—"
        if name == "taken_at":
            try:
                return at_words(datetime.fromisoformat(str(v)))
            except ValueError:
                return str(v)
        if name == "dose_mg":
            try:
                return f"{format_number(Decimal(str(v)))} mg"
            except ArithmeticError:
                return str(v)
        if name == "status":
            return {"recorded": _("recorded"),
                    "entered_in_error": _("entered in error")}.get(str(v), str(v))
        return str(v)
    label = {"dose_mg": _("Amount"), "taken_at": _("Time taken"), "lot": _("Lot"),
             "rx_number": _("Rx number"), "status": _("Status")}.get(name, name)
    return f"{label}: {one(before)} → {one(after)}"


def revision_words(revision: RevisionView, at_words: Callable[[datetime], str]) -> str:
    """Every field one correction changed, "; " between them."""
    return "; ".join(change_words(name, c["before"], c["after"], at_words)
                     for name, c in revision.changes.items())
