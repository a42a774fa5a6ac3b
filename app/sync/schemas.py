"""The shape of POST /api/v1/sync's answer, for /openapi.json: what the outbox may rely on.

Each item's result is built as a plain dict by its kind's handler (app/doses/sync.py,
app/checkins/sync.py) or by app/sync/service.py when the item is refused; this model describes
them in the schema only. The result does not repeat the item's kind, so the fields are one flat
list, each saying which kinds give it. tests/sync/test_sync_schema.py holds real results of
every kind and outcome to it strictly, so a field added to a handler must be declared here.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.doses.models import DoseStatus
from app.doses.rules import Verdict
from app.doses.schemas import DECIMAL, Reason


class SyncResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The item's own client id (a UUID), as sent.")
    status: Literal["created", "duplicate", "rejected"] = Field(
        description="`created`: written now. `duplicate`: this id was written before with the "
                    "same content; nothing written, and the first answer's fields come back. "
                    "`rejected`: nothing written; `detail` says why, and the phone shows it.")
    # Why an item was refused.
    detail: str | None = Field(None, description="Rejected: why, in the writer's language.")
    code: str | None = Field(
        None, description="Rejected for the item itself rather than the record: invalid_item, "
                          "unknown_kind, not_yours, not_supporting, id_conflict, "
                          "unsavable_text, not_finite, too_deep, too_large.")
    errors: dict[str, str] | None = Field(
        None, description="Rejected: a message per field (`recorded_at`, a data field, …).")
    overridable: bool | None = Field(
        None, description="A dose refused by a guard rule: whether a signed override with a "
                          "reason may record it anyway (never for a blood-pressure emergency).")
    same_as_logged: str | None = Field(
        None, description="A refused dose of the same amount as one already logged within 15 "
                          "minutes of it (most likely that dose entered twice): the words "
                          "saying so, which also open `detail`.")
    # What a created item came to (and a duplicate repeats).
    reasons: list[Reason] | None = Field(
        None, description="gate: what the safety check found; a refused dose: the rules it "
                          "broke.")
    verdict: Verdict | None = Field(
        None, description="gate: the server's verdict.")
    offline_verdict: Verdict | None = Field(
        None, description="gate: the verdict the phone reached offline, as sent (a "
                          "disagreement is recorded and flagged).")
    flags: list[str] | None = Field(
        None, description="dose, dose_revision, ledger_fill, ledger_count, checkin, "
                          "sitter_checkin: what the entry was flagged for "
                          "(against_hold, late_entry, discrepancy, severe_side_effect, …).")
    troches: str | None = Field(None, description=f"dose: troches taken. {DECIMAL}")
    dose_id: str | None = Field(
        None, description="dose_revision, dose_entered_in_error: the dose corrected; "
                          "sitter_checkin: the session's dose, null while none is logged.")
    revision: int | None = Field(
        None, description="dose_revision, dose_entered_in_error: the dose's revision now.")
    dose_status: DoseStatus | None = Field(
        None, description="dose_entered_in_error: the dose's status now.")
    expected: str | None = Field(
        None, description=f"ledger_count: troches the record expected on hand. {DECIMAL}")
    difference: str | None = Field(
        None, description=f"ledger_count: counted minus expected. {DECIMAL}")
    score: int | None = Field(None, description="questionnaire: the total score.")
    band: str | None = Field(None, description="questionnaire: the score's severity band.")
    follow_up: str | None = Field(
        None, description="questionnaire: the instrument to ask next (`cssrs` after a PHQ-9 "
                          "whose item 9 is not 0), or null.")
    version: str | None = Field(
        None, description="questionnaire: the wording answered, where an instrument has more "
                          "than one.")
    risk: str | None = Field(None, description="questionnaire (C-SSRS): the risk level.")
    crisis: bool | None = Field(
        None, description="questionnaire (C-SSRS): true when the answers call for crisis "
                          "resources now; the phone shows them.")
    slot: str | None = Field(None, description="sitter_checkin: which of the session's "
                                               "entries this was.")


class SyncResponse(BaseModel):
    results: list[SyncResult] = Field(description="One per item, in the order sent.")
    # The server's time once the items are committed. The phone keeps what it sent until a
    # Today snapshot made after this says the server has it (static/offline.js, unseenSent):
    # the snapshot's `now` is taken before it reads, so one made later has seen these writes.
    answered_at: datetime
